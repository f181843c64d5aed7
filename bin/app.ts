/**
 * The CDK app: one compaction pipeline for the `sensors` table, with every data resource created.
 *   npx cdk synth                                  (bundles the Lambdas with local esbuild)
 *   npx cdk synth -c compactor:skipBundling=true   (skips bundling: fast, template only)
 *   npx cdk deploy -c compactor:destroyData=true   (a throw-away stack whose data is deleted with it)
 */
import { App, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { GlueColumn } from '../lib/compaction-catalog';
import { CompactionPipeline, DEFAULT_PARTITION_KEYS } from '../lib/compaction-pipeline';

/**
 * Context flag that skips asset bundling. The CLI (2.1148) refuses user context keys starting
 * with `aws:`, so `-c aws:cdk:bundling-stacks=[]` cannot be passed directly; this flag sets it.
 */
export const SKIP_BUNDLING_CONTEXT = 'compactor:skipBundling';

export const SENSORS_TABLE = 'sensors';
export const SENSORS_COLUMNS: readonly GlueColumn[] = [
  { name: 'device_id', type: 'string' },
  { name: 'ts', type: 'timestamp' },
  { name: 'temperature', type: 'double' },
  { name: 'humidity', type: 'double' },
  { name: 'battery', type: 'bigint' },
  { name: 'seq', type: 'bigint' },
];

/** Adds the compactor stack to `app`; tests call it with their own App and context. */
export function defineApp(app: App, props: StackProps = {}): Stack {
  const skip: unknown = app.node.tryGetContext(SKIP_BUNDLING_CONTEXT);
  if (skip === true || skip === 'true') app.node.setContext('aws:cdk:bundling-stacks', []);
  const stack = new Stack(app, 'S3Compactor', {
    description: 'Compacts small files in S3 into large Parquet files (Step Functions, Lambda, DuckDB, Glue)',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    ...props,
  });
  Tags.of(stack).add('project', 's3-compactor');
  new CompactionPipeline(stack, 'Sensors', {
    tableName: SENSORS_TABLE,
    columns: SENSORS_COLUMNS,
    partitionKeys: DEFAULT_PARTITION_KEYS,
  });
  return stack;
}

if (require.main === module) defineApp(new App());
