import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { SENSORS_COLUMNS } from '../../bin/app';
import { MetricNames } from '../../lambdas/core/metrics';
import { CompactionPipeline } from '../../lib/compaction-pipeline';
import { AlarmIds } from '../../lib/compaction-monitoring';
import { logicalId, pipelineStack, ref, TEST_CONTEXT } from './pipeline-app';

const { pipeline, template } = pipelineStack();
const alarms = template.findResources('AWS::CloudWatch::Alarm');
const alarmOf = (id: string) => alarms[logicalId(pipeline.monitoring.alarms[id as keyof typeof AlarmIds])].Properties;
const topic = ref(pipeline.monitoring.topic);
const table = [{ Name: 'table', Value: 'sensors' }];
const stateMachine = [{ Name: 'StateMachineArn', Value: ref(pipeline.stateMachine) }];
const notify = { AlarmActions: [topic], OKActions: [topic] };

describe('alarms', () => {
  it('creates exactly one alarm per documented condition, each notifying the topic on alarm and back to OK', () => {
    expect(Object.keys(alarms)).toHaveLength(Object.keys(AlarmIds).length);
    for (const id of Object.values(AlarmIds)) {
      expect(alarmOf(id)).toMatchObject({ ...notify, AlarmName: `Test-sensors-${id}` });
      expect(alarmOf(id).AlarmDescription).toMatch(/See README, "Operating it"\.$/);
    }
  });

  it.each([
    ['ExecutionsFailed', 'ExecutionsFailed'],
    ['ExecutionsTimedOut', 'ExecutionsTimedOut'],
    ['ExecutionsAborted', 'ExecutionsAborted'],
  ])('alarms on the first %s execution of the state machine', (id, metricName) => {
    expect(alarmOf(id)).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: metricName,
      Dimensions: stateMachine,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarms when the oldest uncompacted object is older than 6 hours, on the metric the plan step emits', () => {
    expect(alarmOf('BacklogAge')).toMatchObject({
      Namespace: 'S3Compactor',
      MetricName: MetricNames.OldestUncompactedAge,
      Dimensions: table,
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: 6 * 3600,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
    });
  });

  it('alarms on any quarantined record or object', () => {
    const a = alarmOf('Quarantine');
    expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    expect(a.Metrics).toEqual([
      { Expression: 'records + objects', Id: 'expr_1', Label: 'quarantined', ReturnData: true },
      { Id: 'records', MetricStat: { Metric: { Dimensions: table, MetricName: 'RecordsQuarantined', Namespace: 'S3Compactor' }, Period: 3600, Stat: 'Sum' }, ReturnData: false },
      { Id: 'objects', MetricStat: { Metric: { Dimensions: table, MetricName: 'ObjectsQuarantined', Namespace: 'S3Compactor' }, Period: 3600, Stat: 'Sum' }, ReturnData: false },
    ]);
  });

  it('alarms on any partition left incomplete', () => {
    expect(alarmOf('IncompletePartitions')).toMatchObject({
      Namespace: 'S3Compactor',
      MetricName: MetricNames.PartitionsIncomplete,
      Dimensions: table,
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('alarms when no run planned for 6 hours, missing data counting as no run', () => {
    expect(alarmOf('NoRecentRun')).toMatchObject({
      Namespace: 'S3Compactor',
      MetricName: MetricNames.RunsPlanned,
      Dimensions: table,
      Statistic: 'Sum',
      Period: 3600,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 6,
      DatapointsToAlarm: 6,
      TreatMissingData: 'breaching',
    });
  });

  it('takes other thresholds, and refuses ones that are not whole hours', () => {
    const other = pipelineStack({ backlogAgeAlarm: Duration.hours(26), noRunAlarm: Duration.hours(30) });
    const a = (id: string) => other.template.findResources('AWS::CloudWatch::Alarm')[logicalId(other.pipeline.monitoring.alarms[id as keyof typeof AlarmIds])].Properties;
    expect(a('BacklogAge').Threshold).toBe(26 * 3600);
    expect([a('NoRecentRun').EvaluationPeriods, a('NoRecentRun').DatapointsToAlarm]).toEqual([30, 30]);
    expect(() => pipelineStack({ noRunAlarm: Duration.minutes(90), backlogAgeAlarm: Duration.days(400) })).toThrow(
      'CompactionPipeline: invalid props:\n- backlogAgeAlarm must be whole hours from 1 to 8760, got 400 days\n- noRunAlarm must be whole hours from 1 to 168, got 1 hour 30 minutes',
    );
  });
});

describe('alarm topic', () => {
  it('creates a topic that takes TLS only and only this account\'s alarms', () => {
    expect(Object.keys(template.findResources('AWS::SNS::Topic'))).toEqual([logicalId(pipeline.monitoring.topic as never)]);
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    expect(policies[0].Properties.Topics).toEqual([topic]);
    expect(policies[0].Properties.PolicyDocument.Statement).toEqual([
      { Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Effect: 'Deny', Principal: '*', Resource: topic, Sid: 'AllowPublishThroughSSLOnly' },
      {
        Action: 'sns:Publish',
        Condition: {
          ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']] } },
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        },
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Resource: topic,
        Sid: 'AllowThisAccountsAlarms',
      },
    ]);
  });

  it('notifies a topic of your own instead, creating none', () => {
    const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Test');
    const alarmTopic = sns.Topic.fromTopicArn(stack, 'Pager', 'arn:aws:sns:us-east-1:111122223333:pager');
    new CompactionPipeline(stack, 'Pipeline', { tableName: 'sensors', columns: SENSORS_COLUMNS, alarmTopic });
    const other = Template.fromStack(stack);
    expect(other.findResources('AWS::SNS::Topic')).toEqual({});
    expect(other.findResources('AWS::SNS::TopicPolicy')).toEqual({});
    for (const a of Object.values(other.findResources('AWS::CloudWatch::Alarm'))) {
      expect([a.Properties.AlarmActions, a.Properties.OKActions]).toEqual([['arn:aws:sns:us-east-1:111122223333:pager'], ['arn:aws:sns:us-east-1:111122223333:pager']]);
    }
  });
});

describe('dashboard', () => {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);

  it('graphs every metric the handlers emit, the alarms and the state machine\'s runs', () => {
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0].Properties.DashboardName).toBe('Test-sensors-compaction');
    for (const name of Object.values(MetricNames)) expect({ name, graphed: body.includes(`\\"${name}\\"`) }).toEqual({ name, graphed: true });
    for (const id of Object.values(AlarmIds)) expect(body).toContain(logicalId(pipeline.monitoring.alarms[id]));
    for (const m of ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) expect(body).toContain(`\\"${m}\\"`);
    for (const reason of ['run-cap', 'below-min-input-files', 'quiet-period', 'up-to-date', 'key-too-long', 'file-too-large']) expect(body).toContain(`\\"reason\\",\\"${reason}\\"`);
  });

  it('shows each step\'s Lambda duration and errors', () => {
    for (const fn of [pipeline.planFunction, pipeline.compactFunction, pipeline.mergeFunction, pipeline.swapFunction, pipeline.lifecycleFunction, pipeline.reportFunction]) {
      expect(body).toContain(logicalId(fn));
    }
    expect((body.match(/\\"Duration\\"/g) ?? []).length).toBe(6);
    expect((body.match(/\\"Errors\\"/g) ?? []).length).toBe(6);
  });
});

