/** Apps and stacks for the infra tests: template only (no bundling) unless a test asks for it. */
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { defineApp, SENSORS_COLUMNS } from '../../bin/app';
import { CompactionLake } from '../../lib/compaction-lake';
import { CompactionPipeline, type CompactionPipelineProps } from '../../lib/compaction-pipeline';

/** `new App()` does not read cdk.json: the context the tests synthesize with. */
export const TEST_CONTEXT = {
  '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true,
  'aws:cdk:bundling-stacks': [] as string[],
};

// CDK's built-in CloudFormation validation costs ~0.5-2 s per synth: off for template
// assertions (jest gives each test file its own process.env); the cdk-nag test turns it back on.
process.env.CDK_VALIDATION ??= 'false';

/** The real app of bin/app.ts. */
export function sensorsApp(context: Record<string, unknown> = {}) {
  const app = new App({ context: { ...TEST_CONTEXT, ...context } });
  const stack = defineApp(app);
  const pipeline = stack.node.findChild('Sensors') as CompactionPipeline;
  return { app, stack, pipeline };
}

/** A stack holding one pipeline for `sensors` with the given props on top of the app's. */
export function pipelineStack(props: Partial<CompactionPipelineProps> = {}, context: Record<string, unknown> = {}) {
  const app = new App({ context: { ...TEST_CONTEXT, ...context } });
  const stack = new Stack(app, 'Test');
  const pipeline = new CompactionPipeline(stack, 'Pipeline', { tableName: 'sensors', columns: SENSORS_COLUMNS, ...props });
  return { app, stack, pipeline, template: Template.fromStack(stack) };
}

/** Logical id of an L2 construct's CloudFormation resource (or of an L1). */
export function logicalId(c: IConstruct): string {
  const cfn = (c.node.defaultChild ?? c) as CfnElement;
  return Stack.of(c).getLogicalId(cfn);
}

export const ref = (c: IConstruct) => ({ Ref: logicalId(c) });
export const arnOf = (c: IConstruct) => ({ 'Fn::GetAtt': [logicalId(c), 'Arn'] });
export const objectsArn = (bucket: IConstruct, pattern: string) => ({ 'Fn::Join': ['', [arnOf(bucket), `/${pattern}`]] });

export const ORDERS_COLUMNS = [
  { name: 'order_id', type: 'string' },
  { name: 'amount', type: 'decimal(12,2)' },
  { name: 'placed_at', type: 'timestamp' },
] as const;

/** Two tables sharing one lake (buckets created with a customer key, one Glue database). */
export function twoTableStack(context: Record<string, unknown> = {}) {
  const app = new App({ context: { ...TEST_CONTEXT, ...context } });
  const stack = new Stack(app, 'Lake');
  const lake = new CompactionLake(stack, 'Lake', { encryption: s3.BucketEncryption.KMS });
  const sensors = new CompactionPipeline(stack, 'Sensors', { lake, tableName: 'sensors', columns: SENSORS_COLUMNS });
  const orders = new CompactionPipeline(stack, 'Orders', {
    lake,
    tableName: 'orders',
    columns: ORDERS_COLUMNS,
    partitionKeys: [{ name: 'dt', type: 'string' }],
    tiering: { intelligentTiering: 0 },
    systemRetentionDays: { quarantine: 730 },
  });
  return { app, stack, lake, sensors, orders, template: Template.fromStack(stack) };
}

/**
 * A team's own buckets, each encrypted with its own customer key (`BucketEncryption.KMS`), TLS
 * only and logged, given to the pipeline.
 */
export function kmsBucketsStack(context: Record<string, unknown> = {}) {
  const app = new App({ context: { ...TEST_CONTEXT, ...context } });
  const stack = new Stack(app, 'Kms');
  const logs = new s3.Bucket(stack, 'TeamLogs', { enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL });
  const bucket = (id: string) =>
    new s3.Bucket(stack, id, {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: new kms.Key(stack, `${id}Key`, { enableKeyRotation: true }),
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: `${id}/`,
    });
  const landing = bucket('TeamLanding');
  const gold = bucket('TeamGold');
  const pipeline = new CompactionPipeline(stack, 'Sensors', { tableName: 'sensors', columns: SENSORS_COLUMNS, landingBucket: landing, goldBucket: gold });
  return { app, stack, pipeline, landing, gold, template: Template.fromStack(stack) };
}
