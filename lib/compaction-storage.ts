import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/**
 * CDK context flag that allows `RemovalPolicy.DESTROY` (buckets emptied and deleted, Glue
 * database and table, log groups deleted with the stack): `cdk deploy -c compactor:destroyData=true`.
 * Without it, data resources are always retained.
 */
export const DESTROY_DATA_CONTEXT = 'compactor:destroyData';

/** Server access logs delivered through a bucket policy instead of the legacy ACL (set on the creating scope). */
export const SERVER_ACCESS_LOGS_FLAG = '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy';

/**
 * The removal policy of data resources under `scope`: the given one, or DESTROY only with the
 * {@link DESTROY_DATA_CONTEXT} flag; `problem` says why a given DESTROY is refused.
 */
export function dataRemovalPolicy(scope: Construct, given: RemovalPolicy | undefined): { policy: RemovalPolicy; problem?: string } {
  const flag: unknown = scope.node.tryGetContext(DESTROY_DATA_CONTEXT);
  const destroyAllowed = flag === true || flag === 'true';
  if (given === RemovalPolicy.DESTROY && !destroyAllowed) {
    return {
      policy: RemovalPolicy.RETAIN,
      problem: `removalPolicy DESTROY deletes data: it needs the context flag ${DESTROY_DATA_CONTEXT}=true (cdk deploy -c ${DESTROY_DATA_CONTEXT}=true)`,
    };
  }
  return { policy: given ?? (destroyAllowed ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN) };
}


export interface CompactionStorageProps {
  /**
   * Bucket receiving the small files. Lifecycle rules are only added to buckets created here:
   * give an existing bucket the abort-multipart rule yourself. No rule expires data: the
   * lifecycle step retires it, after the grace period and only while it has its committed ETag.
   * @default a new bucket
   */
  readonly landingBucket?: s3.IBucket;
  /**
   * Bucket receiving the compacted Parquet files and the pipeline's own objects. Lifecycle rules
   * are only added to a bucket created here: add the tables' `lifecycleRules` to your own.
   * @default a new bucket
   */
  readonly goldBucket?: s3.IBucket;
  /**
   * Encryption of the buckets created here: `S3_MANAGED` (SSE-S3) or `KMS` (a customer key,
   * S3 Bucket Keys on). The access-log bucket always uses SSE-S3: S3 cannot deliver server
   * access logs to a bucket encrypted with a KMS key.
   * @default s3.BucketEncryption.S3_MANAGED, or KMS when `encryptionKey` is given
   */
  readonly encryption?: s3.BucketEncryption;
  /**
   * Customer key of the buckets created here (with `encryption: KMS`).
   * @default a new key with yearly rotation, when `encryption` is KMS
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to created buckets (and a created key) when the stack is deleted. DESTROY also
   * empties the buckets.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Problems of the encryption props, each saying how to fix it. */
export function encryptionProblems(props: Pick<CompactionStorageProps, 'encryption' | 'encryptionKey' | 'landingBucket' | 'goldBucket'>): string[] {
  const problems: string[] = [];
  const { encryption, encryptionKey } = props;
  if (encryption !== undefined && encryption !== s3.BucketEncryption.S3_MANAGED && encryption !== s3.BucketEncryption.KMS) {
    problems.push(`encryption must be BucketEncryption.S3_MANAGED or BucketEncryption.KMS (a customer key, created with rotation unless encryptionKey is given), got ${encryption}`);
  }
  if (encryptionKey && encryption === s3.BucketEncryption.S3_MANAGED) {
    problems.push('encryptionKey is given but encryption is S3_MANAGED: use BucketEncryption.KMS, or leave encryption unset');
  }
  if ((encryption !== undefined || encryptionKey) && props.landingBucket && props.goldBucket) {
    problems.push('encryption and encryptionKey apply to buckets created here, and both buckets are given: give their keys as the buckets\' encryptionKey (s3.Bucket.fromBucketAttributes) instead');
  }
  return problems;
}

/**
 * The buckets of one pipeline or lake: landing, gold and the access-log bucket they log to.
 * Created buckets block public access, require TLS, are encrypted (SSE-S3, or a customer key) and
 * log server access.
 */
export class CompactionStorage extends Construct {
  public readonly landingBucket: s3.IBucket;
  public readonly goldBucket: s3.IBucket;
  /** Created only when this construct creates the landing or the gold bucket. */
  public readonly accessLogsBucket?: s3.Bucket;
  /** The customer key of the buckets created here, when they use one. */
  public readonly encryptionKey?: kms.IKey;
  /** The gold bucket when created here: the only one that tables add their lifecycle rules to. */
  private readonly createdGold?: s3.Bucket;

  constructor(scope: Construct, id: string, props: CompactionStorageProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const creates = !props.landingBucket || !props.goldBucket;
    if (creates && (props.encryption === s3.BucketEncryption.KMS || props.encryptionKey)) {
      this.encryptionKey =
        props.encryptionKey ??
        new kms.Key(this, 'Key', {
          description: 'Encrypts the landing and gold buckets of the S3 compactor',
          enableKeyRotation: true,
          removalPolicy,
        });
    }

    const abortUploads: s3.LifecycleRule = { id: 'AbortIncompleteMultipartUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) };
    const secure = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    } satisfies s3.BucketProps;
    const encrypted = this.encryptionKey
      ? ({ ...secure, encryption: s3.BucketEncryption.KMS, encryptionKey: this.encryptionKey, bucketKeyEnabled: true } satisfies s3.BucketProps)
      : secure;

    if (creates) {
      this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', { ...secure, lifecycleRules: [abortUploads] });
    }
    const logged = (prefix: string) => ({ serverAccessLogsBucket: this.accessLogsBucket, serverAccessLogsPrefix: prefix });

    this.landingBucket =
      props.landingBucket ??
      new s3.Bucket(this, 'Landing', { ...encrypted, ...logged('landing/'), lifecycleRules: [abortUploads] });

    if (!props.goldBucket) this.createdGold = new s3.Bucket(this, 'Gold', { ...encrypted, ...logged('gold/'), lifecycleRules: [abortUploads] });
    this.goldBucket = props.goldBucket ?? this.createdGold!;
  }

  /** Adds a table's rules to the gold bucket if it was created here; false for a given bucket. */
  public addTableRules(rules: readonly s3.LifecycleRule[]): boolean {
    if (!this.createdGold) return false;
    for (const r of rules) this.createdGold.addLifecycleRule(r);
    return true;
  }
}
