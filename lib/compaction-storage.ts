import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** Days after creation at which compacted table data moves to a colder storage class. */
export interface TieringDays {
  /**
   * Days until STANDARD_IA (S3 requires at least 30).
   * @default 30
   */
  readonly infrequentAccess?: number;
  /**
   * Days until GLACIER_IR (at least 30 after `infrequentAccess`).
   * @default 90
   */
  readonly glacierInstantRetrieval?: number;
  /**
   * Days until DEEP_ARCHIVE (after `glacierInstantRetrieval`). Objects there must be restored
   * before Athena or Spark can read them.
   * @default 365
   */
  readonly deepArchive?: number;
}

export const DEFAULT_TIERING_DAYS: Required<TieringDays> = {
  infrequentAccess: 30,
  glacierInstantRetrieval: 90,
  deepArchive: 365,
};

export interface CompactionStorageProps {
  /**
   * Bucket receiving the small files. Lifecycle rules are only added to buckets created here:
   * give an existing bucket the abort-multipart rule yourself. No rule expires data: the
   * lifecycle step retires it, after the grace period and only while it has its committed ETag.
   * @default a new bucket
   */
  readonly landingBucket?: s3.IBucket;
  /**
   * Bucket receiving the compacted Parquet files and the pipeline's own objects.
   * @default a new bucket
   */
  readonly goldBucket?: s3.IBucket;
  /** Prefix of the table's data in the gold bucket (ends with `/`): the tiering rule's scope. */
  readonly goldPrefix: string;
  /**
   * Storage class transitions of the gold table data.
   * @default DEFAULT_TIERING_DAYS (30, 90, 365)
   */
  readonly tieringDays?: TieringDays;
  /**
   * What happens to created buckets when the stack is deleted. DESTROY also empties them.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The buckets of one pipeline: landing, gold and the access-log bucket they log to. Created buckets
 * block public access, require TLS, use S3-managed encryption and log server access.
 */
export class CompactionStorage extends Construct {
  public readonly landingBucket: s3.IBucket;
  public readonly goldBucket: s3.IBucket;
  /** Created only when this construct creates the landing or the gold bucket. */
  public readonly accessLogsBucket?: s3.Bucket;

  constructor(scope: Construct, id: string, props: CompactionStorageProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const tiers = { ...DEFAULT_TIERING_DAYS, ...props.tieringDays };

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

    if (!props.landingBucket || !props.goldBucket) {
      this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', { ...secure, lifecycleRules: [abortUploads] });
    }
    const logged = (prefix: string) => ({ serverAccessLogsBucket: this.accessLogsBucket, serverAccessLogsPrefix: prefix });

    this.landingBucket =
      props.landingBucket ??
      new s3.Bucket(this, 'Landing', { ...secure, ...logged('landing/'), lifecycleRules: [abortUploads] });

    this.goldBucket =
      props.goldBucket ??
      new s3.Bucket(this, 'Gold', {
        ...secure,
        ...logged('gold/'),
        lifecycleRules: [
          abortUploads,
          {
            id: 'TierTableData',
            prefix: props.goldPrefix,
            transitions: [
              { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(tiers.infrequentAccess) },
              { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(tiers.glacierInstantRetrieval) },
              { storageClass: s3.StorageClass.DEEP_ARCHIVE, transitionAfter: Duration.days(tiers.deepArchive) },
            ],
          },
        ],
      });
  }
}
