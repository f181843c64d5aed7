import { Annotations, ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { RunRequest } from '../lambdas/core/contracts';
import { LEASE_TTL_MS } from '../lambdas/core/lease';
import { pricesWith, type PriceTable } from '../lambdas/core/cost';
import { reportPrefix, SYSTEM_PREFIX, tableQuarantinePrefix } from '../lambdas/core/keys';
import { StackOutputs, stackOutputKey, type StackOutputName } from '../lambdas/core/outputs';
import { GRACE_DAYS, TARGET_FILE_MB } from '../lambdas/core/units';
import { CompactionCatalog } from './compaction-catalog';
import { CompactionFunctions } from './compaction-functions';
import { DEFAULT_PARTITION_KEYS, type CompactionPipelineProps } from './compaction-pipeline-props';
import { pipelinePropsProblems } from './compaction-pipeline-validation';
import { CompactionStorage, dataRemovalPolicy, DESTROY_DATA_CONTEXT, SERVER_ACCESS_LOGS_FLAG } from './compaction-storage';
import { DEFAULT_TABLE_TIERING, LEGACY_TIERING_DAYS, tableLifecycleRules } from './table-lifecycle-rules';
import { CompactionMonitoring } from './compaction-monitoring';
import { CompactionWorkflow } from './compaction-workflow';
import { DEFAULT_MAX_BIN_OBJECTS } from '../lambdas/core/bin-budget';

export { DESTROY_DATA_CONTEXT, DEFAULT_PARTITION_KEYS, type CompactionPipelineProps };

/** Feature flags this construct relies on, set on its own scope only (see constructor). */
const REQUIRED_FEATURE_FLAGS: Record<string, boolean> = {
  // Without it the Map's ResultWriter is dropped from the definition.
  '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true,
  [SERVER_ACCESS_LOGS_FLAG]: true,
};

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
    const problems = [...pipelinePropsProblems(props), ...(removal.problem ? [removal.problem] : [])];
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
