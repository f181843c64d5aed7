import { Template } from 'aws-cdk-lib/assertions';
import { StackOutputs, stackOutputKey } from '../../lambdas/core/outputs';
import { ref, sensorsApp } from './pipeline-app';

const { stack, pipeline } = sensorsApp();
const template = Template.fromStack(stack);
const gold = ref(pipeline.goldBucket);
const url = (bucket: unknown, prefix: string) => ({ 'Fn::Join': ['', ['s3://', bucket, prefix]] });

describe('stack outputs', () => {
  it('exports the state machine, buckets, Glue database and table, the locations of the table\'s objects, its run reports, dashboard and alarm topic, keyed by table', () => {
    expect(template.toJSON().Outputs).toEqual({
      SensorsStateMachineArn: { Description: 'sensors: the compaction workflow (start, redrive and rerun runs here)', Value: ref(pipeline.stateMachine) },
      SensorsLandingBucketName: { Description: 'sensors: bucket the small files land in', Value: ref(pipeline.landingBucket) },
      SensorsGoldBucketName: { Description: 'sensors: bucket of the compacted data and the pipeline\'s own objects', Value: gold },
      SensorsGlueDatabaseName: { Description: 'sensors: Glue database of the table', Value: 'compactor' },
      SensorsGlueTableName: { Description: 'sensors: Glue table: read the table through it (partitions point at verified versions)', Value: 'sensors' },
      SensorsPartitionKeys: { Description: 'sensors: partition keys in order (the CLI checks an input\'s partitions against them)', Value: 'dt,hour' },
      SensorsLandingLocation: { Description: 'sensors: where the table\'s small files land', Value: url(ref(pipeline.landingBucket), '/sensors/') },
      SensorsTableLocation: { Description: 'sensors: the table location; each partition has v= version folders below it', Value: url(gold, '/sensors/') },
      SensorsSystemLocation: { Description: 'sensors: plans, manifests, partition state, run lease and Map results', Value: url(gold, '/_compactor/sensors/') },
      SensorsQuarantineLocation: { Description: 'sensors: set-aside records with file, line and reason', Value: url(gold, '/quarantine/sensors/') },
      SensorsReportsLocation: { Description: 'sensors: one run report per execution (<execution>/report.json and report.md)', Value: url(gold, '/_compactor/sensors/reports/') },
      SensorsDashboardUrl: {
        Description: 'sensors: CloudWatch dashboard of the runs, backlog, quarantine and cost drivers',
        Value: { 'Fn::Join': ['', ['https://', { Ref: 'AWS::Region' }, '.console.aws.amazon.com/cloudwatch/home?region=', { Ref: 'AWS::Region' }, '#dashboards:name=', ref(pipeline.monitoring.dashboard)]] },
      },
      SensorsAlarmTopicArn: { Description: 'sensors: SNS topic the alarms notify', Value: ref(pipeline.monitoring.topic) },
    });
    expect(Object.keys(pipeline.outputs)).toEqual(Object.keys(template.toJSON().Outputs).map((k) => k.replace(/^Sensors/, '')));
  });

  it('spells output keys from the table name, which tools use to find a table\'s outputs', () => {
    expect(stackOutputKey('sensors', StackOutputs.StateMachineArn)).toBe('SensorsStateMachineArn');
    expect(stackOutputKey('sensor_readings_v2', StackOutputs.TableLocation)).toBe('SensorReadingsV2TableLocation');
  });

  // A changed logical id would replace a retained bucket (a new, empty one) and orphan the old one.
  it('keeps the logical ids of a single pipeline\'s data resources', () => {
    const ids = (type: string) => Object.keys(template.findResources(type)).sort();
    expect(ids('AWS::S3::Bucket')).toEqual(['SensorsStorageAccessLogs85B4182D', 'SensorsStorageGold1E55BD04', 'SensorsStorageLanding5BE2C67B']);
    expect(ids('AWS::Glue::Database')).toEqual(['SensorsCatalogDatabase7EAB30E1']);
    expect(ids('AWS::Glue::Table')).toEqual(['SensorsCatalogTableFF91425B']);
    expect(ids('AWS::StepFunctions::StateMachine')).toEqual(['SensorsWorkflowStateMachine82133611']);
  });
});
