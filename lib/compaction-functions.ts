import * as path from 'node:path';
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DEFAULT_STEP_MEMORY, type PriceTable, type StepMemory } from '../lambdas/core/cost';
import { leaseKey, manifestsPrefix, mapResultsPrefix, outputRatiosKey, pendingPrefix, plansPrefix, reportPrefix, retiredManifestsPrefix, stagePrefix, statePrefix, tableQuarantinePrefix } from '../lambdas/core/keys';
import type { LayoutKind } from '../lambdas/core/partitions';
import { Env, type Compression } from '../lambdas/core/settings';
import { COMPACT_TIMEOUT_SECONDS } from '../lambdas/core/bin-budget';

const PROJECT_ROOT = path.join(__dirname, '..');
const handlerEntry = (name: string) => path.join(PROJECT_ROOT, 'lambdas', 'handlers', `${name}.ts`);

/** Native DuckDB packages: left out of the esbuild bundle; `@duckdb/node-api` is npm-installed into the asset. */
export const DUCKDB_EXTERNAL_MODULES = ['@duckdb/node-api', '@duckdb/node-bindings', '@duckdb/node-bindings-linux-x64'];
export const DUCKDB_NODE_MODULES = ['@duckdb/node-api'];
/**
 * Lock file of the compact asset's `npm ci` (CDK copies it next to a package.json holding only
 * DUCKDB_NODE_MODULES at the project's version). Its own file because `npm ci` needs an entry for
 * every platform package of `@duckdb/node-bindings`, and the project lock (written against a
 * registry mirror without the darwin/win32/arm64 builds) lacks them: those six entries are
 * platform stubs without integrity, never installed for linux-x64. With the full registry,
 * regenerate it with `npm install --package-lock-only` in lib/compact-bundle/.
 */
export const COMPACT_BUNDLE_LOCK_FILE = path.join(__dirname, 'compact-bundle', 'package-lock.json');
/** The native module is installed for Lambda's platform whatever the machine that synthesizes. */
const LAMBDA_PLATFORM_NPM_ENV = { npm_config_os: 'linux', npm_config_cpu: 'x64', npm_config_libc: 'glibc' };

/** Share of the compact function's memory given to DuckDB; the rest is Node, buffers and the SDK. */
export const ENGINE_MEMORY_SHARE = 0.6;
export const SCRATCH_DIR = '/tmp/compactor';
export const POWERTOOLS_SERVICE_NAME = 's3-compactor';

/** Glue reads of one table's partitions (the lifecycle step verifies the catalog before retiring). */
export const GLUE_PARTITION_READ_ACTIONS = ['glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions', 'glue:BatchGetPartition'];
/** Glue writes of the swap step: its partitions, and new columns appended to the table (schema drift, glue:UpdateTable). */
export const GLUE_PARTITION_WRITE_ACTIONS = [...GLUE_PARTITION_READ_ACTIONS, 'glue:BatchCreatePartition', 'glue:BatchUpdatePartition', 'glue:UpdateTable'];

/** What a role reading objects of a bucket with a customer key needs on the key. */
export const KMS_READ_ACTIONS = ['kms:Decrypt'];
/** What a role writing (and reading) objects of a bucket with a customer key needs on the key. */
export const KMS_WRITE_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];

export interface CompactionFunctionsProps {
  readonly tableName: string;
  readonly databaseName: string;
  /** ARNs of the Glue catalog, database and table (see CompactionCatalog.tableArns). */
  readonly tableArns: readonly string[];
  readonly landingBucket: s3.IBucket;
  readonly goldBucket: s3.IBucket;
  readonly landingPrefix: string;
  readonly goldPrefix: string;
  readonly partitionKeys: readonly string[];
  readonly targetFileMb: number;
  readonly maxBinObjects: number;
  readonly compression: Compression;
  readonly sortBy: readonly string[];
  readonly graceDays: number;
  readonly quietPeriodMinutes: number;
  readonly layout: LayoutKind;
  /** The table's declared data columns (Hive types), passed to the compact step. */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  readonly compactMemoryMb: number;
  /** Prices for the run estimates and reports. */
  readonly prices: PriceTable;
  readonly runtime: lambda.Runtime;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

interface FunctionSpec {
  readonly memoryMb: number;
  readonly timeout: Duration;
  readonly description: string;
  readonly environment: Record<string, string>;
  readonly ephemeralStorage?: Size;
  readonly duckdb?: boolean;
}

/**
 * The six Lambdas of the workflow, each with its own role holding only what its step does (every
 * grant scoped to the table's prefixes; `_compactor/<table>/` is the table's system prefix):
 * - plan: list and read landing; read partition state and output ratios; write plans and the lease.
 * - compact: read landing, gold table data, plans, manifests and state; write gold table data (its
 *   outputs, create-only), manifests and quarantine. Never state, the lease or plans.
 * - merge: read plans, manifests, state, intermediates (stage) and gold table data; write gold table
 *   data (the merged files, create-only) and manifests. Never deletes.
 * - swap: read plans, manifests, state and gold table data; write state and carried files; read and
 *   rewrite output ratios (measured by the bins it commits); change this table's Glue partitions and columns.
 * - lifecycle: read and delete landing and gold table data (conditional deletes need s3:GetObject
 *   too); move a retired version's manifests to the retired prefix (copy, then delete); read and
 *   rewrite state; delete intermediates (stage) after the grace; read this table's Glue partitions. No other role deletes.
 * - report: read plans, Map results, manifests, state and quarantine reports; write run reports.
 * A role lists only where it reads keys that may not exist: S3 answers 404 instead of 403 for a
 * missing key only to a role that may list it (ListBucket, here with an `s3:prefix` condition).
 * No bucket rule deletes anything: retirement is lifecycle's, with its grace and ETag checks.
 */
export class CompactionFunctions extends Construct {
  public readonly plan: nodejs.NodejsFunction;
  public readonly compact: nodejs.NodejsFunction;
  public readonly merge: nodejs.NodejsFunction;
  public readonly swap: nodejs.NodejsFunction;
  public readonly lifecycle: nodejs.NodejsFunction;
  public readonly report: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: CompactionFunctionsProps) {
    super(scope, id);
    const { landingBucket: landing, goldBucket: gold } = props;
    const t = props.tableName;
    const [state, plans, manifests, quarantine, stage] = [statePrefix(t), plansPrefix(t), manifestsPrefix(t), tableQuarantinePrefix(t), stagePrefix(t)];

    const table: Record<string, string> = {
      [Env.TableName]: props.tableName,
      [Env.LandingBucket]: landing.bucketName,
      [Env.LandingPrefix]: props.landingPrefix,
      [Env.GoldBucket]: gold.bucketName,
      [Env.GoldPrefix]: props.goldPrefix,
      [Env.PartitionKeys]: props.partitionKeys.join(','),
    };
    const catalog = { [Env.GlueDatabase]: props.databaseName };
    // The DuckDB steps (compact, merge): the table, the writer settings and the engine's memory share.
    const engine = (functionMemoryMb: number): Record<string, string> => ({
      ...table,
      [Env.Compression]: props.compression,
      ...(props.sortBy.length ? { [Env.SortBy]: props.sortBy.join(',') } : {}),
      [Env.ScratchDir]: SCRATCH_DIR,
      [Env.EngineMemoryMb]: String(Math.floor(functionMemoryMb * ENGINE_MEMORY_SHARE)),
    });
    // What the estimate and the report price: the functions' real memory, and the price table.
    const memoryMb: StepMemory = { ...DEFAULT_STEP_MEMORY, compact: props.compactMemoryMb };
    const costModel = { [Env.CostModel]: JSON.stringify({ prices: props.prices, memoryMb }) };

    this.plan = this.fn('Plan', props, {
      memoryMb: memoryMb.plan,
      timeout: Duration.minutes(5),
      description: `Plans the compaction of ${props.tableName}: lists landing, writes bins`,
      environment: { ...table, [Env.TargetFileMb]: String(props.targetFileMb), [Env.MaxBinObjects]: String(props.maxBinObjects), [Env.QuietPeriodMinutes]: String(props.quietPeriodMinutes), [Env.Layout]: props.layout, ...costModel },
    });
    this.compact = this.fn('Compact', props, {
      memoryMb: props.compactMemoryMb,
      // The planner's bin budget (core/bin-budget) is a share of this timeout.
      timeout: Duration.seconds(COMPACT_TIMEOUT_SECONDS),
      ephemeralStorage: Size.gibibytes(10),
      description: `Compacts one bin of ${props.tableName} into one Parquet file (DuckDB)`,
      duckdb: true,
      environment: {
        ...engine(props.compactMemoryMb),
        ...(props.columns.length ? { [Env.TableColumns]: JSON.stringify(props.columns.map((c) => ({ name: c.name, type: c.type }))) } : {}),
      },
    });
    this.merge = this.fn('Merge', props, {
      memoryMb: memoryMb.merge,
      timeout: Duration.minutes(15),
      ephemeralStorage: Size.gibibytes(10),
      description: `Merges the intermediate Parquet files of a ${props.tableName} partition into target-size files (DuckDB)`,
      duckdb: true,
      environment: engine(memoryMb.merge),
    });
    this.swap = this.fn('Swap', props, {
      memoryMb: memoryMb.swap,
      timeout: Duration.minutes(5),
      description: `Commits verified versions of ${props.tableName} and repoints its Glue partitions`,
      environment: { ...table, ...catalog },
    });
    this.lifecycle = this.fn('Lifecycle', props, {
      memoryMb: memoryMb.lifecycle,
      timeout: Duration.minutes(15),
      description: `Retires compacted sources and superseded versions of ${props.tableName} after the grace period`,
      environment: { ...table, ...catalog, [Env.GraceDays]: String(props.graceDays) },
    });
    this.report = this.fn('Report', props, {
      memoryMb: memoryMb.report,
      timeout: Duration.minutes(5),
      description: `Writes the run report of each ${props.tableName} execution (what it did and what it cost)`,
      environment: { ...table, ...costModel },
    });

    /** Object ARNs: `prefix*` for prefixes (ending in `/`), the key itself for single objects. */
    const objects = (bucket: s3.IBucket, ...keys: string[]) => keys.map((k) => bucket.arnForObjects(k.endsWith('/') ? `${k}*` : k));
    const allow = (fn: lambda.IFunction, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }));
    const listUnder = (bucket: s3.IBucket, ...keys: string[]): [string[], Record<string, unknown>] => [
      [bucket.bucketArn],
      { StringLike: { 's3:prefix': keys.map((k) => (k.endsWith('/') ? `${k}*` : k)) } },
    ];
    const lease = leaseKey(t);
    const ratios = outputRatiosKey(t);
    const pending = pendingPrefix(t);

    // plan
    allow(this.plan, ['s3:ListBucket'], ...listUnder(landing, props.landingPrefix));
    allow(this.plan, ['s3:GetObject'], objects(landing, props.landingPrefix));
    allow(this.plan, ['s3:ListBucket'], ...listUnder(gold, state, lease, ratios, pending));
    allow(this.plan, ['s3:GetObject'], objects(gold, state, lease, ratios));
    allow(this.plan, ['s3:PutObject'], objects(gold, plans, lease));

    // compact: listing landing turns a vanished source into a 404 (SourceChangedError) instead of a 403.
    allow(this.compact, ['s3:ListBucket'], ...listUnder(landing, props.landingPrefix));
    allow(this.compact, ['s3:GetObject'], objects(landing, props.landingPrefix));
    allow(this.compact, ['s3:ListBucket'], ...listUnder(gold, props.goldPrefix, plans, manifests, state, stage));
    allow(this.compact, ['s3:GetObject'], objects(gold, props.goldPrefix, plans, manifests, state, stage));
    allow(this.compact, ['s3:PutObject', 's3:AbortMultipartUpload'], objects(gold, props.goldPrefix, manifests, quarantine, stage));

    // merge: reads the intermediates at stage keys, writes the version's files and its manifests (create-only); deletes nothing.
    allow(this.merge, ['s3:ListBucket'], ...listUnder(gold, props.goldPrefix, plans, manifests, state, stage));
    allow(this.merge, ['s3:GetObject'], objects(gold, props.goldPrefix, plans, manifests, state, stage));
    allow(this.merge, ['s3:PutObject', 's3:AbortMultipartUpload'], objects(gold, props.goldPrefix, manifests));

    // swap
    allow(this.swap, ['s3:ListBucket'], ...listUnder(gold, props.goldPrefix, plans, manifests, state, pending, ratios));
    allow(this.swap, ['s3:GetObject'], objects(gold, props.goldPrefix, plans, manifests, state, pending, ratios));
    allow(this.swap, ['s3:PutObject'], objects(gold, props.goldPrefix, state, pending, ratios));
    allow(this.swap, GLUE_PARTITION_WRITE_ACTIONS, [...props.tableArns]);

    // lifecycle: the only role that deletes, and only table data.
    allow(this.lifecycle, ['s3:ListBucket'], ...listUnder(landing, props.landingPrefix));
    allow(this.lifecycle, ['s3:GetObject', 's3:DeleteObject'], objects(landing, props.landingPrefix));
    allow(this.lifecycle, ['s3:ListBucket'], ...listUnder(gold, props.goldPrefix, state));
    allow(this.lifecycle, ['s3:GetObject', 's3:DeleteObject'], objects(gold, props.goldPrefix, stage));
    allow(this.lifecycle, ['s3:GetObject', 's3:PutObject'], objects(gold, state));
    allow(this.lifecycle, GLUE_PARTITION_READ_ACTIONS, [...props.tableArns]);
    // lifecycle: a retired version's manifests move to the retired prefix, where a bucket rule expires them.
    allow(this.lifecycle, ['s3:ListBucket'], ...listUnder(gold, manifests));
    allow(this.lifecycle, ['s3:GetObject', 's3:DeleteObject'], objects(gold, manifests));
    allow(this.lifecycle, ['s3:PutObject'], objects(gold, retiredManifestsPrefix(t)));
    // lifecycle: the pending index, read and pruned (an entry goes once its partition has nothing left).
    allow(this.lifecycle, ['s3:ListBucket'], ...listUnder(gold, pending));
    allow(this.lifecycle, ['s3:GetObject', 's3:DeleteObject'], objects(gold, pending));

    // report
    allow(this.report, ['s3:ListBucket'], ...listUnder(gold, plans, mapResultsPrefix(t), manifests, state, quarantine));
    allow(this.report, ['s3:GetObject'], objects(gold, plans, mapResultsPrefix(t), manifests, state, quarantine));
    allow(this.report, ['s3:PutObject'], objects(gold, reportPrefix(t)));

    // KMS: a bucket encrypted with a customer key (its `encryptionKey`). Readers decrypt; writers
    // also generate data keys (multipart uploads and copies decrypt as well).
    for (const fn of [this.plan, this.compact, this.lifecycle]) landing.encryptionKey?.grant(fn, ...KMS_READ_ACTIONS);
    for (const fn of [this.plan, this.compact, this.merge, this.swap, this.lifecycle, this.report]) gold.encryptionKey?.grant(fn, ...KMS_WRITE_ACTIONS);
  }

  private fn(id: string, props: CompactionFunctionsProps, spec: FunctionSpec): nodejs.NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: props.logRetention, removalPolicy: props.removalPolicy });
    // An own role instead of the AWSLambdaBasicExecutionRole managed policy: logs go to this
    // function's log group only.
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${id} step of the ${props.tableName} compaction`,
    });
    logGroup.grantWrite(role);
    return new nodejs.NodejsFunction(this, id, {
      entry: handlerEntry(id.toLowerCase()),
      handler: 'handler',
      runtime: props.runtime,
      architecture: lambda.Architecture.X86_64,
      memorySize: spec.memoryMb,
      timeout: spec.timeout,
      ...(spec.ephemeralStorage ? { ephemeralStorageSize: spec.ephemeralStorage } : {}),
      description: spec.description,
      role,
      logGroup,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        ...spec.environment,
        POWERTOOLS_SERVICE_NAME,
        NODE_OPTIONS: '--enable-source-maps',
      },
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: spec.duckdb ? COMPACT_BUNDLE_LOCK_FILE : path.join(PROJECT_ROOT, 'package-lock.json'),
      bundling: {
        forceDockerBundling: false,
        target: 'node20',
        format: nodejs.OutputFormat.CJS,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The AWS SDK is bundled at the tested version rather than taken from the runtime.
        externalModules: spec.duckdb ? DUCKDB_EXTERNAL_MODULES : [],
        ...(spec.duckdb ? { nodeModules: DUCKDB_NODE_MODULES, environment: LAMBDA_PLATFORM_NPM_ENV } : {}),
      },
    });
  }
}
