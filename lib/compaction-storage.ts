import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { mapResultsPrefix, plansPrefix, retiredManifestsPrefix, reportPrefix, tableQuarantinePrefix } from '../lambdas/core/keys';

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

/**
 * Days after creation at which compacted table data moves to another storage class. Only the
 * classes named are used, in this order: STANDARD_IA or INTELLIGENT_TIERING, then GLACIER_IR,
 * then DEEP_ARCHIVE.
 */
export interface TableTiering {
  /**
   * Days until STANDARD_IA (S3 requires at least 30). Read directly by every engine; each GB read
   * costs a retrieval fee.
   * @default no transition
   */
  readonly infrequentAccess?: number;
  /**
   * Days until INTELLIGENT_TIERING (0: at once). S3 moves each object between access tiers by its
   * own reads, without retrieval fees; every tier it uses is read directly by every engine.
   * @default no transition
   */
  readonly intelligentTiering?: number;
  /**
   * Days until GLACIER_IR: still read directly (milliseconds), at a higher retrieval fee and a
   * 90-day minimum storage charge. Opt-in.
   * @default no transition
   */
  readonly glacierInstantRetrieval?: number;
  /**
   * Days until DEEP_ARCHIVE. Objects there must be restored (hours) before Athena or Spark can
   * read them: queries on those partitions fail until then. Opt-in.
   * @default no transition
   */
  readonly deepArchive?: number;
}

/** Queryable by every engine: STANDARD_IA after 30 days, nothing colder. */
export const DEFAULT_TABLE_TIERING: TableTiering = { infrequentAccess: 30 };

/**
 * The deprecated `tieringDays` prop: each field defaults to its value here.
 * @deprecated use {@link TableTiering} (only the classes named are used)
 */
export interface TieringDays {
  /** @default 30 */
  readonly infrequentAccess?: number;
  /** @default 90 */
  readonly glacierInstantRetrieval?: number;
  /** @default 365 */
  readonly deepArchive?: number;
}

/** What `tieringDays` fields default to (the tiering of earlier versions, DEEP_ARCHIVE included). */
export const LEGACY_TIERING_DAYS: Required<TieringDays> = {
  infrequentAccess: 30,
  glacierInstantRetrieval: 90,
  deepArchive: 365,
};

/**
 * Days the pipeline's own objects of one table are kept, counted from their creation (a retired
 * manifest: from its version's retirement). Partition state, the run lease, output ratios and the
 * manifests of current and superseded versions never expire.
 */
export interface SystemRetentionDays {
  /**
   * Plans (bin specs, items lists) under `_compactor/<table>/plans/`. At least 14: Step Functions
   * redrives a failed execution for up to 14 days, and the redriven run reads its plan.
   * @default 30
   */
  readonly plans?: number;
  /**
   * The Distributed Map's result files under `_compactor/<table>/results/`.
   * @default 30
   */
  readonly mapResults?: number;
  /**
   * Manifests of retired versions (their files deleted) under `_compactor/<table>/retired/`.
   * @default 90
   */
  readonly retiredManifests?: number;
  /**
   * Run reports under `_compactor/<table>/reports/`.
   * @default 90
   */
  readonly runReports?: number;
  /**
   * Set-aside records under `quarantine/<table>/`: the only copy of records the table lacks, so
   * they are kept longest.
   * @default 365
   */
  readonly quarantine?: number;
}

export const DEFAULT_SYSTEM_RETENTION_DAYS: Required<SystemRetentionDays> = {
  plans: 30,
  mapResults: 30,
  retiredManifests: 90,
  runReports: 90,
  quarantine: 365,
};

/** S3 order of the storage classes a table may move through (a lifecycle rule only goes down). */
const TIERS = [
  ['infrequentAccess', s3.StorageClass.INFREQUENT_ACCESS],
  ['intelligentTiering', s3.StorageClass.INTELLIGENT_TIERING],
  ['glacierInstantRetrieval', s3.StorageClass.GLACIER_INSTANT_RETRIEVAL],
  ['deepArchive', s3.StorageClass.DEEP_ARCHIVE],
] as const;

const MAX_DAYS = 36500;
const isDays = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min && (v as number) <= MAX_DAYS;

/** Problems of a tiering (`what` names the prop in messages), each saying how to fix it. */
export function tieringProblems(what: string, t: TableTiering): string[] {
  const problems: string[] = [];
  const known = new Set<string>(TIERS.map(([name]) => name));
  for (const name of Object.keys(t)) if (!known.has(name)) problems.push(`${what}.${name} is not a storage class of the table data; use ${[...known].join(', ')}`);
  let previous: { name: string; days: number } | undefined;
  for (const [name] of TIERS) {
    const days = t[name];
    if (days === undefined) continue;
    const min = name === 'infrequentAccess' ? 30 : 0;
    if (!isDays(days, min)) {
      problems.push(`${what}.${name} must be an integer from ${min} to ${MAX_DAYS}, got ${days}${name === 'infrequentAccess' ? ' (S3 moves objects to STANDARD_IA after 30 days at the earliest)' : ''}`);
      continue;
    }
    if (previous?.name === 'infrequentAccess' && days < previous.days + 30) {
      problems.push(`${what}.${name} (${days}) must be at least 30 days after infrequentAccess (${previous.days}): S3 keeps objects 30 days in STANDARD_IA`);
    } else if (previous && days <= previous.days) {
      problems.push(`${what}.${name} (${days}) must be later than ${previous.name} (${previous.days})`);
    }
    previous = { name, days };
  }
  return problems;
}

export function retentionProblems(what: string, r: SystemRetentionDays): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(r)) {
    if (!(name in DEFAULT_SYSTEM_RETENTION_DAYS)) problems.push(`${what}.${name} is not a kind of the pipeline's own objects; use ${Object.keys(DEFAULT_SYSTEM_RETENTION_DAYS).join(', ')}`);
  }
  for (const [name, days] of Object.entries({ ...DEFAULT_SYSTEM_RETENTION_DAYS, ...r })) {
    const min = name === 'plans' ? 14 : 1;
    if (!isDays(days, min)) {
      problems.push(`${what}.${name} must be an integer from ${min} to ${MAX_DAYS}, got ${days}${name === 'plans' ? ' (a failed execution can be redriven for 14 days, and it reads its plan)' : ''}`);
    }
  }
  return problems;
}

export interface TableRulesProps {
  readonly tableName: string;
  /** Prefix of the table's data in the gold bucket (ends with `/`): the tiering rule's scope. */
  readonly goldPrefix: string;
  /** `false`: no tiering rule. */
  readonly tiering: TableTiering | false;
  /** `false`: no expiry rules. */
  readonly retention: SystemRetentionDays | false;
}

/**
 * The gold bucket's lifecycle rules for one table: its data's tiering and the expiry of the
 * pipeline's own objects, each scoped to one prefix of this table (rule ids carry the table name,
 * so several tables share one bucket).
 */
export function tableLifecycleRules(props: TableRulesProps): s3.LifecycleRule[] {
  const t = props.tableName;
  const rules: s3.LifecycleRule[] = [];
  if (props.tiering) {
    const tiering = props.tiering;
    const transitions = TIERS.flatMap(([name, storageClass]) =>
      tiering[name] === undefined ? [] : [{ storageClass, transitionAfter: Duration.days(tiering[name]) }],
    );
    if (transitions.length) rules.push({ id: `TierTableData-${t}`, prefix: props.goldPrefix, transitions });
  }
  if (props.retention) {
    const days = { ...DEFAULT_SYSTEM_RETENTION_DAYS, ...props.retention };
    const expire = (id: string, prefix: string, n: number): s3.LifecycleRule => ({ id: `${id}-${t}`, prefix, expiration: Duration.days(n) });
    rules.push(
      expire('ExpirePlans', plansPrefix(t), days.plans),
      expire('ExpireMapResults', mapResultsPrefix(t), days.mapResults),
      expire('ExpireRetiredManifests', retiredManifestsPrefix(t), days.retiredManifests),
      expire('ExpireRunReports', reportPrefix(t), days.runReports),
      expire('ExpireQuarantine', tableQuarantinePrefix(t), days.quarantine),
    );
  }
  return rules;
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
