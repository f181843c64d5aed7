import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  field,
  StatePath,
  type BinItem,
  type LifecycleInput,
  type PlanInput,
  type PlanOutput,
  type ReportInput,
  type ReportOutput,
  type SkippedRun,
  type SwapInput,
  type SwapOutput,
} from '../lambdas/core/contracts';
import { ErrorNames } from '../lambdas/core/errors';
import { itemsKey, mapResultsPrefix, mergeItemsKey } from '../lambdas/core/keys';
import { KMS_WRITE_ACTIONS } from './compaction-functions';
import { buildMergeMap, hasMerges } from './compaction-merge-map';

/** Errors of the Lambda service itself (throttling, a dropped invoke): the function never ran or its result was lost. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.TooManyRequestsException',
];

/** Errors a handler throws on purpose that no retry can fix (see lambdas/core/errors.ts). */
export const TERMINAL_ERRORS = [
  ErrorNames.InvalidInput,
  ErrorNames.Configuration,
  ErrorNames.Verification,
  ErrorNames.SourceChanged,
  ErrorNames.ConcurrentCommit,
  ErrorNames.Catalog,
  ErrorNames.AlreadyRunning,
];

/**
 * Terminal errors are never retried. Listed first so that no later retrier can match them;
 * they go straight to the Catch.
 */
export const NO_RETRY_ON_TERMINAL: sfn.RetryProps = { errors: TERMINAL_ERRORS, maxAttempts: 0 };

/**
 * Lambda service errors: 6 retries, 2 s doubling, capped at 30 s, FULL jitter.
 * Total wait before giving up at most 2 + 4 + 8 + 16 + 30 + 30 = 90 s (45 s on average with jitter).
 */
export const LAMBDA_SERVICE_RETRY: sfn.RetryProps = {
  errors: LAMBDA_SERVICE_ERRORS,
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 6,
  maxDelay: Duration.seconds(30),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * RetryableError from a handler (S3 or Glue still throttling after the SDK's own retries):
 * 3 retries, 5 s tripling, FULL jitter. Total wait at most 5 + 15 + 45 = 65 s (~33 s on average),
 * on top of the attempts themselves (a compact attempt may take up to 15 min).
 */
export const RETRYABLE_ERROR_RETRY: sfn.RetryProps = {
  errors: [ErrorNames.Retryable],
  interval: Duration.seconds(5),
  backoffRate: 3,
  maxAttempts: 3,
  jitterStrategy: sfn.JitterType.FULL,
};

/** Every task's retry policies, in evaluation order. */
export const TASK_RETRIES: readonly sfn.RetryProps[] = [NO_RETRY_ON_TERMINAL, LAMBDA_SERVICE_RETRY, RETRYABLE_ERROR_RETRY];

/** Where a caught error is kept in the state before the run fails with it. */
export const ERROR_PATH = '$.error';

/** State names: what a person sees in the console, and what tests look up. */
export const States = {
  Plan: 'Plan',
  AnythingToCompact: 'AnythingToCompact',
  NothingToCompact: 'NothingToCompact',
  CompactBins: 'CompactBins',
  Compact: 'Compact',
  AnythingToMerge: 'AnythingToMerge',
  MergeFiles: 'MergeFiles',
  Merge: 'Merge',
  Swap: 'Swap',
  Lifecycle: 'Lifecycle',
  Report: 'Report',
  RunOutcome: 'RunOutcome',
  Skipped: 'Skipped',
  DescribeIncomplete: 'DescribeIncomplete',
  IncompletePartitions: 'IncompletePartitions',
  Done: 'Done',
  RunFailed: 'RunFailed',
  ReportFailed: 'ReportFailed',
} as const;

/** Error name of a run that committed some partitions but left others uncommitted. */
export const INCOMPLETE_PARTITIONS_ERROR = 'IncompletePartitions';

/** Where the Distributed Map writes its per-item results: `_compactor/<table>/results/`. */

const planAt = (name: keyof PlanOutput) => `${StatePath.plan}.${field<PlanOutput>(name)}`;
const swapAt = (name: keyof SwapOutput) => `${StatePath.swap}.${field<SwapOutput>(name)}`;
const skippedAt = `${StatePath.plan}.${field<SkippedRun>('skipped')}`;

export interface CompactionDefinitionProps {
  readonly plan: lambda.IFunction;
  readonly compact: lambda.IFunction;
  readonly merge: lambda.IFunction;
  readonly swap: lambda.IFunction;
  readonly lifecycle: lambda.IFunction;
  readonly report: lambda.IFunction;
  /** Bucket the Map's ResultWriter writes to (the gold bucket). */
  readonly resultBucket: s3.IBucket;
  readonly tableName: string;
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
}

/**
 * A ResultWriterV2 whose role permissions cover only its prefix (the stock one grants writes on
 * the whole bucket, table data included).
 */
class PrefixResultWriter extends sfn.ResultWriterV2 {
  constructor(private readonly target: s3.IBucket, private readonly resultsPrefix: string) {
    super({
      bucket: target,
      prefix: resultsPrefix,
      writerConfig: new sfn.WriterConfig({ outputType: sfn.OutputType.JSON, transformation: sfn.Transformation.COMPACT }),
    });
  }

  public override providePolicyStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        resources: [this.target.arnForObjects(`${this.resultsPrefix}*`)],
      }),
    ];
  }
}

/**
 * The run, on JSONPath only:
 * Plan -> skipped (another run holds the table)? / nothing to do (dry run, no bins)? ->
 * CompactBins (Distributed Map over the plan's items, one Compact per bin) -> [MergeFiles (a
 * second Distributed Map, one Merge per merge of a partition's intermediate files)] -> Swap -> Lifecycle ->
 * Report -> RunOutcome: failed, skipped, some partition left uncommitted, or done.
 * Each task retries per TASK_RETRIES and sends any other error, with its error and cause, to the
 * Report, which writes the run report on the failure path too; RunOutcome then fails the run with
 * that error. Inside the Map a failed bin just fails its item: ToleratedFailurePercentage decides,
 * and the Map's own Catch ends the run when too many failed.
 */
export function buildCompactionDefinition(scope: Construct, props: CompactionDefinitionProps): sfn.IChainable {
  const runFailed = new sfn.Fail(scope, States.RunFailed, {
    comment: 'A step failed: the error and cause are the failing step\'s',
    errorPath: `${ERROR_PATH}.Error`,
    causePath: `${ERROR_PATH}.Cause`,
  });
  // The report of every execution, whatever happened before; it gets the whole state (the steps'
  // results or the error), which holds locations and counts only.
  const reportPayload: Record<keyof ReportInput, unknown> = {
    state: sfn.JsonPath.entirePayload,
    executionId: sfn.JsonPath.executionId,
    startedAt: sfn.JsonPath.executionStartTime,
  };
  const report = new tasks.LambdaInvoke(scope, States.Report, {
    lambdaFunction: props.report,
    payload: sfn.TaskInput.fromObject(reportPayload),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    resultPath: StatePath.report,
  });
  for (const r of TASK_RETRIES) report.addRetry(r);
  const guarded = <T extends tasks.LambdaInvoke | sfn.DistributedMap>(state: T, retry: boolean): T => {
    if (retry) for (const r of TASK_RETRIES) state.addRetry(r);
    state.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: ERROR_PATH });
    return state;
  };
  // Without a payload the task passes its whole input: the execution input to Plan, the item to Compact.
  const invoke = (id: string, fn: lambda.IFunction, payload?: sfn.TaskInput, resultPath?: string) =>
    new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fn,
      ...(payload ? { payload } : {}),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      ...(resultPath ? { resultPath } : {}),
    });

  // The plan step takes the table's lease in the execution's name, so it gets the execution id too.
  const planPayload: Record<keyof PlanInput, unknown> = { request: sfn.JsonPath.entirePayload, executionId: sfn.JsonPath.executionId };
  const plan = guarded(invoke(States.Plan, props.plan, sfn.TaskInput.fromObject(planPayload), StatePath.plan), true);

  const compact = invoke(States.Compact, props.compact);
  for (const r of TASK_RETRIES) compact.addRetry(r);

  // Each item as the plan wrote it, plus the execution id for the compact step's log lines.
  const item = (f: keyof BinItem) => `$$.Map.Item.Value.${f}`;
  const itemSelector: Record<keyof BinItem, unknown> = {
    table: sfn.JsonPath.stringAt(item('table')),
    planId: sfn.JsonPath.stringAt(item('planId')),
    binId: sfn.JsonPath.stringAt(item('binId')),
    partition: sfn.JsonPath.stringAt(item('partition')),
    version: sfn.JsonPath.stringAt(item('version')),
    binKey: sfn.JsonPath.stringAt(item('binKey')),
    inputFiles: sfn.JsonPath.numberAt(item('inputFiles')),
    inputBytes: sfn.JsonPath.numberAt(item('inputBytes')),
    executionId: sfn.JsonPath.executionId,
  };
  const resultWriter = new PrefixResultWriter(props.resultBucket, mapResultsPrefix(props.tableName));
  const compactBins = guarded(
    new sfn.DistributedMap(scope, States.CompactBins, {
      comment: 'One Compact per bin; the items are the plan\'s BinItem list in S3',
      itemReader: new sfn.S3JsonItemReader({
        bucketNamePath: sfn.JsonPath.stringAt(planAt('planBucket')),
        key: sfn.JsonPath.stringAt(planAt('itemsKey')),
      }),
      itemSelector,
      maxConcurrency: props.maxConcurrency,
      toleratedFailurePercentage: props.toleratedFailurePercentage,
      resultWriterV2: resultWriter,
      resultPath: StatePath.compaction,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      label: States.CompactBins,
    }),
    false,
  );
  compactBins.itemProcessor(compact);
  const mergeFiles = guarded(buildMergeMap(scope, { map: States.MergeFiles, task: States.Merge }, { ...props, retries: TASK_RETRIES, resultWriter }), false);

  const swapPayload: Record<keyof SwapInput, unknown> = { plan: sfn.JsonPath.objectAt(StatePath.plan), executionId: sfn.JsonPath.executionId };
  const swap = guarded(invoke(States.Swap, props.swap, sfn.TaskInput.fromObject(swapPayload), StatePath.swap), true);

  // A dry run lists what would be retired; a run with nothing to compact still retires what is due.
  const lifecyclePayload: Record<keyof LifecycleInput, unknown> = {
    table: sfn.JsonPath.stringAt(planAt('table')),
    dryRun: sfn.JsonPath.stringAt(planAt('dryRun')),
    executionId: sfn.JsonPath.executionId,
  };
  const lifecycle = guarded(invoke(States.Lifecycle, props.lifecycle, sfn.TaskInput.fromObject(lifecyclePayload), StatePath.lifecycle), true);

  // A Fail state's CausePath must name a string: build the message first.
  const describeIncomplete = new sfn.Pass(scope, States.DescribeIncomplete, {
    parameters: {
      'cause.$': `States.Format('{} partition(s) were left at their previous version: {}', ${swapAt('incomplete')}, States.JsonToString(${swapAt('incompletePartitions')}))`,
    },
    resultPath: '$.incomplete',
  });
  const incompleteFailed = new sfn.Fail(scope, States.IncompletePartitions, {
    error: INCOMPLETE_PARTITIONS_ERROR,
    causePath: '$.incomplete.cause',
  });
  // A report that could not be written fails the run with its own error; the run's own error comes first.
  const reportFailed = new sfn.Fail(scope, States.ReportFailed, {
    comment: 'The run report could not be written',
    errorPath: `${StatePath.reportError}.Error`,
    causePath: `${StatePath.reportError}.Cause`,
  });
  const skipped = new sfn.Pass(scope, States.Skipped, {
    comment: 'Another run holds the table and the request said to skip: nothing was changed',
    parameters: { 'outcome.$': `${StatePath.report}.${field<ReportOutput>('outcome')}`, 'report.$': StatePath.report },
  });
  const runOutcome = new sfn.Choice(scope, States.RunOutcome)
    .when(sfn.Condition.isPresent(ERROR_PATH), runFailed)
    .when(sfn.Condition.isPresent(StatePath.reportError), reportFailed)
    .when(sfn.Condition.isPresent(skippedAt), skipped)
    .when(
      sfn.Condition.and(sfn.Condition.isPresent(swapAt('incomplete')), sfn.Condition.numberGreaterThan(swapAt('incomplete'), 0)),
      describeIncomplete.next(incompleteFailed),
    )
    .otherwise(new sfn.Succeed(scope, States.Done));
  report.addCatch(runOutcome, { errors: [sfn.Errors.ALL], resultPath: StatePath.reportError });
  report.next(runOutcome);
  lifecycle.next(report);

  return plan.next(
    new sfn.Choice(scope, States.AnythingToCompact)
      .when(sfn.Condition.isPresent(skippedAt), report)
      .when(
        sfn.Condition.or(sfn.Condition.booleanEquals(planAt('dryRun'), true), sfn.Condition.numberEquals(planAt('bins'), 0)),
        new sfn.Choice(scope, States.NothingToCompact, { comment: 'A dry run only lists; otherwise the swap still repairs the catalog' })
          .when(sfn.Condition.booleanEquals(planAt('dryRun'), true), lifecycle)
          .otherwise(swap),
      )
      .otherwise(
        compactBins.next(
          new sfn.Choice(scope, States.AnythingToMerge, { comment: 'Partitions compacted into more bins than target-size files are merged before the swap' })
            .when(hasMerges(), mergeFiles.next(swap.next(lifecycle)))
            .otherwise(swap),
        ),
      ),
  );
}

export interface CompactionWorkflowProps extends CompactionDefinitionProps {
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Fixed, so that roles can name its executions without depending on it. */
  readonly stateMachineName: string;
  /** A run still going after this is stopped (ExecutionsTimedOut); the next run reuses its finished bins. */
  readonly timeout: Duration;
}

/** The STANDARD state machine running {@link buildCompactionDefinition}, with full logging and X-Ray. */
export class CompactionWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: CompactionWorkflowProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: props.removalPolicy });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(buildCompactionDefinition(this, props)),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      timeout: props.timeout,
      comment: `Compacts ${props.tableName}: plan, compact bins, swap, retire`,
    });
    // The ItemReader takes its bucket from the plan's output, so CDK cannot scope it: allow the
    // items lists of this table only.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.resultBucket.arnForObjects(itemsKey(props.tableName, '*')), props.resultBucket.arnForObjects(mergeItemsKey(props.tableName, '*'))],
      }),
    );
    // A gold bucket with a customer key: the ItemReader decrypts the items, the ResultWriter writes results.
    props.resultBucket.encryptionKey?.grant(this.stateMachine, ...KMS_WRITE_ACTIONS);
  }
}
