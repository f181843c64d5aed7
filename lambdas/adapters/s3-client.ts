import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export interface S3Options {
  /** S3-compatible endpoint (MinIO, Ceph, a local server); unset for AWS. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style addressing; on by default whenever an endpoint is given. */
  readonly forcePathStyle?: boolean;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  readonly maxAttempts?: number;
}

export function makeS3Client(o: S3Options = {}): S3Client {
  const config: S3ClientConfig = {
    region: o.region ?? process.env.AWS_REGION ?? 'us-east-1',
    maxAttempts: o.maxAttempts ?? 5,
  };
  if (o.endpoint) {
    config.endpoint = o.endpoint;
    config.forcePathStyle = o.forcePathStyle ?? true;
    // S3-compatible servers mishandle the SDK's default flexible checksums (streamed bodies get
    // stored with chunk framing), so only send them where an operation requires one.
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  if (o.credentials) config.credentials = o.credentials;
  return new S3Client(config);
}
