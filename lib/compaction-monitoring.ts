import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StepName } from '../lambdas/core/cost';
import { HOLD_REASONS, METRICS_NAMESPACE, MetricDimensions, MetricNames, type MetricName } from '../lambdas/core/metrics';

/** Alarm ids: what the README's "Operating it" section explains, one by one. */
export const AlarmIds = {
  ExecutionsFailed: 'ExecutionsFailed',
  ExecutionsTimedOut: 'ExecutionsTimedOut',
  ExecutionsAborted: 'ExecutionsAborted',
  BacklogAge: 'BacklogAge',
  Quarantine: 'Quarantine',
  IncompletePartitions: 'IncompletePartitions',
  NoRecentRun: 'NoRecentRun',
} as const;
export type AlarmId = (typeof AlarmIds)[keyof typeof AlarmIds];

export interface CompactionMonitoringProps {
  readonly tableName: string;
  readonly stateMachine: sfn.IStateMachine;
  readonly functions: Readonly<Record<StepName, lambda.IFunction>>;
  /**
   * Topic the alarms notify, on alarm and when back to OK.
   * @default a new topic (TLS-only publishing)
   */
  readonly alarmTopic?: sns.ITopic;
  /** Alarm when the oldest landing object no committed version holds is older than this (whole hours). */
  readonly backlogAgeAlarm: Duration;
  /** Alarm when no run has planned for this long (whole hours, 1-168). */
  readonly noRunAlarm: Duration;
}

const HOUR = Duration.hours(1);
const FIVE_MINUTES = Duration.minutes(5);

/**
 * Dashboard and alarms of one pipeline, on plain CloudWatch constructs: each alarm is written out
 * here with the metric names the handlers emit (lambdas/core/metrics.ts), so a template test can
 * assert it exactly.
 */
export class CompactionMonitoring extends Construct {
  public readonly topic: sns.ITopic;
  public readonly alarms: Readonly<Record<AlarmId, cw.Alarm>>;
  public readonly dashboard: cw.Dashboard;

  constructor(scope: Construct, id: string, props: CompactionMonitoringProps) {
    super(scope, id);
    const table = props.tableName;
    const prefix = `${Stack.of(this).stackName}-${table}`;
    this.topic = props.alarmTopic ?? this.createTopic(table);

    const metric = (name: MetricName, statistic: string = cw.Stats.SUM, period = HOUR, reason?: string) =>
      new cw.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { [MetricDimensions.Table]: table, ...(reason ? { [MetricDimensions.Reason]: reason } : {}) },
        statistic,
        period,
        ...(reason ? { label: reason } : {}),
      });
    const sfnMetric = { period: FIVE_MINUTES, statistic: cw.Stats.SUM };

    const alarm = (alarmId: AlarmId, description: string, props: Omit<cw.AlarmProps, 'alarmName' | 'alarmDescription'>) => {
      const a = new cw.Alarm(this, alarmId, { alarmName: `${prefix}-${alarmId}`, alarmDescription: `${description} See README, "Operating it".`, ...props });
      a.addAlarmAction(new actions.SnsAction(this.topic));
      a.addOkAction(new actions.SnsAction(this.topic));
      return a;
    };
    const atLeastOne = { threshold: 1, evaluationPeriods: 1, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: cw.TreatMissingData.NOT_BREACHING };
    const aboveZero = { threshold: 0, evaluationPeriods: 1, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cw.TreatMissingData.NOT_BREACHING };
    const noRunHours = props.noRunAlarm.toHours();

    this.alarms = {
      ExecutionsFailed: alarm(AlarmIds.ExecutionsFailed, `A compaction run of ${table} failed: its error names the step and the cause.`, {
        metric: props.stateMachine.metricFailed(sfnMetric),
        ...atLeastOne,
      }),
      ExecutionsTimedOut: alarm(AlarmIds.ExecutionsTimedOut, `A compaction run of ${table} timed out.`, { metric: props.stateMachine.metricTimedOut(sfnMetric), ...atLeastOne }),
      ExecutionsAborted: alarm(AlarmIds.ExecutionsAborted, `A compaction run of ${table} was stopped from outside (its lease is released by the next run).`, {
        metric: props.stateMachine.metricAborted(sfnMetric),
        ...atLeastOne,
      }),
      BacklogAge: alarm(AlarmIds.BacklogAge, `The oldest uncompacted landing object of ${table} is older than ${props.backlogAgeAlarm.toHours()} h: compaction is falling behind or a partition is held.`, {
        metric: metric(MetricNames.OldestUncompactedAge, cw.Stats.MAXIMUM),
        threshold: props.backlogAgeAlarm.toSeconds(),
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      }),
      Quarantine: alarm(AlarmIds.Quarantine, `Records or objects of ${table} went to quarantine: a producer wrote data the table cannot hold.`, {
        metric: new cw.MathExpression({
          expression: 'records + objects',
          usingMetrics: { records: metric(MetricNames.RecordsQuarantined), objects: metric(MetricNames.ObjectsQuarantined) },
          period: HOUR,
          label: 'quarantined',
        }),
        ...aboveZero,
      }),
      IncompletePartitions: alarm(AlarmIds.IncompletePartitions, `A run of ${table} left partitions at their previous version (a bin failed or its output did not verify).`, {
        metric: metric(MetricNames.PartitionsIncomplete),
        ...aboveZero,
      }),
      NoRecentRun: alarm(AlarmIds.NoRecentRun, `No run of ${table} has planned for ${noRunHours} h: the schedule is off, runs fail before planning, or one run holds the table.`, {
        metric: metric(MetricNames.RunsPlanned),
        threshold: 1,
        evaluationPeriods: noRunHours,
        datapointsToAlarm: noRunHours,
        comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.BREACHING,
      }),
    };

    const graph = (title: string, left: cw.IMetric[], right: cw.IMetric[] = [], width = 8) => new cw.GraphWidget({ title, left, right, width, height: 6 });
    const fns = Object.entries(props.functions) as Array<[StepName, lambda.IFunction]>;
    const s3 = [MetricNames.S3ListRequests, MetricNames.S3GetRequests, MetricNames.S3PutRequests, MetricNames.S3CopyRequests, MetricNames.S3DeleteRequests, MetricNames.S3HeadRequests];
    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: `${prefix}-compaction`.replace(/[^A-Za-z0-9_-]/g, '-'),
      defaultInterval: Duration.days(1),
      widgets: [
        [
          new cw.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 8, height: 6 }),
          graph('Runs', [
            props.stateMachine.metricStarted(sfnMetric),
            props.stateMachine.metricSucceeded(sfnMetric),
            props.stateMachine.metricFailed(sfnMetric),
            props.stateMachine.metricTimedOut(sfnMetric),
            props.stateMachine.metricAborted(sfnMetric),
          ], [metric(MetricNames.RunsPlanned, cw.Stats.SUM, FIVE_MINUTES), metric(MetricNames.RunsSkipped, cw.Stats.SUM, FIVE_MINUTES)]),
          graph('Backlog: oldest uncompacted object (s), objects and bytes left by the caps', [metric(MetricNames.OldestUncompactedAge, cw.Stats.MAXIMUM)], [
            metric(MetricNames.BacklogObjects, cw.Stats.MAXIMUM),
            metric(MetricNames.BacklogBytes, cw.Stats.MAXIMUM),
          ]),
        ],
        [
          graph('Planned', [metric(MetricNames.BinsPlanned), metric(MetricNames.PartitionsPlanned)], [metric(MetricNames.ObjectsPlanned), metric(MetricNames.BytesPlanned)]),
          graph('Objects in, files out', [metric(MetricNames.ObjectsIn)], [metric(MetricNames.FilesOut)]),
          graph('Bytes and rows in and out', [metric(MetricNames.BytesIn), metric(MetricNames.BytesOut)], [metric(MetricNames.RowsIn), metric(MetricNames.RowsOut)]),
        ],
        [
          graph('Bins and quarantine', [metric(MetricNames.BinsCompacted), metric(MetricNames.BinsFailed)], [metric(MetricNames.RecordsQuarantined), metric(MetricNames.ObjectsQuarantined)]),
          graph('Partitions committed, incomplete; held by reason', [metric(MetricNames.PartitionsCommitted), metric(MetricNames.PartitionsIncomplete)], HOLD_REASONS.map((r) => metric(MetricNames.PartitionsHeld, cw.Stats.MAXIMUM, HOUR, r))),
          graph('Objects retired after their grace period', [metric(MetricNames.ObjectsRetired)]),
        ],
        [
          graph('S3 requests by kind', s3.map((n) => metric(n))),
          graph('Cost per run and per million objects (USD, from the price table)', [metric(MetricNames.RunCost)], [metric(MetricNames.CostPerMillionObjects, cw.Stats.AVERAGE)]),
          graph('Run duration (s)', [metric(MetricNames.RunDuration, cw.Stats.MAXIMUM)]),
        ],
        [graph('Merges: intermediate files in, target-size files out', [metric(MetricNames.MergesDone)], [metric(MetricNames.FilesMerged), metric(MetricNames.MergedFilesOut)], 24)],
        [
          graph('Step durations (p95, ms)', fns.map(([step, fn]) => fn.metricDuration({ statistic: 'p95', period: HOUR, label: step })), [], 12),
          graph('Step errors and throttles', fns.map(([step, fn]) => fn.metricErrors({ period: HOUR, label: `${step} errors` })), fns.map(([step, fn]) => fn.metricThrottles({ period: HOUR, label: `${step} throttles` })), 12),
        ],
      ],
    });
  }

  /** A topic only this account's alarms may publish to, over TLS only (a topic policy replaces SNS's default one). */
  private createTopic(table: string): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: `s3-compactor alarms of ${table}`, enforceSSL: true });
    const stack = Stack.of(this);
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisAccountsAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      }),
    );
    return topic;
  }
}
