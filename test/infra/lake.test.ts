import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { SENSORS_COLUMNS } from '../../bin/app';
import { CompactionLake } from '../../lib/compaction-lake';
import { CompactionPipeline } from '../../lib/compaction-pipeline';
import { arnOf, logicalId, objectsArn, ref, TEST_CONTEXT, twoTableStack } from './pipeline-app';

const { lake, sensors, orders, template } = twoTableStack();
const expiry = (table: string, quarantineDays = 365) => [
  { Id: `ExpirePlans-${table}`, Status: 'Enabled', Prefix: `_compactor/${table}/plans/`, ExpirationInDays: 30 },
  { Id: `ExpireMapResults-${table}`, Status: 'Enabled', Prefix: `_compactor/${table}/results/`, ExpirationInDays: 30 },
  { Id: `ExpireRetiredManifests-${table}`, Status: 'Enabled', Prefix: `_compactor/${table}/retired/manifests/`, ExpirationInDays: 90 },
  { Id: `ExpireRunReports-${table}`, Status: 'Enabled', Prefix: `_compactor/${table}/reports/`, ExpirationInDays: 90 },
  { Id: `ExpireQuarantine-${table}`, Status: 'Enabled', Prefix: `quarantine/${table}/`, ExpirationInDays: quarantineDays },
];

describe('two tables sharing one lake', () => {
  it('creates the buckets, the key and the Glue database once, and each table\'s own resources', () => {
    expect(Object.keys(template.findResources('AWS::S3::Bucket')).sort()).toEqual([lake.landingBucket, lake.goldBucket, lake.accessLogsBucket!].map(logicalId).sort());
    expect(Object.keys(template.findResources('AWS::KMS::Key'))).toEqual([logicalId(lake.encryptionKey!)]);
    expect(Object.keys(template.findResources('AWS::Glue::Database'))).toEqual([logicalId(lake.database!)]);
    template.resourceCountIs('AWS::Glue::Table', 2);
    template.resourceCountIs('AWS::Lambda::Function', 12);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    template.resourceCountIs('AWS::Events::Rule', 2);
    for (const p of [sensors, orders]) {
      expect([p.landingBucket, p.goldBucket, p.databaseName, p.accessLogsBucket]).toEqual([lake.landingBucket, lake.goldBucket, 'compactor', undefined]);
    }
  });

  it('creates each table in the lake\'s database, at its own gold prefix, after the database', () => {
    const tables = Object.values(template.findResources('AWS::Glue::Table'));
    expect(tables.map((t) => [t.Properties.DatabaseName, t.Properties.TableInput.Name, t.Properties.TableInput.StorageDescriptor.Location, t.DependsOn])).toEqual([
      ['compactor', 'sensors', { 'Fn::Join': ['', ['s3://', ref(lake.goldBucket), '/sensors/']] }, [logicalId(lake.database!)]],
      ['compactor', 'orders', { 'Fn::Join': ['', ['s3://', ref(lake.goldBucket), '/orders/']] }, [logicalId(lake.database!)]],
    ]);
    expect(Object.values(template.findResources('AWS::Glue::Table'))[1].Properties.TableInput.PartitionKeys).toEqual([{ Name: 'dt', Type: 'string' }]);
  });

  it('gives the shared gold bucket each table\'s own tiering and retention rules', () => {
    const gold = template.findResources('AWS::S3::Bucket')[logicalId(lake.goldBucket)];
    expect(gold.Properties.LifecycleConfiguration.Rules.slice(1)).toEqual([
      { Id: 'TierTableData-sensors', Status: 'Enabled', Prefix: 'sensors/', Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }] },
      ...expiry('sensors'),
      { Id: 'TierTableData-orders', Status: 'Enabled', Prefix: 'orders/', Transitions: [{ StorageClass: 'INTELLIGENT_TIERING', TransitionInDays: 0 }] },
      ...expiry('orders', 730),
    ]);
    const landing = template.findResources('AWS::S3::Bucket')[logicalId(lake.landingBucket)];
    expect(landing.Properties.LifecycleConfiguration.Rules.map((r: { Id: string }) => r.Id)).toEqual(['AbortIncompleteMultipartUploads']);
  });

  it('names each state machine after its table and starts it with its own table', () => {
    const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).map((m) => m.Properties.StateMachineName);
    expect(machines).toEqual(['Lake-sensors-compaction', 'Lake-orders-compaction']);
    const inputs = Object.values(template.findResources('AWS::Events::Rule')).map((r) => r.Properties.Targets[0].Input);
    expect(inputs).toEqual(['{"table":"sensors","ifRunning":"skip"}', '{"table":"orders","ifRunning":"skip"}']);
  });

  it('scopes every role of a table to that table\'s prefixes and Glue table', () => {
    for (const [p, other] of [
      [sensors, 'orders'],
      [orders, 'sensors'],
    ] as const) {
      for (const fn of [p.planFunction, p.compactFunction, p.swapFunction, p.lifecycleFunction]) {
        const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((x) => JSON.stringify(x.Properties.Roles) === JSON.stringify([ref(fn.role!)]));
        const doc = JSON.stringify(policy);
        expect(doc).toContain(`/_compactor/${p.tableName}/`);
        expect(doc).not.toContain(other);
      }
      const env = template.findResources('AWS::Lambda::Function')[logicalId(p.swapFunction)].Properties.Environment.Variables;
      expect(env).toMatchObject({ TABLE_NAME: p.tableName, GLUE_DATABASE: 'compactor', LANDING_BUCKET: ref(lake.landingBucket), GOLD_BUCKET: ref(lake.goldBucket) });
    }
    const statementsOf = (role: unknown) => Object.values(template.findResources('AWS::IAM::Policy')).find((x) => JSON.stringify(x.Properties.Roles) === JSON.stringify([ref(role as never)]))!.Properties.PolicyDocument.Statement;
    expect(statementsOf(orders.lifecycleFunction.role)).toContainEqual({ Action: ['s3:GetObject', 's3:DeleteObject'], Effect: 'Allow', Resource: objectsArn(lake.goldBucket, '_compactor/orders/manifests/*') });
    // The lake's one key, for both tables' roles.
    for (const p of [sensors, orders]) {
      expect(statementsOf(p.compactFunction.role).slice(-2)).toEqual([
        { Action: 'kms:Decrypt', Effect: 'Allow', Resource: arnOf(lake.encryptionKey!) },
        { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: arnOf(lake.encryptionKey!) },
      ]);
      expect(statementsOf(p.stateMachine.role).slice(-1)).toEqual([{ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: arnOf(lake.encryptionKey!) }]);
    }
  });

  it('exports each table\'s outputs under its own keys, pointing at the shared buckets', () => {
    const outputs = template.toJSON().Outputs;
    expect(Object.keys(outputs).sort()).toEqual(
      ['Sensors', 'Orders']
        .flatMap((t) => ['StateMachineArn', 'LandingBucketName', 'GoldBucketName', 'GlueDatabaseName', 'GlueTableName', 'PartitionKeys', 'LandingLocation', 'TableLocation', 'SystemLocation', 'QuarantineLocation', 'ReportsLocation', 'DashboardUrl', 'AlarmTopicArn'].map((n) => `${t}${n}`))
        .concat('LakeEncryptionKeyArn')
        .sort(),
    );
    expect(outputs.OrdersStateMachineArn.Value).toEqual(ref(orders.stateMachine));
    expect(outputs.OrdersGoldBucketName.Value).toEqual(ref(lake.goldBucket));
    expect(outputs.SensorsGoldBucketName.Value).toEqual(ref(lake.goldBucket));
    expect(outputs.OrdersSystemLocation.Value).toEqual({ 'Fn::Join': ['', ['s3://', ref(lake.goldBucket), '/_compactor/orders/']] });
    expect(outputs.LakeEncryptionKeyArn).toEqual({ Description: 'customer key of the buckets the lake created', Value: arnOf(lake.encryptionKey!) });
  });

  it('uses a lake of existing buckets and database as they are, leaving the rules to their owner', () => {
    const app = new App({ context: TEST_CONTEXT });
    const own = new Stack(app, 'Own');
    const lakeOfOwn = new CompactionLake(own, 'Lake', {
      landingBucket: s3.Bucket.fromBucketName(own, 'Landing', 'acme-landing'),
      goldBucket: s3.Bucket.fromBucketName(own, 'Gold', 'acme-gold'),
      databaseName: 'lake',
      createDatabase: false,
    });
    const a = new CompactionPipeline(own, 'A', { lake: lakeOfOwn, tableName: 'a', columns: SENSORS_COLUMNS });
    new CompactionPipeline(own, 'B', { lake: lakeOfOwn, tableName: 'b', columns: SENSORS_COLUMNS });
    const t = Template.fromStack(own);
    t.resourceCountIs('AWS::S3::Bucket', 0);
    t.resourceCountIs('AWS::Glue::Database', 0);
    expect(Object.values(t.findResources('AWS::Glue::Table')).map((x) => [x.Properties.DatabaseName, x.Properties.TableInput.StorageDescriptor.Location, x.DependsOn])).toEqual([
      ['lake', 's3://acme-gold/a/', undefined],
      ['lake', 's3://acme-gold/b/', undefined],
    ]);
    expect(a.lifecycleRules.map((r) => r.id)).toEqual(['TierTableData-a', 'ExpirePlans-a', 'ExpireMapResults-a', 'ExpireRetiredManifests-a', 'ExpireRunReports-a', 'ExpireQuarantine-a']);
  });
});
