import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { SENSORS_COLUMNS } from '../../bin/app';
import { CompactionPipeline, DESTROY_DATA_CONTEXT, type CompactionPipelineProps } from '../../lib/compaction-pipeline';
import { TEST_CONTEXT } from './pipeline-app';

/** Builds the construct only (no synth): validation happens in the constructor. */
function build(props: Partial<CompactionPipelineProps>, context: Record<string, unknown> = {}): CompactionPipeline {
  const stack = new Stack(new App({ context: { ...TEST_CONTEXT, ...context } }), 'Test');
  return new CompactionPipeline(stack, 'Pipeline', { tableName: 'sensors', columns: SENSORS_COLUMNS, ...props } as CompactionPipelineProps);
}

const invalid = (...problems: string[]) => `CompactionPipeline: invalid props:\n- ${problems.join('\n- ')}`;

describe('CompactionPipeline props', () => {
  it.each<[string, Partial<CompactionPipelineProps>, string[]]>([
    ['an uppercase table name', { tableName: 'Sensors' }, ['tableName must be lowercase letters, digits and "_" (Glue lowercases names; it is also an S3 prefix), got "Sensors"']],
    ['a database name with a dash', { databaseName: 'my-db' }, ['databaseName must be lowercase letters, digits and "_", got "my-db"']],
    ['a prefix without a trailing slash', { landingPrefix: 'sensors' }, ['landingPrefix must be a non-empty key prefix ending with "/" and not starting with "/", e.g. "sensors/"; got "sensors"']],
    ['a gold prefix in the system prefix', { goldPrefix: '_compactor/sensors/' }, ['goldPrefix must not start with "_compactor/" (reserved for the pipeline\'s own objects); got "_compactor/sensors/"']],
    ['no columns for a created table', { columns: [] }, ['columns are required when the construct creates the Glue table; pass columns, or createTable: false for an existing table']],
    ['a column that is also a partition key', { columns: [...SENSORS_COLUMNS, { name: 'dt', type: 'string' }] }, ['columns: "dt" is defined twice (partition keys are not data columns)']],
    ['no partition keys', { partitionKeys: [] }, ['partitionKeys must name at least one key (the landing layout is key=value/...)']],
    ['a sort column that does not exist', { sortBy: ['device'] }, ['sortBy: "device" is not one of the columns device_id, ts, temperature, humidity, battery, seq']],
    ['a target file size out of range', { targetFileMb: 2048 }, ['targetFileMb must be an integer from 64 to 1024, got 2048']],
    ['an unknown codec', { compression: 'gzip' as never }, ['compression must be "snappy" or "zstd", got "gzip"']],
    ['zero concurrency', { maxConcurrency: 0 }, ['maxConcurrency must be an integer from 1 to 1000, got 0']],
    ['a tolerated failure above 100%', { toleratedFailurePercentage: 101 }, ['toleratedFailurePercentage must be an integer from 0 to 100, got 101']],
    ['a negative grace period', { graceDays: -1 }, ['graceDays must be an integer from 0 to 3650, got -1']],
    ['too little memory for DuckDB', { compactMemoryMb: 512 }, ['compactMemoryMb must be an integer from 1024 to 10240, got 512']],
    ['a Python runtime', { runtime: lambda.Runtime.PYTHON_3_12 }, ['runtime must be a Node.js runtime (the handlers are TypeScript bundled by esbuild), got python3.12']],
    [
      'tiers too close together',
      { tieringDays: { infrequentAccess: 30, glacierInstantRetrieval: 40, deepArchive: 40 } },
      [
        'tieringDays.glacierInstantRetrieval must be an integer from 60 to 36500, got 40',
        'tieringDays.deepArchive must be an integer from 61 to 36500, got 40',
        'tieringDays.glacierInstantRetrieval (40) must be at least 30 days after infrequentAccess (30)',
        'tieringDays.deepArchive (40) must be later than glacierInstantRetrieval (40)',
      ],
    ],
    ['DESTROY without the context flag', { removalPolicy: RemovalPolicy.DESTROY }, ['removalPolicy DESTROY deletes data: it needs the context flag compactor:destroyData=true (cdk deploy -c compactor:destroyData=true)']],
  ])('rejects %s, saying how to fix it', (_what, props, problems) => {
    expect(() => build(props)).toThrow(new Error(invalid(...problems)));
  });

  it('names every problem at once', () => {
    expect(() => build({ targetFileMb: 1, maxConcurrency: 0 })).toThrow(
      new Error(invalid('targetFileMb must be an integer from 64 to 1024, got 1', 'maxConcurrency must be an integer from 1 to 1000, got 0')),
    );
  });

  it('rejects overlapping prefixes when landing and gold share a bucket', () => {
    const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Shared');
    const bucket = s3.Bucket.fromBucketName(stack, 'Lake', 'acme-lake');
    expect(() => new CompactionPipeline(stack, 'Pipeline', { tableName: 'sensors', columns: SENSORS_COLUMNS, landingBucket: bucket, goldBucket: bucket })).toThrow(
      new Error(invalid('landing and gold share one bucket, so landingPrefix "sensors/" and goldPrefix "sensors/" must not contain each other')),
    );
    const ok = new CompactionPipeline(stack, 'Separated', {
      tableName: 'sensors',
      columns: SENSORS_COLUMNS,
      landingBucket: bucket,
      goldBucket: bucket,
      landingPrefix: 'landing/sensors/',
      goldPrefix: 'gold/sensors/',
    });
    expect([ok.landingPrefix, ok.goldPrefix]).toEqual(['landing/sensors/', 'gold/sensors/']);
  });

  it('accepts DESTROY, and defaults to it, only with the context flag', () => {
    expect(build({ removalPolicy: RemovalPolicy.DESTROY }, { [DESTROY_DATA_CONTEXT]: true }).removalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(build({}, { [DESTROY_DATA_CONTEXT]: 'true' }).removalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(build({}, { [DESTROY_DATA_CONTEXT]: 'false' }).removalPolicy).toBe(RemovalPolicy.RETAIN);
    expect(build({ removalPolicy: RemovalPolicy.RETAIN }, { [DESTROY_DATA_CONTEXT]: true }).removalPolicy).toBe(RemovalPolicy.RETAIN);
  });

  it('defaults both prefixes to the table name', () => {
    const p = build({});
    expect([p.landingPrefix, p.goldPrefix, p.tableName, p.databaseName]).toEqual(['sensors/', 'sensors/', 'sensors', 'compactor']);
  });
});
