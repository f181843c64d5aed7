import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { RunRequest } from '../lambdas/core/contracts';
import { LEASE_TTL_MS } from '../lambdas/core/lease';
import { pricesWith, type PriceOverrides, type PriceTable } from '../lambdas/core/cost';
import { SYSTEM_PREFIX } from '../lambdas/core/keys';
import type { LayoutKind } from '../lambdas/core/partitions';
import type { Compression } from '../lambdas/core/settings';
import { CompactionCatalog, type GlueColumn } from './compaction-catalog';
import { CompactionFunctions } from './compaction-functions';
import { CompactionMonitoring } from './compaction-monitoring';
import { CompactionStorage, DEFAULT_TIERING_DAYS, type TieringDays } from './compaction-storage';
import { CompactionWorkflow } from './compaction-workflow';

/**
 * CDK context flag that allows `RemovalPolicy.DESTROY` (buckets emptied and deleted, Glue
 * database and table, log groups deleted with the stack): `cdk deploy -c compactor:destroyData=true`.
 * Without it, data resources are always retained.
 */
export const DESTROY_DATA_CONTEXT = 'compactor:destroyData';

/** Feature flags this construct relies on, set on its own scope only (see constructor). */
const REQUIRED_FEATURE_FLAGS: Record<string, boolean> = {
  // Without it the Map's ResultWriter is dropped from the definition.
  '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true,
  // Server access logs delivered through a bucket policy instead of the legacy ACL.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
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
   * Glue database holding the table.
   * @default 'compactor'
   */
  readonly databaseName?: string;
  /**
   * Create the Glue database (false: it already exists).
   * @default true
   */
  readonly createDatabase?: boolean;
  /**
   * Create the Glue table (false: it already exists, and `columns` is not needed).
   * @default true
   */
  readonly createTable?: boolean;
  /**
   * Bucket the small files land in. Existing buckets get no lifecycle rules from this construct.
   * @default a new bucket (public access blocked, TLS only, SSE-S3, access logs, lifecycle rules)
   */
  readonly landingBucket?: s3.IBucket;
  /**
   * Bucket for the compacted Parquet files and the pipeline's own objects under `_compactor/`.
   * @default a new bucket (as the landing bucket, plus storage-class tiering of the table data)
   */
  readonly goldBucket?: s3.IBucket;
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
   * Storage-class transitions of the gold table data (only on a gold bucket created here).
   * @default 30 days STANDARD_IA, 90 days GLACIER_IR, 365 days DEEP_ARCHIVE
   */
  readonly tieringDays?: TieringDays;
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

/** Throws one error naming every invalid prop and how to fix it. */
function validate(props: CompactionPipelineProps, destroyAllowed: boolean): void {
  const problems: string[] = [];
  const int = (name: string, v: number | undefined, min: number, max: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) problems.push(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  };
  const prefix = (name: string, v: string | undefined) => {
    if (v === undefined) return;
    if (v === '' || !v.endsWith('/') || v.startsWith('/')) problems.push(`${name} must be a non-empty key prefix ending with "/" and not starting with "/", e.g. "${props.tableName}/"; got "${v}"`);
    else if (v.startsWith(SYSTEM_PREFIX)) problems.push(`${name} must not start with "${SYSTEM_PREFIX}" (reserved for the pipeline's own objects); got "${v}"`);
  };

  if (!IDENT.test(props.tableName ?? '')) {
    problems.push(`tableName must be lowercase letters, digits and "_" (Glue lowercases names; it is also an S3 prefix), got "${props.tableName}"`);
  }
  if (props.databaseName !== undefined && !IDENT.test(props.databaseName)) {
    problems.push(`databaseName must be lowercase letters, digits and "_", got "${props.databaseName}"`);
  }
  prefix('landingPrefix', props.landingPrefix);
  prefix('goldPrefix', props.goldPrefix);
  if (props.landingBucket && props.landingBucket === props.goldBucket) {
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

  int('targetFileMb', props.targetFileMb, 64, 1024);
  if (props.compression !== undefined && props.compression !== 'snappy' && props.compression !== 'zstd') {
    problems.push(`compression must be "snappy" or "zstd", got "${props.compression}"`);
  }
  int('maxConcurrency', props.maxConcurrency, 1, 1000);
  int('toleratedFailurePercentage', props.toleratedFailurePercentage, 0, 100);
  int('graceDays', props.graceDays, 0, 3650);
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

  const t = { ...DEFAULT_TIERING_DAYS, ...props.tieringDays };
  int('tieringDays.infrequentAccess', t.infrequentAccess, 30, 36500);
  int('tieringDays.glacierInstantRetrieval', t.glacierInstantRetrieval, 60, 36500);
  int('tieringDays.deepArchive', t.deepArchive, 61, 36500);
  if (t.glacierInstantRetrieval < t.infrequentAccess + 30) {
    problems.push(`tieringDays.glacierInstantRetrieval (${t.glacierInstantRetrieval}) must be at least 30 days after infrequentAccess (${t.infrequentAccess})`);
  }
  if (t.deepArchive <= t.glacierInstantRetrieval) {
    problems.push(`tieringDays.deepArchive (${t.deepArchive}) must be later than glacierInstantRetrieval (${t.glacierInstantRetrieval})`);
  }

  if (props.removalPolicy === RemovalPolicy.DESTROY && !destroyAllowed) {
    problems.push(`removalPolicy DESTROY deletes data: it needs the context flag ${DESTROY_DATA_CONTEXT}=true (cdk deploy -c ${DESTROY_DATA_CONTEXT}=true)`);
  }
  if (problems.length) throw new Error(`CompactionPipeline: invalid props:\n- ${problems.join('\n- ')}`);
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
  public readonly swapFunction: lambda.Function;
  public readonly lifecycleFunction: lambda.Function;
  public readonly reportFunction: lambda.Function;
  public readonly stateMachine: sfn.StateMachine;
  public readonly monitoring: CompactionMonitoring;
  /** The prices the run estimates and reports use. */
  public readonly prices: PriceTable;
  public readonly schedule: events.Rule;
  public readonly catalog: CompactionCatalog;

  constructor(scope: Construct, id: string, props: CompactionPipelineProps) {
    super(scope, id);
    // Set on this construct's scope only, before any child exists, so the app's own flags stay as they are.
    for (const [flag, value] of Object.entries(REQUIRED_FEATURE_FLAGS)) this.node.setContext(flag, value);

    const flag = this.node.tryGetContext(DESTROY_DATA_CONTEXT);
    const destroyAllowed = flag === true || flag === 'true';
    validate(props, destroyAllowed);

    this.tableName = props.tableName;
    this.databaseName = props.databaseName ?? 'compactor';
    this.landingPrefix = props.landingPrefix ?? `${props.tableName}/`;
    this.goldPrefix = props.goldPrefix ?? `${props.tableName}/`;
    this.removalPolicy = props.removalPolicy ?? (destroyAllowed ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN);
    const partitionKeys = props.partitionKeys ?? DEFAULT_PARTITION_KEYS;
    const compression = props.compression ?? 'snappy';
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.prices = pricesWith(props.prices);

    const storage = new CompactionStorage(this, 'Storage', {
      landingBucket: props.landingBucket,
      goldBucket: props.goldBucket,
      goldPrefix: this.goldPrefix,
      tieringDays: props.tieringDays,
      removalPolicy: this.removalPolicy,
    });
    this.landingBucket = storage.landingBucket;
    this.goldBucket = storage.goldBucket;
    this.accessLogsBucket = storage.accessLogsBucket;

    this.catalog = new CompactionCatalog(this, 'Catalog', {
      databaseName: this.databaseName,
      tableName: props.tableName,
      columns: props.columns,
      partitionKeys,
      goldBucket: this.goldBucket,
      goldPrefix: this.goldPrefix,
      compression,
      createDatabase: props.createDatabase,
      createTable: props.createTable,
      removalPolicy: this.removalPolicy,
    });

    const functions = new CompactionFunctions(this, 'Functions', {
      tableName: props.tableName,
      databaseName: this.databaseName,
      tableArns: this.catalog.tableArns,
      landingBucket: this.landingBucket,
      goldBucket: this.goldBucket,
      landingPrefix: this.landingPrefix,
      goldPrefix: this.goldPrefix,
      partitionKeys: partitionKeys.map((k) => k.name),
      targetFileMb: props.targetFileMb ?? 512,
      compression,
      sortBy: props.sortBy ?? [],
      graceDays: props.graceDays ?? 3,
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
      functions: { plan: functions.plan, compact: functions.compact, swap: functions.swap, lifecycle: functions.lifecycle, report: functions.report },
      alarmTopic: props.alarmTopic,
      backlogAgeAlarm: props.backlogAgeAlarm ?? Duration.hours(6),
      noRunAlarm: props.noRunAlarm ?? Duration.hours(6),
    });
  }
}
