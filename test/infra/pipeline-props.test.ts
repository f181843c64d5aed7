import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { SENSORS_COLUMNS } from '../../bin/app';
import { CompactionLake, type CompactionLakeProps } from '../../lib/compaction-lake';
import { CompactionPipeline, DESTROY_DATA_CONTEXT, type CompactionPipelineProps } from '../../lib/compaction-pipeline';
import { TEST_CONTEXT } from './pipeline-app';

/** Builds the construct only (no synth): validation happens in the constructor. */
function build(props: Partial<CompactionPipelineProps>, context: Record<string, unknown> = {}): CompactionPipeline {
  const stack = new Stack(new App({ context: { ...TEST_CONTEXT, ...context } }), 'Test');
  return new CompactionPipeline(stack, 'Pipeline', { tableName: 'sensors', columns: SENSORS_COLUMNS, ...props });
}

const invalid = (...problems: string[]) => `CompactionPipeline: invalid props:\n- ${problems.join('\n- ')}`;

describe('CompactionPipeline props', () => {
  it.each<[string, Partial<CompactionPipelineProps>, string[]]>([
    ['an uppercase table name', { tableName: 'Sensors' }, ['tableName must be lowercase letters, digits and "_" (Glue lowercases names; it is also an S3 prefix), got "Sensors"']],
    ['a database name with a dash', { databaseName: 'my-db' }, ['databaseName must be lowercase letters, digits and "_", got "my-db"']],
    ['a prefix without a trailing slash', { landingPrefix: 'sensors' }, ['landingPrefix must be a non-empty key prefix ending with "/" and not starting with "/", e.g. "sensors/"; got "sensors"']],
    ['a gold prefix in the system prefix', { goldPrefix: '_compactor/sensors/' }, ['goldPrefix must not start with "_compactor/" (reserved for the pipeline\'s own objects); got "_compactor/sensors/"']],
    ['a gold prefix in the quarantine prefix', { goldPrefix: 'quarantine/sensors/' }, ['goldPrefix must not start with "quarantine/" (reserved for set-aside records, which expire); got "quarantine/sensors/"']],
    ['no columns for a created table', { columns: [] }, ['columns are required when the construct creates the Glue table; pass columns, or createTable: false for an existing table']],
    ['a column that is also a partition key', { columns: [...SENSORS_COLUMNS, { name: 'dt', type: 'string' }] }, ['columns: "dt" is defined twice (partition keys are not data columns)']],
    ['no partition keys', { partitionKeys: [] }, ['partitionKeys must name at least one key (the landing layout is key=value/...)']],
    ['a sort column that does not exist', { sortBy: ['device'] }, ['sortBy: "device" is not one of the columns device_id, ts, temperature, humidity, battery, seq']],
    ['a target file size out of range', { targetFileMb: 2048 }, ['targetFileMb must be an integer from 64 to 1024, got 2048']],
    ['an object bound a bin could not finish', { maxBinObjects: 1_000_000 }, ['maxBinObjects must be an integer from 1 to 293000, got 1000000']],
    ['an unknown codec', { compression: 'gzip' as never }, ['compression must be "snappy" or "zstd", got "gzip"']],
    ['zero concurrency', { maxConcurrency: 0 }, ['maxConcurrency must be an integer from 1 to 1000, got 0']],
    ['a tolerated failure above 100%', { toleratedFailurePercentage: 101 }, ['toleratedFailurePercentage must be an integer from 0 to 100, got 101']],
    ['a negative grace period', { graceDays: -1 }, ['graceDays must be an integer from 0 to 3650, got -1']],
    ['too little memory for DuckDB', { compactMemoryMb: 512 }, ['compactMemoryMb must be an integer from 1024 to 10240, got 512']],
    ['a Python runtime', { runtime: lambda.Runtime.PYTHON_3_12 }, ['runtime must be a Node.js runtime (the handlers are TypeScript bundled by esbuild), got python3.12']],
    [
      'tiers too close together (deprecated tieringDays, merged with its defaults)',
      { tieringDays: { infrequentAccess: 30, glacierInstantRetrieval: 40, deepArchive: 40 } },
      [
        'tieringDays.glacierInstantRetrieval (40) must be at least 30 days after infrequentAccess (30): S3 keeps objects 30 days in STANDARD_IA',
        'tieringDays.deepArchive (40) must be later than glacierInstantRetrieval (40)',
      ],
    ],
    [
      'STANDARD_IA before 30 days',
      { tiering: { infrequentAccess: 7 } },
      ['tiering.infrequentAccess must be an integer from 30 to 36500, got 7 (S3 moves objects to STANDARD_IA after 30 days at the earliest)'],
    ],
    [
      'Intelligent-Tiering too soon after STANDARD_IA, and an archive before it',
      { tiering: { infrequentAccess: 30, intelligentTiering: 45, deepArchive: 10 } },
      [
        'tiering.intelligentTiering (45) must be at least 30 days after infrequentAccess (30): S3 keeps objects 30 days in STANDARD_IA',
        'tiering.deepArchive (10) must be later than intelligentTiering (45)',
      ],
    ],
    ['a misspelt storage class', { tiering: { glacier: 90 } as never }, ['tiering.glacier is not a storage class of the table data; use infrequentAccess, intelligentTiering, glacierInstantRetrieval, deepArchive']],
    ['both tiering props', { tiering: false, tieringDays: {} }, ['tiering and tieringDays are both set: keep tiering (tieringDays is deprecated)']],
    [
      'plans expiring before a redrive could read them, and a fractional quarantine',
      { systemRetentionDays: { plans: 7, quarantine: 0.5 } },
      [
        'systemRetentionDays.plans must be an integer from 14 to 36500, got 7 (a failed execution can be redriven for 14 days, and it reads its plan)',
        'systemRetentionDays.quarantine must be an integer from 1 to 36500, got 0.5',
      ],
    ],
    [
      'an unknown kind of system object',
      { systemRetentionDays: { manifests: 30 } as never },
      ['systemRetentionDays.manifests is not a kind of the pipeline\'s own objects; use plans, mapResults, retiredManifests, runReports, quarantine'],
    ],
    [
      'a projected existing table',
      { createTable: false, columns: undefined, existingTableParameters: { 'projection.enabled': 'true', 'projection.dt.type': 'date' } },
      [
        'existingTableParameters: the existing table has partition projection enabled (projection.enabled=true): Athena then computes each partition\'s location from ' +
          'the projection and ignores the catalog partitions this pipeline points at verified v= versions, so a query reads every ' +
          'version folder below a partition, superseded ones too (rows twice during the grace period). Set projection.enabled to ' +
          'false on that table (or remove its projection.* parameters), or let the construct create the table',
      ],
    ],
    ['parameters of an existing table for a table created here', { existingTableParameters: { classification: 'parquet' } }, ['existingTableParameters describes a table that already exists: it needs createTable: false']],
    [
      'a KMS key with SSE-S3',
      { encryption: s3.BucketEncryption.S3_MANAGED, encryptionKey: {} as never },
      ['encryptionKey is given but encryption is S3_MANAGED: use BucketEncryption.KMS, or leave encryption unset'],
    ],
    [
      'an encryption the pipeline does not create buckets with',
      { encryption: s3.BucketEncryption.DSSE_MANAGED },
      ['encryption must be BucketEncryption.S3_MANAGED or BucketEncryption.KMS (a customer key, created with rotation unless encryptionKey is given), got DSSE_MANAGED'],
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

  it('accepts a described existing table without projection, and projection turned off', () => {
    for (const value of ['false', 'FALSE']) {
      const p = build({ createTable: false, columns: undefined, existingTableParameters: { 'projection.enabled': value, classification: 'parquet' } });
      expect(p.catalog.table).toBeUndefined();
    }
  });

  it('rejects encryption for buckets it does not create', () => {
    const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Own');
    const [landingBucket, goldBucket] = ['l', 'g'].map((n) => s3.Bucket.fromBucketName(stack, n, `acme-${n}`));
    expect(() => new CompactionPipeline(stack, 'P', { tableName: 'sensors', columns: SENSORS_COLUMNS, landingBucket, goldBucket, encryption: s3.BucketEncryption.KMS })).toThrow(
      new Error(invalid("encryption and encryptionKey apply to buckets created here, and both buckets are given: give their keys as the buckets' encryptionKey (s3.Bucket.fromBucketAttributes) instead")),
    );
  });

  it('rejects a second pipeline creating the same Glue database in the stack, pointing at a lake', () => {
    const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Two');
    new CompactionPipeline(stack, 'Sensors', { tableName: 'sensors', columns: SENSORS_COLUMNS });
    expect(() => new CompactionPipeline(stack, 'Orders', { tableName: 'orders', columns: SENSORS_COLUMNS })).toThrow(
      new Error(
        invalid(
          'the Glue database "compactor" is already created in this stack by Two/Sensors/Catalog/Database: share one CompactionLake between the tables ' +
            "(new CompactionLake(stack, 'Lake') and lake: on each pipeline), or pass createDatabase: false or another databaseName",
        ),
      ),
    );
    expect(new CompactionPipeline(stack, 'Elsewhere', { tableName: 'orders', columns: SENSORS_COLUMNS, databaseName: 'sales' }).databaseName).toBe('sales');
  });

  it('rejects a table twice in a stack, and table names whose output keys would collide', () => {
    const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Names');
    new CompactionPipeline(stack, 'A', { tableName: 'sensor_data', columns: SENSORS_COLUMNS });
    expect(() => new CompactionPipeline(stack, 'B', { tableName: 'sensor_data', columns: SENSORS_COLUMNS, databaseName: 'other' })).toThrow(
      new Error(invalid('table "sensor_data" already has a pipeline in this stack (Names/A): each table has one pipeline')),
    );
    expect(() => new CompactionPipeline(stack, 'C', { tableName: 'sensor__data', columns: SENSORS_COLUMNS, databaseName: 'other' })).toThrow(
      new Error(invalid('tableName "sensor__data" gives the same stack output keys (SensorDataStateMachineArn, ...) as table "sensor_data" of Names/A: rename one of them')),
    );
  });

  describe('with a lake', () => {
    const lakeStack = (props: CompactionLakeProps = {}) => {
      const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Lakes');
      return { stack, lake: new CompactionLake(stack, 'Lake', props) };
    };

    it('rejects bucket, database and encryption props that are the lake\'s', () => {
      const { stack, lake } = lakeStack();
      const bucket = s3.Bucket.fromBucketName(stack, 'B', 'acme');
      expect(
        () =>
          new CompactionPipeline(stack, 'P', {
            lake,
            tableName: 'sensors',
            columns: SENSORS_COLUMNS,
            landingBucket: bucket,
            goldBucket: bucket,
            databaseName: 'sales',
            createDatabase: false,
            encryption: s3.BucketEncryption.KMS,
          }),
      ).toThrow(
        new Error(
          invalid(
            ...['landingBucket', 'goldBucket', 'databaseName', 'createDatabase', 'encryption'].map((n) => `${n} is the lake's when a lake is given: set it on the CompactionLake Lakes/Lake, not on the pipeline`),
          ),
        ),
      );
    });

    it('rejects a table twice and prefixes that overlap another table\'s', () => {
      const { stack, lake } = lakeStack();
      new CompactionPipeline(stack, 'Sensors', { lake, tableName: 'sensors', columns: SENSORS_COLUMNS });
      expect(() => new CompactionPipeline(stack, 'Again', { lake, tableName: 'sensors', columns: SENSORS_COLUMNS })).toThrow(
        new Error(invalid('table "sensors" is already compacted in lake Lakes/Lake by Lakes/Sensors: each table has one pipeline')),
      );
      expect(() => new CompactionPipeline(stack, 'Nested', { lake, tableName: 'hot', columns: SENSORS_COLUMNS, landingPrefix: 'sensors/hot/', goldPrefix: 'hot/' })).toThrow(
        new Error(
          invalid('landingPrefix "sensors/hot/" overlaps landingPrefix "sensors/" of table "sensors" (Lakes/Sensors) in the lake\'s bucket: give each table a prefix of its own, neither containing the other'),
        ),
      );
      const ok = new CompactionPipeline(stack, 'Hot', { lake, tableName: 'hot', columns: SENSORS_COLUMNS });
      expect([ok.landingPrefix, ok.goldPrefix, ok.databaseName]).toEqual(['hot/', 'hot/', 'compactor']);
    });

    it('rejects overlapping landing and gold prefixes of two tables when the lake has one bucket', () => {
      const stack = new Stack(new App({ context: TEST_CONTEXT }), 'One');
      const bucket = s3.Bucket.fromBucketName(stack, 'B', 'acme-lake');
      const lake = new CompactionLake(stack, 'Lake', { landingBucket: bucket, goldBucket: bucket });
      new CompactionPipeline(stack, 'A', { lake, tableName: 'a', columns: SENSORS_COLUMNS, landingPrefix: 'raw/a/', goldPrefix: 'gold/a/' });
      expect(() => new CompactionPipeline(stack, 'B2', { lake, tableName: 'b', columns: SENSORS_COLUMNS, landingPrefix: 'gold/', goldPrefix: 'gold/b/' })).toThrow(
        new Error(
          invalid(
            'landing and gold share one bucket, so landingPrefix "gold/" and goldPrefix "gold/b/" must not contain each other',
          ),
        ),
      );
      expect(() => new CompactionPipeline(stack, 'B3', { lake, tableName: 'b', columns: SENSORS_COLUMNS, landingPrefix: 'gold/a/b/', goldPrefix: 'gold/b/' })).toThrow(
        new Error(
          invalid(
            'landingPrefix "gold/a/b/" overlaps goldPrefix "gold/a/" of table "a" (One/A) in the lake\'s bucket: give each table a prefix of its own, neither containing the other',
          ),
        ),
      );
    });

    it('rejects invalid lake props, saying how to fix them', () => {
      expect(() => lakeStack({ databaseName: 'My-Lake', removalPolicy: RemovalPolicy.DESTROY, encryption: s3.BucketEncryption.KMS_MANAGED })).toThrow(
        new Error(
          'CompactionLake: invalid props:\n- ' +
            [
              'encryption must be BucketEncryption.S3_MANAGED or BucketEncryption.KMS (a customer key, created with rotation unless encryptionKey is given), got KMS_MANAGED',
              'databaseName must be lowercase letters, digits and "_", got "My-Lake"',
              'removalPolicy DESTROY deletes data: it needs the context flag compactor:destroyData=true (cdk deploy -c compactor:destroyData=true)',
            ].join('\n- '),
        ),
      );
    });
  });

  it('defaults both prefixes to the table name', () => {
    const p = build({});
    expect([p.landingPrefix, p.goldPrefix, p.tableName, p.databaseName]).toEqual(['sensors/', 'sensors/', 'sensors', 'compactor']);
  });
});
