import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { PriceOverrides } from '../lambdas/core/cost';
import type { LayoutKind } from '../lambdas/core/partitions';
import type { Compression } from '../lambdas/core/settings';
import type { GlueColumn } from './compaction-catalog';
import type { CompactionLake } from './compaction-lake';
import type { SystemRetentionDays, TableTiering, TieringDays } from './table-lifecycle-rules';

export const DEFAULT_PARTITION_KEYS: readonly GlueColumn[] = [
  { name: 'dt', type: 'string' },
  { name: 'hour', type: 'string' },
];

export interface CompactionPipelineProps {
  /** Glue table name, also the default landing and gold prefix: lowercase letters, digits, `_`. */
  readonly tableName: string;
  /**
   * Data columns of the table (Hive types). Required when the table is created here.
   * @default none; the table must exist (`createTable: false`)
   */
  readonly columns?: readonly GlueColumn[];
  /**
   * Partition keys in path order, e.g. `dt=2024-12-19/hour=07/`.
   * @default dt string, hour string
   */
  readonly partitionKeys?: readonly GlueColumn[];
  /**
   * Buckets and Glue database shared with other tables, created once (see CompactionLake). The
   * lake then decides `landingBucket`, `goldBucket`, `databaseName`, `createDatabase`,
   * `encryption` and `encryptionKey`: set them on the lake, not here.
   * @default this pipeline creates its own buckets and database
   */
  readonly lake?: CompactionLake;
  /**
   * Glue database holding the table.
   * @default 'compactor'
   */
  readonly databaseName?: string;
  /**
   * Create the Glue database (false: it already exists). Two pipelines in one stack cannot both
   * create the same database: share a CompactionLake instead.
   * @default true
   */
  readonly createDatabase?: boolean;
  /**
   * Create the Glue table (false: it already exists, and `columns` is not needed).
   * @default true
   */
  readonly createTable?: boolean;
  /**
   * Parameters of the existing Glue table (`createTable: false`), as its definition sets them.
   * Checked here: a table with partition projection (`projection.enabled`) cannot follow the
   * partition locations this pipeline commits, and is rejected. The swap step checks the table
   * itself too, at run time.
   * @default not checked at synth time
   */
  readonly existingTableParameters?: Readonly<Record<string, string>>;
  /**
   * Bucket the small files land in. Existing buckets get no lifecycle rules from this construct.
   * A bucket encrypted with a customer key works when the key is its `encryptionKey`
   * (`s3.Bucket.fromBucketAttributes({ bucketName, encryptionKey })`): the functions get grants on it.
   * @default a new bucket (public access blocked, TLS only, SSE-S3, access logs, abort-multipart rule)
   */
  readonly landingBucket?: s3.IBucket;
  /**
   * Bucket for the compacted Parquet files and the pipeline's own objects under `_compactor/`.
   * Existing buckets get no lifecycle rules: add this pipeline's `lifecycleRules` to yours. A
   * customer key is used as for `landingBucket`.
   * @default a new bucket (as the landing bucket, plus this table's tiering and retention rules)
   */
  readonly goldBucket?: s3.IBucket;
  /**
   * Encryption of the buckets created here: `S3_MANAGED` (SSE-S3) or `KMS` (a customer key, S3
   * Bucket Keys on; producers writing to landing need `kms:GenerateDataKey` on it).
   * @default s3.BucketEncryption.S3_MANAGED, or KMS when `encryptionKey` is given
   */
  readonly encryption?: s3.BucketEncryption;
  /**
   * Customer key of the buckets created here.
   * @default a new key with yearly rotation, when `encryption` is KMS
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Prefix of the table's small files in the landing bucket; ends with `/`.
   * @default `<tableName>/`
   */
  readonly landingPrefix?: string;
  /**
   * Prefix of the table's compacted data in the gold bucket (the Glue table location); ends with `/`.
   * @default `<tableName>/`
   */
  readonly goldPrefix?: string;
  /**
   * Target size of one output Parquet file, in MB (64-1024). A run may override it.
   * @default 512
   */
  readonly targetFileMb?: number;
  /**
   * Objects one bin may hold at most (1-MAX_BIN_OBJECTS_LIMIT), so that a bin of tiny files
   * finishes well inside the compact function's 15-minute timeout; a partition with more objects
   * is planned into several bins. Derived from the measured per-object and per-byte costs
   * (lambdas/core/bin-budget.ts); lower it where objects are slower to fetch.
   * @default 200000
   */
  readonly maxBinObjects?: number;
  /**
   * Parquet compression codec.
   * @default 'snappy'
   */
  readonly compression?: Compression;
  /**
   * Columns to sort each output file by (better min/max pruning).
   * @default no sort
   */
  readonly sortBy?: readonly string[];
  /**
   * When runs start.
   * @default events.Schedule.rate(Duration.hours(1))
   */
  readonly schedule?: events.Schedule;
  /**
   * Bins compacted at the same time (Distributed Map MaxConcurrency, 1-1000).
   * @default 10
   */
  readonly maxConcurrency?: number;
  /**
   * Percentage of bins that may fail without failing the run (their partitions stay as they were).
   * @default 10
   */
  readonly toleratedFailurePercentage?: number;
  /**
   * Days a retired object (compacted source, superseded version) stays readable after the catalog
   * stopped needing it.
   * @default 3
   */
  readonly graceDays?: number;
  /**
   * Minutes after the end of a partition's time window (from `dt`/`hour` or `year`/`month`/`day`/`hour`)
   * before it is compacted, so partitions still receiving data are left alone (0: no wait).
   * @default 60
   */
  readonly quietPeriodMinutes?: number;
  /**
   * How producers lay out landing keys: `hive` (`k=v/` segments, as Kafka Connect's partitioners
   * write them) or `firehose` (`YYYY/MM/DD/HH/`, mapped to partition keys dt,hour or year,month,day,hour).
   * @default 'hive'
   */
  readonly layout?: LayoutKind;
  /**
   * Storage-class transitions of the gold table data, by age (only on a gold bucket created here
   * or by the lake). Only the classes named are used: `{ intelligentTiering: 0 }` for
   * Intelligent-Tiering; GLACIER_IR or DEEP_ARCHIVE only when named. `false`: none, the data
   * stays in S3 Standard.
   * @default { infrequentAccess: 30 }: STANDARD_IA after 30 days, read directly by every engine
   */
  readonly tiering?: TableTiering | false;
  /**
   * Tiering with each field defaulting to 30 days STANDARD_IA, 90 days GLACIER_IR, 365 days
   * DEEP_ARCHIVE (what earlier versions did without it).
   * @deprecated use `tiering`: DEEP_ARCHIVE makes partitions unreadable by Athena and Spark
   * @default not used; `tiering` decides
   */
  readonly tieringDays?: TieringDays;
  /**
   * Days the pipeline's own objects of this table are kept (only on a gold bucket created here or
   * by the lake): plans, Map results, manifests of retired versions, run reports, quarantine.
   * Partition state, the lease and the manifests of current and superseded versions never expire.
   * `false`: nothing expires.
   * @default DEFAULT_SYSTEM_RETENTION_DAYS: 30 (plans, Map results), 90 (retired manifests, run reports), 365 (quarantine)
   */
  readonly systemRetentionDays?: SystemRetentionDays | false;
  /**
   * Memory of the compact function in MB (1024-10240); DuckDB gets 60% of it.
   * @default 4096
   */
  readonly compactMemoryMb?: number;
  /**
   * Node.js runtime of the four functions (x86_64). The handlers use only Node-API modules
   * (DuckDB), so any current Node.js runtime works; nodejs20.x is deprecated since 2026-04-30.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Retention of the functions' and the state machine's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Removal policy of the data resources (created buckets, Glue database and table, log groups).
   * DESTROY is only accepted when the context flag `compactor:destroyData` is true, and that
   * flag alone switches the default to DESTROY.
   * @default RemovalPolicy.RETAIN, or DESTROY with `-c compactor:destroyData=true`
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * SNS topic the alarms notify (on alarm and back to OK), e.g. one your pager subscribes to.
   * @default a new topic (TLS-only publishing; subscribe to it after deploy)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Alarm when the oldest landing object no committed version holds is older than this (whole hours).
   * @default Duration.hours(6)
   */
  readonly backlogAgeAlarm?: Duration;
  /**
   * Alarm when no run has planned for this long (whole hours, 1-168): schedule off, every run
   * failing before its plan, or one run holding the table. Set it above the schedule's interval.
   * @default Duration.hours(6)
   */
  readonly noRunAlarm?: Duration;
  /**
   * A run still going after this is stopped, and the ExecutionsTimedOut alarm fires; the next run
   * reuses the bins it finished. Whole hours, 1-8760.
   * @default Duration.hours(24), the run lease's expiry
   */
  readonly runTimeout?: Duration;
  /**
   * Prices of the run estimates and reports (any subset; USD).
   * @default us-east-1 list prices (S3 Standard requests, Lambda x86, Step Functions Standard)
   */
  readonly prices?: PriceOverrides;
}
