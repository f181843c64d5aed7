import {
  BatchCreatePartitionCommand,
  BatchGetPartitionCommand,
  BatchUpdatePartitionCommand,
  GetTableCommand,
  GlueClient,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import { GlueCatalog } from '../../lambdas/adapters/glue-catalog';
import { CatalogError, ConfigurationError, RetryableError } from '../../lambdas/core/errors';

const glue = mockClient(GlueClient);
const sleeps: number[] = [];
const catalog = () => new GlueCatalog(new GlueClient({ region: 'us-east-1' }), 'lake', 'sensors', { sleep: async (ms) => void sleeps.push(ms), baseDelayMs: 10 });
const sd = {
  Columns: [{ Name: 'device_id', Type: 'string' }],
  Location: 's3://gold/sensors/',
  InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
};
const part = (h: number) => ({ values: ['2024-12-19', String(h).padStart(2, '0')], location: `s3://gold/sensors/dt=2024-12-19/hour=${h}/v=abc/` });

beforeEach(() => {
  glue.reset();
  sleeps.length = 0;
  glue.on(GetTableCommand).resolves({ Table: { Name: 'sensors', StorageDescriptor: sd } });
});

describe('GlueCatalog', () => {
  it('reads partitions in batches of at most 1000 and retries unprocessed keys', async () => {
    const values = Array.from({ length: 2500 }, (_, i) => ['d', String(i)]);
    let first = true;
    glue.on(BatchGetPartitionCommand).callsFake((input) => {
      const keys = input.PartitionsToGet as Array<{ Values: string[] }>;
      const unprocessed = first ? keys.slice(0, 2) : [];
      first = false;
      return {
        Partitions: keys.filter((k) => !unprocessed.includes(k) && Number(k.Values[1]) % 2 === 0).map((k) => ({ Values: k.Values, StorageDescriptor: { Location: `s3://x/${k.Values[1]}/` } })),
        UnprocessedKeys: unprocessed,
      };
    });
    const got = await catalog().getPartitions(values);
    const calls = glue.commandCalls(BatchGetPartitionCommand).map((c) => c.args[0].input.PartitionsToGet!.length);
    expect(calls).toEqual([1000, 2, 1000, 500]);
    expect(got[0]).toEqual({ values: ['d', '0'], location: 's3://x/0/' });
    expect(got[1]).toBeUndefined();
    expect(got[2498]).toEqual({ values: ['d', '2498'], location: 's3://x/2498/' });
  });

  it('creates missing partitions 100 at a time with the table storage descriptor and the new location', async () => {
    glue.on(BatchGetPartitionCommand).resolves({ Partitions: [] });
    glue.on(BatchCreatePartitionCommand).resolves({ Errors: [] });
    const parts = Array.from({ length: 250 }, (_, i) => part(i));
    expect(await catalog().putPartitions(parts)).toEqual({ created: 250, updated: 0 });
    const calls = glue.commandCalls(BatchCreatePartitionCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.PartitionInputList!.length)).toEqual([100, 100, 50]);
    expect(calls[0]).toEqual({
      DatabaseName: 'lake',
      TableName: 'sensors',
      PartitionInputList: expect.arrayContaining([{ Values: ['2024-12-19', '00'], StorageDescriptor: { ...sd, Location: part(0).location } }]),
    });
    expect(glue.commandCalls(BatchUpdatePartitionCommand)).toHaveLength(0);
  });

  it('repoints existing partitions with BatchUpdatePartition', async () => {
    glue.on(BatchGetPartitionCommand).resolves({ Partitions: [{ Values: part(1).values, StorageDescriptor: { Location: 's3://landing/old/' } }] });
    glue.on(BatchCreatePartitionCommand).resolves({ Errors: [] });
    glue.on(BatchUpdatePartitionCommand).resolves({ Errors: [] });
    expect(await catalog().putPartitions([part(1), part(2)])).toEqual({ created: 1, updated: 1 });
    expect(glue.commandCalls(BatchUpdatePartitionCommand)[0].args[0].input).toEqual({
      DatabaseName: 'lake',
      TableName: 'sensors',
      Entries: [{ PartitionValueList: part(1).values, PartitionInput: { Values: part(1).values, StorageDescriptor: { ...sd, Location: part(1).location } } }],
    });
  });

  it('fails naming each partition Glue refused in a successful response', async () => {
    glue.on(BatchGetPartitionCommand).resolves({ Partitions: [] });
    glue.on(BatchCreatePartitionCommand).resolves({
      Errors: [{ PartitionValues: part(3).values, ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: 'bad location' } }],
    });
    await expect(catalog().putPartitions([part(3), part(4)])).rejects.toThrow(
      new CatalogError('Glue refused to create 1 partition(s) of lake.sensors: 2024-12-19/03: InvalidInputException bad location'),
    );
  });

  it('retries only the throttled entries, with backoff, until they succeed', async () => {
    glue.on(BatchGetPartitionCommand).resolves({ Partitions: [] });
    glue
      .on(BatchCreatePartitionCommand)
      .resolvesOnce({ Errors: [{ PartitionValues: part(5).values, ErrorDetail: { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' } }] })
      .resolves({ Errors: [] });
    expect(await catalog().putPartitions([part(5), part(6)])).toEqual({ created: 2, updated: 0 });
    const calls = glue.commandCalls(BatchCreatePartitionCommand).map((c) => c.args[0].input.PartitionInputList!.map((p) => p.Values![1]));
    expect(calls).toEqual([['05', '06'], ['05']]);
    expect(sleeps).toHaveLength(1);
  });

  it('gives up with a retryable error when throttling never stops', async () => {
    glue.on(BatchGetPartitionCommand).resolves({ Partitions: [] });
    glue.on(BatchCreatePartitionCommand).resolves({ Errors: [{ PartitionValues: part(7).values, ErrorDetail: { ErrorCode: 'ThrottlingException' } }] });
    await expect(catalog().putPartitions([part(7)])).rejects.toThrow(
      new RetryableError('Glue kept throttling create of 1 partition(s) of lake.sensors after 6 attempts'),
    );
    expect(glue.commandCalls(BatchCreatePartitionCommand)).toHaveLength(6);
  });

  it('repoints a partition that someone created between the read and the create', async () => {
    glue.on(BatchGetPartitionCommand).resolves({ Partitions: [] });
    glue.on(BatchCreatePartitionCommand).resolves({ Errors: [{ PartitionValues: part(8).values, ErrorDetail: { ErrorCode: 'AlreadyExistsException' } }] });
    glue.on(BatchUpdatePartitionCommand).resolves({ Errors: [] });
    expect(await catalog().putPartitions([part(8)])).toEqual({ created: 0, updated: 1 });
    expect(glue.commandCalls(BatchUpdatePartitionCommand)[0].args[0].input.Entries![0].PartitionValueList).toEqual(part(8).values);
  });

  it('appends columns with UpdateTable, sending only TableInput fields and keeping the order', async () => {
    glue.on(GetTableCommand).resolves({
      Table: {
        Name: 'sensors',
        DatabaseName: 'lake',
        CreateTime: new Date(0),
        UpdateTime: new Date(0),
        CatalogId: '123',
        VersionId: '7',
        TableType: 'EXTERNAL_TABLE',
        Parameters: { classification: 'parquet' },
        PartitionKeys: [{ Name: 'dt', Type: 'string' }],
        StorageDescriptor: sd,
      },
    });
    glue.on(UpdateTableCommand).resolves({});
    await catalog().appendColumns([{ name: 'firmware', type: 'string' }, { name: 'rssi', type: 'bigint' }]);
    expect(glue.commandCalls(UpdateTableCommand)[0].args[0].input).toEqual({
      DatabaseName: 'lake',
      TableInput: {
        Name: 'sensors',
        TableType: 'EXTERNAL_TABLE',
        Parameters: { classification: 'parquet' },
        PartitionKeys: [{ Name: 'dt', Type: 'string' }],
        StorageDescriptor: { ...sd, Columns: [{ Name: 'device_id', Type: 'string' }, { Name: 'firmware', Type: 'string' }, { Name: 'rssi', Type: 'bigint' }] },
      },
    });
    expect(await catalog().getColumns()).toEqual([{ name: 'device_id', type: 'string' }]);
  });

  it('refuses a table with partition projection, which ignores the partitions it points at versions', async () => {
    glue.on(GetTableCommand).resolves({ Table: { Name: 'sensors', Parameters: { 'projection.enabled': 'TRUE', 'projection.dt.type': 'date' }, StorageDescriptor: sd } });
    await expect(catalog().getColumns()).rejects.toThrow(
      new ConfigurationError(
        'Glue table lake.sensors has partition projection enabled (projection.enabled=true): Athena then computes each partition\'s location from ' +
          'the projection and ignores the catalog partitions this pipeline points at verified v= versions, so a query reads every ' +
          'version folder below a partition, superseded ones too (rows twice during the grace period). Set projection.enabled to ' +
          'false on that table (or remove its projection.* parameters), or let the construct create the table',
      ),
    );
    await expect(catalog().getColumns()).rejects.toMatchObject({ name: 'ConfigurationError' });
    glue.on(GetTableCommand).resolves({ Table: { Name: 'sensors', Parameters: { 'projection.enabled': 'false' }, StorageDescriptor: sd } });
    expect(await catalog().getColumns()).toEqual([{ name: 'device_id', type: 'string' }]);
  });
});
