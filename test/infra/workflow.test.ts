import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { parseRunRequest } from '../../lambdas/core/settings';
import {
  LAMBDA_SERVICE_RETRY,
  NO_RETRY_ON_TERMINAL,
  RETRYABLE_ERROR_RETRY,
  TERMINAL_ERRORS,
} from '../../lib/compaction-retries';
import { definitionOf, getAttPlaceholder, refPlaceholder } from '../helpers/definition';
import { arnOf, logicalId, objectsArn, pipelineStack, ref } from './pipeline-app';

const { pipeline, template } = pipelineStack();
const asl = definitionOf(template);
const fnArn = (fn: { node: unknown }) => getAttPlaceholder(logicalId(fn as never), 'Arn');

const retries = [
  {
    ErrorEquals: ['InvalidInputError', 'ConfigurationError', 'VerificationError', 'SourceChangedError', 'ConcurrentCommitError', 'CatalogError', 'AlreadyRunningError'],
    MaxAttempts: 0,
  },
  {
    ErrorEquals: [
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
      'Lambda.ClientExecutionTimeoutException',
      'Lambda.TooManyRequestsException',
    ],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
    MaxDelaySeconds: 30,
    JitterStrategy: 'FULL',
  },
  { ErrorEquals: ['RetryableError'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 3, JitterStrategy: 'FULL' },
];
const toReport = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Report' }];

describe('state machine definition', () => {
  it('starts with Plan, stops a run after 24 hours (the lease\'s expiry) and holds exactly the expected states', () => {
    expect(asl.StartAt).toBe('Plan');
    expect(asl.TimeoutSeconds).toBe(24 * 3600);
    expect(definitionOf(pipelineStack({ runTimeout: Duration.hours(48) }).template).TimeoutSeconds).toBe(48 * 3600);
    expect(Object.keys(asl.States).sort()).toEqual(
      [
        'AnythingToCompact',
        'AnythingToMerge',
        'CompactBins',
        'DescribeIncomplete',
        'Done',
        'IncompletePartitions',
        'Lifecycle',
        'MergeFiles',
        'NothingToCompact',
        'Plan',
        'Report',
        'ReportFailed',
        'RunFailed',
        'RunOutcome',
        'Skipped',
        'Swap',
      ].sort(),
    );
  });

  it('plans with the execution input and the execution id (the lease holder) and keeps the plan at $.plan', () => {
    expect(asl.States.Plan).toEqual({
      Type: 'Task',
      Resource: fnArn(pipeline.planFunction),
      Parameters: { 'request.$': '$', 'executionId.$': '$$.Execution.Id' },
      ResultPath: '$.plan',
      Retry: retries,
      Catch: toReport,
      Next: 'AnythingToCompact',
    });
  });

  it('goes straight to the report when the plan skipped, and stops successfully on a dry run or a plan without bins', () => {
    expect(asl.States.AnythingToCompact).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.plan.skipped', IsPresent: true, Next: 'Report' },
        {
          Or: [
            { Variable: '$.plan.dryRun', BooleanEquals: true },
            { Variable: '$.plan.bins', NumericEquals: 0 },
          ],
          Next: 'NothingToCompact',
        },
      ],
      Default: 'CompactBins',
    });
    expect(asl.States.NothingToCompact).toEqual({
      Type: 'Choice',
      Comment: 'A dry run only lists; otherwise the swap still repairs the catalog',
      Choices: [{ Variable: '$.plan.dryRun', BooleanEquals: true, Next: 'Lifecycle' }],
      Default: 'Swap',
    });
  });

  it('compacts every bin of the plan\'s items list in a Distributed Map with results written to gold, each item given the execution id', () => {
    expect(asl.States.CompactBins).toEqual({
      Type: 'Map',
      Comment: "One Compact per bin; the items are the plan's BinItem list in S3",
      Label: 'CompactBins',
      ItemReader: {
        Resource: `arn:${refPlaceholder('AWS::Partition')}:states:::s3:getObject`,
        ReaderConfig: { InputType: 'JSON' },
        Parameters: { 'Bucket.$': '$.plan.planBucket', 'Key.$': '$.plan.itemsKey' },
      },
      ItemSelector: {
        'table.$': '$$.Map.Item.Value.table',
        'planId.$': '$$.Map.Item.Value.planId',
        'binId.$': '$$.Map.Item.Value.binId',
        'partition.$': '$$.Map.Item.Value.partition',
        'version.$': '$$.Map.Item.Value.version',
        'binKey.$': '$$.Map.Item.Value.binKey',
        'inputFiles.$': '$$.Map.Item.Value.inputFiles',
        'inputBytes.$': '$$.Map.Item.Value.inputBytes',
        'executionId.$': '$$.Execution.Id',
      },
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
        StartAt: 'Compact',
        States: {
          Compact: { Type: 'Task', Resource: fnArn(pipeline.compactFunction), Retry: retries, End: true },
        },
      },
      MaxConcurrency: 10,
      ToleratedFailurePercentage: 10,
      ResultWriter: {
        Resource: `arn:${refPlaceholder('AWS::Partition')}:states:::s3:putObject`,
        Parameters: { Bucket: refPlaceholder(logicalId(pipeline.goldBucket)), Prefix: '_compactor/sensors/results/' },
        WriterConfig: { OutputType: 'JSON', Transformation: 'COMPACT' },
      },
      ResultPath: '$.compaction',
      Catch: toReport,
      Next: 'AnythingToMerge',
    });
  });

  it('merges the intermediate files of the plan\'s merges list in a second Distributed Map before the swap, when there are any', () => {
    expect(asl.States.AnythingToMerge).toEqual({
      Type: 'Choice',
      Comment: 'Partitions compacted into more bins than target-size files are merged before the swap',
      Choices: [
        {
          And: [
            { Variable: '$.plan.merges', IsPresent: true },
            { Variable: '$.plan.merges', NumericGreaterThan: 0 },
          ],
          Next: 'MergeFiles',
        },
      ],
      Default: 'Swap',
    });
    expect(asl.States.MergeFiles).toEqual({
      Type: 'Map',
      Comment: "One Merge per merge of a partition's intermediate files; the items are the plan's MergeItem list in S3",
      Label: 'MergeFiles',
      ItemReader: {
        Resource: `arn:${refPlaceholder('AWS::Partition')}:states:::s3:getObject`,
        ReaderConfig: { InputType: 'JSON' },
        Parameters: { 'Bucket.$': '$.plan.planBucket', 'Key.$': '$.plan.mergeItemsKey' },
      },
      ItemSelector: {
        'table.$': '$$.Map.Item.Value.table',
        'planId.$': '$$.Map.Item.Value.planId',
        'mergeId.$': '$$.Map.Item.Value.mergeId',
        'partition.$': '$$.Map.Item.Value.partition',
        'version.$': '$$.Map.Item.Value.version',
        'mergeKey.$': '$$.Map.Item.Value.mergeKey',
        'bins.$': '$$.Map.Item.Value.bins',
        'estimatedInputBytes.$': '$$.Map.Item.Value.estimatedInputBytes',
        'executionId.$': '$$.Execution.Id',
      },
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
        StartAt: 'Merge',
        States: {
          Merge: { Type: 'Task', Resource: fnArn(pipeline.mergeFunction), Retry: retries, End: true },
        },
      },
      MaxConcurrency: 10,
      ToleratedFailurePercentage: 10,
      ResultWriter: {
        Resource: `arn:${refPlaceholder('AWS::Partition')}:states:::s3:putObject`,
        Parameters: { Bucket: refPlaceholder(logicalId(pipeline.goldBucket)), Prefix: '_compactor/sensors/results/' },
        WriterConfig: { OutputType: 'JSON', Transformation: 'COMPACT' },
      },
      ResultPath: '$.merging',
      Catch: toReport,
      Next: 'Swap',
    });
  });

  it('swaps with the plan, then retires with the plan\'s table, each told the execution id', () => {
    expect(asl.States.Swap).toEqual({
      Type: 'Task',
      Resource: fnArn(pipeline.swapFunction),
      Parameters: { 'plan.$': '$.plan', 'executionId.$': '$$.Execution.Id' },
      ResultPath: '$.swap',
      Retry: retries,
      Catch: toReport,
      Next: 'Lifecycle',
    });
    expect(asl.States.Lifecycle).toEqual({
      Type: 'Task',
      Resource: fnArn(pipeline.lifecycleFunction),
      Parameters: { 'table.$': '$.plan.table', 'dryRun.$': '$.plan.dryRun', 'executionId.$': '$$.Execution.Id' },
      ResultPath: '$.lifecycle',
      Retry: retries,
      Catch: toReport,
      Next: 'Report',
    });
  });

  it('writes the run report with the whole state on every path, keeping its own error apart from the run\'s', () => {
    expect(asl.States.Report).toEqual({
      Type: 'Task',
      Resource: fnArn(pipeline.reportFunction),
      Parameters: { 'state.$': '$', 'executionId.$': '$$.Execution.Id', 'startedAt.$': '$$.Execution.StartTime' },
      ResultPath: '$.report',
      Retry: retries,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.reportError', Next: 'RunOutcome' }],
      Next: 'RunOutcome',
    });
    expect(asl.States.ReportFailed).toEqual({ Type: 'Fail', Comment: 'The run report could not be written', ErrorPath: '$.reportError.Error', CausePath: '$.reportError.Cause' });
    expect(asl.States.Skipped).toEqual({
      Type: 'Pass',
      Comment: 'Another run holds the table and the request said to skip: nothing was changed',
      Parameters: { 'outcome.$': '$.report.outcome', 'report.$': '$.report' },
      End: true,
    });
  });

  it('ends with the step\'s error, the report\'s error, a skip, IncompletePartitions naming them, or success (also when no swap ran)', () => {
    expect(asl.States.RunOutcome).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.error', IsPresent: true, Next: 'RunFailed' },
        { Variable: '$.reportError', IsPresent: true, Next: 'ReportFailed' },
        { Variable: '$.plan.skipped', IsPresent: true, Next: 'Skipped' },
        {
          And: [
            { Variable: '$.swap.incomplete', IsPresent: true },
            { Variable: '$.swap.incomplete', NumericGreaterThan: 0 },
          ],
          Next: 'DescribeIncomplete',
        },
      ],
      Default: 'Done',
    });
    expect(asl.States.DescribeIncomplete).toEqual({
      Type: 'Pass',
      Parameters: {
        'cause.$': "States.Format('{} partition(s) were left at their previous version: {}', $.swap.incomplete, States.JsonToString($.swap.incompletePartitions))",
      },
      ResultPath: '$.incomplete',
      Next: 'IncompletePartitions',
    });
    expect(asl.States.IncompletePartitions).toEqual({ Type: 'Fail', Error: 'IncompletePartitions', CausePath: '$.incomplete.cause' });
    expect(asl.States.Done).toEqual({ Type: 'Succeed' });
  });

  it('fails a run with the failing step\'s own error and cause', () => {
    expect(asl.States.RunFailed).toEqual({
      Type: 'Fail',
      Comment: "A step failed: the error and cause are the failing step's",
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
  });

  it('never retries a terminal error, and retries nothing else but Lambda service errors and RetryableError', () => {
    expect(TERMINAL_ERRORS).toEqual(retries[0].ErrorEquals);
    expect([NO_RETRY_ON_TERMINAL.maxAttempts, LAMBDA_SERVICE_RETRY.maxAttempts, RETRYABLE_ERROR_RETRY.maxAttempts]).toEqual([0, 6, 3]);
    const tasks = [asl.States.Plan, asl.States.CompactBins.ItemProcessor.States.Compact, asl.States.Swap, asl.States.Lifecycle, asl.States.Report];
    for (const t of tasks) {
      const retried = t.Retry.filter((r: { MaxAttempts: number }) => r.MaxAttempts > 0).flatMap((r: { ErrorEquals: string[] }) => r.ErrorEquals);
      expect(retried.filter((e: string) => TERMINAL_ERRORS.includes(e as never) || e === 'States.ALL')).toEqual([]);
    }
  });

  it('uses JSONPath only (the offline interpreter ignores JSONata)', () => {
    const text = JSON.stringify(asl);
    expect(asl.QueryLanguage).toBeUndefined();
    for (const jsonataOnly of ['JSONata', '"Arguments"', '"Output"', '"Assign"', '"Condition"', '{%']) expect(text).not.toContain(jsonataOnly);
  });

  it('takes the Map concurrency and tolerated failure percentage from props', () => {
    const other = pipelineStack({ maxConcurrency: 40, toleratedFailurePercentage: 25 });
    const map = definitionOf(other.template).States.CompactBins;
    expect([map.MaxConcurrency, map.ToleratedFailurePercentage]).toEqual([40, 25]);
  });
});

describe('state machine', () => {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const sm = machines[logicalId(pipeline.stateMachine)];

  it('is a STANDARD state machine logging everything with execution data and tracing with X-Ray', () => {
    expect(Object.keys(machines)).toHaveLength(1);
    expect(sm.Properties.StateMachineType).toBe('STANDARD');
    expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
    const logGroupId = sm.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    expect(sm.Properties.LoggingConfiguration).toEqual({
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }],
      IncludeExecutionData: true,
      Level: 'ALL',
    });
    expect(template.findResources('AWS::Logs::LogGroup')[logGroupId].Properties).toEqual({ RetentionInDays: 30 });
  });

  it('lets its role read only the items lists and write only the Map results of this table', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter(
      (p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([ref(pipeline.stateMachine.role)]),
    );
    const s3Statements = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((st: { Action: string | string[] }) => [st.Action].flat().some((a) => a.startsWith('s3:')));
    expect(s3Statements).toEqual([
      {
        Action: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        Effect: 'Allow',
        Resource: objectsArn(pipeline.goldBucket, '_compactor/sensors/results/*'),
      },
      {
        Action: 's3:GetObject',
        Effect: 'Allow',
        Resource: [objectsArn(pipeline.goldBucket, '_compactor/sensors/plans/*/items.json'), objectsArn(pipeline.goldBucket, '_compactor/sensors/plans/*/merges.json')],
      },
    ]);
    const invokes = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((st: { Action: string }) => st.Action === 'lambda:InvokeFunction')
      .map((st: { Resource: unknown[] }) => st.Resource[0]);
    expect(invokes).toEqual(
      expect.arrayContaining([pipeline.planFunction, pipeline.compactFunction, pipeline.mergeFunction, pipeline.swapFunction, pipeline.lifecycleFunction, pipeline.reportFunction].map(arnOf)),
    );
    expect(invokes).toHaveLength(6);
    const mapPolicy = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).find((st: { Action: string }) => st.Action === 'states:StartExecution');
    expect(mapPolicy).toEqual({ Action: 'states:StartExecution', Effect: 'Allow', Resource: ref(pipeline.stateMachine) });
  });
});

describe('schedule', () => {
  it('starts a run of the table every hour with a RunRequest the plan step accepts, skipping when a run is still going', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(1);
    const rule = rules[0].Properties;
    expect(rule.ScheduleExpression).toBe('rate(1 hour)');
    expect(rule.State).toBe('ENABLED');
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0].Arn).toEqual(ref(pipeline.stateMachine));
    expect(JSON.parse(rule.Targets[0].Input)).toEqual({ table: 'sensors', ifRunning: 'skip' });
    expect(parseRunRequest(JSON.parse(rule.Targets[0].Input), { table: 'sensors', partitionKeys: ['dt', 'hour'] })).toEqual({ table: 'sensors', ifRunning: 'skip' });
  });

  it('runs on another schedule when given one', () => {
    const other = pipelineStack({ schedule: events.Schedule.cron({ minute: '15', hour: '*/2' }) });
    const rule = Object.values(other.template.findResources('AWS::Events::Rule'))[0].Properties;
    expect(rule.ScheduleExpression).toBe('cron(15 */2 * * ? *)');
  });
});
