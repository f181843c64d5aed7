/** The run's state definitions: each step, its payload, its retries and catches, and the outcome. */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { itemSelectorOf, planItemsMap } from './map-items';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
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
import { mapResultsPrefix } from '../lambdas/core/keys';
import { buildMergeMap, hasMerges } from './compaction-merge-map';
import { TASK_RETRIES } from './compaction-retries';

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

  const itemSelector = itemSelectorOf<BinItem>({
    table: 'string', planId: 'string', binId: 'string', partition: 'string', version: 'string', binKey: 'string', inputFiles: 'number', inputBytes: 'number',
  });
  const resultWriter = new PrefixResultWriter(props.resultBucket, mapResultsPrefix(props.tableName));
  const compactBins = guarded(
    planItemsMap(scope, States.CompactBins, {
      comment: 'One Compact per bin; the items are the plan\'s BinItem list in S3',
      items: { bucketPath: planAt('planBucket'), keyPath: planAt('itemsKey') },
      itemSelector,
      processor: compact,
      maxConcurrency: props.maxConcurrency,
      toleratedFailurePercentage: props.toleratedFailurePercentage,
      resultWriter,
      resultPath: StatePath.compaction,
    }),
    false,
  );
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
