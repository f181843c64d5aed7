import { Annotations, ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { RunRequest } from '../lambdas/core/contracts';
import { LEASE_TTL_MS } from '../lambdas/core/lease';
import { pricesWith, type PriceOverrides, type PriceTable } from '../lambdas/core/cost';
import { QUARANTINE_PREFIX, reportPrefix, SYSTEM_PREFIX, tableQuarantinePrefix } from '../lambdas/core/keys';
import { StackOutputs, stackOutputKey, type StackOutputName } from '../lambdas/core/outputs';
import type { LayoutKind } from '../lambdas/core/partitions';
import { partitionProjectionEnabled, partitionProjectionProblem } from '../lambdas/core/projection';
import type { Compression } from '../lambdas/core/settings';
import { GRACE_DAYS, TARGET_FILE_MB } from '../lambdas/core/units';
import { CompactionCatalog, type GlueColumn } from './compaction-catalog';
import { CompactionFunctions } from './compaction-functions';
import type { CompactionLake } from './compaction-lake';
import {
  CompactionStorage,
  dataRemovalPolicy,
  DEFAULT_TABLE_TIERING,
  DESTROY_DATA_CONTEXT,
  encryptionProblems,
  LEGACY_TIERING_DAYS,
  retentionProblems,
  SERVER_ACCESS_LOGS_FLAG,
  tableLifecycleRules,
  tieringProblems,
  type SystemRetentionDays,
  type TableTiering,
  type TieringDays,
} from './compaction-storage';
import { CompactionMonitoring } from './compaction-monitoring';
import { CompactionWorkflow } from './compaction-workflow';
import { DEFAULT_MAX_BIN_OBJECTS, MAX_BIN_OBJECTS_LIMIT } from '../lambdas/core/bin-budget';

export { DESTROY_DATA_CONTEXT };

/** Feature flags this construct relies on, set on its own scope only (see constructor). */
const REQUIRED_FEATURE_FLAGS: Record<string, boolean> = {
  // Without it the Map's ResultWriter is dropped from the definition.
  '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true,
  [SERVER_ACCESS_LOGS_FLAG]: true,
};

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

const IDENT = /^[a-z_][a-z0-9_]*$/;

/** Every invalid prop, each saying how to fix it. */
function validate(props: CompactionPipelineProps): string[] {
  const problems: string[] = [];
  const int = (name: string, v: number | undefined, min: number, max: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) problems.push(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  };
  const prefix = (name: string, v: string | undefined) => {
    if (v === undefined) return;
    if (v === '' || !v.endsWith('/') || v.startsWith('/')) problems.push(`${name} must be a non-empty key prefix ending with "/" and not starting with "/", e.g. "${props.tableName}/"; got "${v}"`);
    else if (v.startsWith(SYSTEM_PREFIX)) problems.push(`${name} must not start with "${SYSTEM_PREFIX}" (reserved for the pipeline's own objects); got "${v}"`);
    else if (name === 'goldPrefix' && v.startsWith(QUARANTINE_PREFIX)) problems.push(`goldPrefix must not start with "${QUARANTINE_PREFIX}" (reserved for set-aside records, which expire); got "${v}"`);
  };

  if (!IDENT.test(props.tableName ?? '')) {
    problems.push(`tableName must be lowercase letters, digits and "_" (Glue lowercases names; it is also an S3 prefix), got "${props.tableName}"`);
  }
  if (props.databaseName !== undefined && !IDENT.test(props.databaseName)) {
    problems.push(`databaseName must be lowercase letters, digits and "_", got "${props.databaseName}"`);
  }
  prefix('landingPrefix', props.landingPrefix);
  prefix('goldPrefix', props.goldPrefix);
  const landingBucket = props.lake?.landingBucket ?? props.landingBucket;
  if (landingBucket && landingBucket === (props.lake?.goldBucket ?? props.goldBucket)) {
    const l = props.landingPrefix ?? `${props.tableName}/`;
    const g = props.goldPrefix ?? `${props.tableName}/`;
    if (l.startsWith(g) || g.startsWith(l)) problems.push(`landing and gold share one bucket, so landingPrefix "${l}" and goldPrefix "${g}" must not contain each other`);
  }

  const keys = props.partitionKeys ?? DEFAULT_PARTITION_KEYS;
  if (!keys.length) problems.push('partitionKeys must name at least one key (the landing layout is key=value/...)');
  const columns = props.columns ?? [];
  if ((props.createTable ?? true) && !columns.length) {
    problems.push('columns are required when the construct creates the Glue table; pass columns, or createTable: false for an existing table');
  }
  const seen = new Set<string>();
  for (const [what, list] of [['partitionKeys', keys], ['columns', columns]] as const) {
    for (const c of list) {
      if (!IDENT.test(c.name)) problems.push(`${what}: "${c.name}" must be lowercase letters, digits and "_"`);
      if (!c.type?.trim()) problems.push(`${what}: "${c.name}" needs a Hive type such as string, bigint, double, timestamp`);
      if (seen.has(c.name)) problems.push(`${what}: "${c.name}" is defined twice (partition keys are not data columns)`);
      seen.add(c.name);
    }
  }
  for (const s of props.sortBy ?? []) {
    if (!columns.some((c) => c.name === s) && columns.length) problems.push(`sortBy: "${s}" is not one of the columns ${columns.map((c) => c.name).join(', ')}`);
    else if (!IDENT.test(s)) problems.push(`sortBy: "${s}" must be a plain column name`);
  }

  int('targetFileMb', props.targetFileMb, TARGET_FILE_MB.min, TARGET_FILE_MB.max);
  int('maxBinObjects', props.maxBinObjects, 1, MAX_BIN_OBJECTS_LIMIT);
  if (props.compression !== undefined && props.compression !== 'snappy' && props.compression !== 'zstd') {
    problems.push(`compression must be "snappy" or "zstd", got "${String(props.compression)}"`);
  }
  int('maxConcurrency', props.maxConcurrency, 1, 1000);
  int('toleratedFailurePercentage', props.toleratedFailurePercentage, 0, 100);
  int('graceDays', props.graceDays, GRACE_DAYS.min, GRACE_DAYS.max);
  int('quietPeriodMinutes', props.quietPeriodMinutes, 0, 100_000);
  int('compactMemoryMb', props.compactMemoryMb, 1024, 10240);
  const wholeHours = (name: string, d: Duration | undefined, max: number) => {
    if (d === undefined) return;
    const h = d.toHours({ integral: false });
    if (!(Number.isInteger(h) && h >= 1 && h <= max)) problems.push(`${name} must be whole hours from 1 to ${max}, got ${d.toHumanString()}`);
  };
  wholeHours('backlogAgeAlarm', props.backlogAgeAlarm, 24 * 365);
  wholeHours('noRunAlarm', props.noRunAlarm, 168);
  wholeHours('runTimeout', props.runTimeout, 24 * 365);
  try {
    pricesWith(props.prices);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (props.runtime && props.runtime.family !== lambda.RuntimeFamily.NODEJS) {
    problems.push(`runtime must be a Node.js runtime (the handlers are TypeScript bundled by esbuild), got ${props.runtime.name}`);
  }

  if (props.tiering !== undefined && props.tieringDays !== undefined) {
    problems.push('tiering and tieringDays are both set: keep tiering (tieringDays is deprecated)');
  } else if (props.tieringDays !== undefined) {
    problems.push(...tieringProblems('tieringDays', { ...LEGACY_TIERING_DAYS, ...props.tieringDays }));
  } else if (props.tiering) {
    problems.push(...tieringProblems('tiering', props.tiering));
  }
  if (props.systemRetentionDays) problems.push(...retentionProblems('systemRetentionDays', props.systemRetentionDays));

  if (props.lake) {
    for (const name of ['landingBucket', 'goldBucket', 'databaseName', 'createDatabase', 'encryption', 'encryptionKey'] as const) {
      if (props[name] !== undefined) problems.push(`${name} is the lake's when a lake is given: set it on the CompactionLake ${props.lake.node.path}, not on the pipeline`);
    }
  } else {
    problems.push(...encryptionProblems(props));
  }
  if (props.existingTableParameters !== undefined) {
    if (props.createTable ?? true) problems.push('existingTableParameters describes a table that already exists: it needs createTable: false');
    if (partitionProjectionEnabled(props.existingTableParameters)) problems.push(`existingTableParameters: ${partitionProjectionProblem('the existing table')}`);
  }
  return problems;
}

/**
 * Compacts the small files of one table in a landing bucket into large Parquet files in a gold
 * bucket, on a schedule: S3 buckets, a Glue table, five Lambdas, a Step Functions workflow, and its
 * dashboard and alarms.
 */
export class CompactionPipeline extends Construct {
  public readonly tableName: string;
  public readonly databaseName: string;
  public readonly landingBucket: s3.IBucket;
  public readonly goldBucket: s3.IBucket;
  /** Only when this construct created a bucket. */
  public readonly accessLogsBucket?: s3.IBucket;
  public readonly landingPrefix: string;
  public readonly goldPrefix: string;
  public readonly removalPolicy: RemovalPolicy;
  public readonly planFunction: lambda.Function;
  public readonly compactFunction: lambda.Function;
  /** Merges a partition's intermediate files into target-size files. */
  public readonly mergeFunction: lambda.Function;
  public readonly swapFunction: lambda.Function;
  public readonly lifecycleFunction: lambda.Function;
  public readonly reportFunction: lambda.Function;
  public readonly stateMachine: sfn.StateMachine;
  public readonly monitoring: CompactionMonitoring;
  /** The prices the run estimates and reports use. */
  public readonly prices: PriceTable;
  public readonly schedule: events.Rule;
  public readonly catalog: CompactionCatalog;
  /**
   * This table's gold-bucket lifecycle rules (tiering, expiry of the pipeline's own objects). Added
   * to a gold bucket created here or by the lake; add them to a gold bucket of your own yourself.
   */
  public readonly lifecycleRules: readonly s3.LifecycleRule[];
  /** The customer key of the buckets this pipeline created, when they use one. */
  public readonly encryptionKey?: kms.IKey;
  /** This table's stack outputs by name (see `addOutput`). */
  public readonly outputs: Partial<Record<StackOutputName, CfnOutput>> = {};
  /** Set once the props passed validation: a pipeline whose constructor threw holds no table. */
  private accepted = false;

  constructor(scope: Construct, id: string, props: CompactionPipelineProps) {
    super(scope, id);
    // Set on this construct's scope only, before any child exists, so the app's own flags stay as they are.
    for (const [flag, value] of Object.entries(REQUIRED_FEATURE_FLAGS)) this.node.setContext(flag, value);

    const removal = dataRemovalPolicy(this, props.removalPolicy);
    const lake = props.lake;
    this.tableName = props.tableName;
    this.databaseName = lake?.databaseName ?? props.databaseName ?? 'compactor';
    this.landingPrefix = props.landingPrefix ?? `${props.tableName}/`;
    this.goldPrefix = props.goldPrefix ?? `${props.tableName}/`;
    const problems = [...validate(props), ...(removal.problem ? [removal.problem] : [])];
    if (!problems.length && lake) problems.push(...lake.addTable({ tableName: this.tableName, path: this.node.path, landingPrefix: this.landingPrefix, goldPrefix: this.goldPrefix }));
    if (!problems.length) problems.push(...this.tableTaken());
    const createsDatabase = !lake && (props.createDatabase ?? true);
    if (createsDatabase) problems.push(...this.databaseTaken());
    if (problems.length) throw new Error(`CompactionPipeline: invalid props:\n- ${problems.join('\n- ')}`);
    this.accepted = true;
    if (props.tieringDays) {
      Annotations.of(this).addWarningV2(
        'compactor:tieringDays',
        'tieringDays is deprecated: its defaults move table data to DEEP_ARCHIVE after 365 days, where Athena and Spark cannot read it; use tiering (only the classes named are used)',
      );
    }

    this.removalPolicy = removal.policy;
    const partitionKeys = props.partitionKeys ?? DEFAULT_PARTITION_KEYS;
    const compression = props.compression ?? 'snappy';
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.prices = pricesWith(props.prices);

    // Without a lake the buckets stay where earlier versions created them (Storage/...): their
    // logical ids, and so the retained buckets, do not change.
    const storage = lake
      ? undefined
      : new CompactionStorage(this, 'Storage', {
          landingBucket: props.landingBucket,
          goldBucket: props.goldBucket,
          encryption: props.encryption,
          encryptionKey: props.encryptionKey,
          removalPolicy: this.removalPolicy,
        });
    this.landingBucket = lake?.landingBucket ?? storage!.landingBucket;
    this.goldBucket = lake?.goldBucket ?? storage!.goldBucket;
    this.accessLogsBucket = lake ? undefined : storage!.accessLogsBucket;
    this.encryptionKey = storage?.encryptionKey;
    const tiering = props.tiering ?? (props.tieringDays ? { ...LEGACY_TIERING_DAYS, ...props.tieringDays } : DEFAULT_TABLE_TIERING);
    this.lifecycleRules = tableLifecycleRules({ tableName: this.tableName, goldPrefix: this.goldPrefix, tiering, retention: props.systemRetentionDays ?? {} });
    if (lake) lake.addTableRules(this.lifecycleRules);
    else storage!.addTableRules(this.lifecycleRules);

    this.catalog = new CompactionCatalog(this, 'Catalog', {
      databaseName: this.databaseName,
      tableName: props.tableName,
      columns: props.columns,
      partitionKeys,
      goldBucket: this.goldBucket,
      goldPrefix: this.goldPrefix,
      compression,
      createDatabase: createsDatabase,
      createTable: props.createTable,
      removalPolicy: this.removalPolicy,
    });
    if (lake?.database && this.catalog.table) this.catalog.table.addResourceDependency(lake.database);

    const functions = new CompactionFunctions(this, 'Functions', {
      tableName: props.tableName,
      databaseName: this.databaseName,
      tableArns: this.catalog.tableArns,
      landingBucket: this.landingBucket,
      goldBucket: this.goldBucket,
      landingPrefix: this.landingPrefix,
      goldPrefix: this.goldPrefix,
      partitionKeys: partitionKeys.map((k) => k.name),
      targetFileMb: props.targetFileMb ?? TARGET_FILE_MB.default,
      maxBinObjects: props.maxBinObjects ?? DEFAULT_MAX_BIN_OBJECTS,
      compression,
      sortBy: props.sortBy ?? [],
      graceDays: props.graceDays ?? GRACE_DAYS.default,
      quietPeriodMinutes: props.quietPeriodMinutes ?? 60,
      layout: props.layout ?? 'hive',
      columns: props.columns ?? [],
      compactMemoryMb: props.compactMemoryMb ?? 4096,
      prices: this.prices,
      runtime: props.runtime ?? lambda.Runtime.NODEJS_24_X,
      logRetention,
      removalPolicy: this.removalPolicy,
    });
    this.planFunction = functions.plan;
    this.compactFunction = functions.compact;
    this.mergeFunction = functions.merge;
    this.swapFunction = functions.swap;
    this.lifecycleFunction = functions.lifecycle;
    this.reportFunction = functions.report;

    // A fixed name lets the plan role read its own executions' status (the run lease) without a
    // dependency cycle through the state machine's ARN.
    const stateMachineName = `${Stack.of(this).stackName}-${props.tableName}-compaction`.slice(0, 80);
    const workflow = new CompactionWorkflow(this, 'Workflow', {
      stateMachineName,
      plan: functions.plan,
      compact: functions.compact,
      merge: functions.merge,
      swap: functions.swap,
      lifecycle: functions.lifecycle,
      report: functions.report,
      resultBucket: this.goldBucket,
      tableName: props.tableName,
      maxConcurrency: props.maxConcurrency ?? 10,
      toleratedFailurePercentage: props.toleratedFailurePercentage ?? 10,
      logRetention,
      removalPolicy: this.removalPolicy,
      timeout: props.runTimeout ?? Duration.millis(LEASE_TTL_MS),
    });
    this.stateMachine = workflow.stateMachine;
    functions.plan.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution'],
        resources: [Stack.of(this).formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );

    // A scheduled run that finds the previous one still running skips (a success); a console run fails instead.
    const run: RunRequest = { table: props.tableName, ifRunning: 'skip' };
    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Starts a compaction run of ${props.tableName}`,
      schedule: props.schedule ?? events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromObject(run) })],
    });

    this.monitoring = new CompactionMonitoring(this, 'Monitoring', {
      tableName: props.tableName,
      stateMachine: this.stateMachine,
      functions: { plan: functions.plan, compact: functions.compact, merge: functions.merge, swap: functions.swap, lifecycle: functions.lifecycle, report: functions.report },
      alarmTopic: props.alarmTopic,
      backlogAgeAlarm: props.backlogAgeAlarm ?? Duration.hours(6),
      noRunAlarm: props.noRunAlarm ?? Duration.hours(6),
    });

    this.addStackOutputs(partitionKeys.map((k) => k.name));
  }

  /**
   * The table's stack outputs: what an operator or a tool needs to find the deployed pipeline and
   * its objects. Outputs of other parts of the pipeline are added here too.
   */
  private addStackOutputs(partitionKeys: readonly string[]): void {
    const s3Url = (bucket: s3.IBucket, prefix: string) => `s3://${bucket.bucketName}/${prefix}`;
    this.addOutput(StackOutputs.StateMachineArn, this.stateMachine.stateMachineArn, 'the compaction workflow (start, redrive and rerun runs here)');
    this.addOutput(StackOutputs.LandingBucketName, this.landingBucket.bucketName, 'bucket the small files land in');
    this.addOutput(StackOutputs.GoldBucketName, this.goldBucket.bucketName, 'bucket of the compacted data and the pipeline\'s own objects');
    this.addOutput(StackOutputs.GlueDatabaseName, this.databaseName, 'Glue database of the table');
    this.addOutput(StackOutputs.GlueTableName, this.tableName, 'Glue table: read the table through it (partitions point at verified versions)');
    this.addOutput(StackOutputs.PartitionKeys, partitionKeys.join(','), 'partition keys in order (the CLI checks an input\'s partitions against them)');
    this.addOutput(StackOutputs.LandingLocation, s3Url(this.landingBucket, this.landingPrefix), 'where the table\'s small files land');
    this.addOutput(StackOutputs.TableLocation, s3Url(this.goldBucket, this.goldPrefix), 'the table location; each partition has v= version folders below it');
    this.addOutput(StackOutputs.SystemLocation, s3Url(this.goldBucket, `${SYSTEM_PREFIX}${this.tableName}/`), 'plans, manifests, partition state, run lease and Map results');
    this.addOutput(StackOutputs.QuarantineLocation, s3Url(this.goldBucket, tableQuarantinePrefix(this.tableName)), 'set-aside records with file, line and reason');
    this.addOutput(StackOutputs.ReportsLocation, s3Url(this.goldBucket, reportPrefix(this.tableName)), 'one run report per execution (<execution>/report.json and report.md)');
    const region = Stack.of(this).region;
    this.addOutput(
      StackOutputs.DashboardUrl,
      `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.monitoring.dashboard.dashboardName}`,
      'CloudWatch dashboard of the runs, backlog, quarantine and cost drivers',
    );
    this.addOutput(StackOutputs.AlarmTopicArn, this.monitoring.topic.topicArn, 'SNS topic the alarms notify');
    if (this.encryptionKey) this.addOutput(StackOutputs.EncryptionKeyArn, this.encryptionKey.keyArn, 'customer key of the buckets this pipeline created');
  }

  /** Adds a stack output keyed `<Table><name>` (e.g. `SensorsStateMachineArn`), described with the table's name. */
  public addOutput(name: StackOutputName, value: string, description: string): CfnOutput {
    const output = new CfnOutput(this, `Output${name}`, { value, description: `${this.tableName}: ${description}` });
    output.overrideLogicalId(stackOutputKey(this.tableName, name));
    this.outputs[name] = output;
    return output;
  }

  /** Another pipeline of this stack with the same table, or one whose output keys would be this one's. */
  private tableTaken(): string[] {
    const key = stackOutputKey(this.tableName, StackOutputs.StateMachineArn);
    const other = Stack.of(this)
      .node.findAll()
      .find((c): c is CompactionPipeline => c instanceof CompactionPipeline && c.accepted && stackOutputKey(c.tableName, StackOutputs.StateMachineArn) === key);
    if (!other) return [];
    if (other.tableName === this.tableName) return [`table "${this.tableName}" already has a pipeline in this stack (${other.node.path}): each table has one pipeline`];
    return [`tableName "${this.tableName}" gives the same stack output keys (${key}, ...) as table "${other.tableName}" of ${other.node.path}: rename one of them`];
  }

  /** A second pipeline creating the same Glue database in this stack: CloudFormation would fail on it. */
  private databaseTaken(): string[] {
    const name = this.databaseName;
    const other = Stack.of(this)
      .node.findAll()
      .find((c): c is glue.CfnDatabase => c instanceof glue.CfnDatabase && Stack.of(c).resolve((c.databaseInput as glue.CfnDatabase.DatabaseInputProperty).name) === name);
    if (!other) return [];
    return [
      `the Glue database "${name}" is already created in this stack by ${other.node.path}: share one CompactionLake between the tables ` +
        `(new CompactionLake(stack, 'Lake') and lake: on each pipeline), or pass createDatabase: false or another databaseName`,
    ];
  }
}
