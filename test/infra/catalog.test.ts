import { logicalId, pipelineStack, ref } from './pipeline-app';

const sensorsColumns = [
  { Name: 'device_id', Type: 'string' },
  { Name: 'ts', Type: 'timestamp' },
  { Name: 'temperature', Type: 'double' },
  { Name: 'humidity', Type: 'double' },
  { Name: 'battery', Type: 'bigint' },
  { Name: 'seq', Type: 'bigint' },
];

describe('Glue catalog', () => {
  const { pipeline, template } = pipelineStack();

  it('creates the compactor database', () => {
    const dbs = Object.values(template.findResources('AWS::Glue::Database'));
    expect(dbs.map((d) => d.Properties)).toEqual([
      { CatalogId: { Ref: 'AWS::AccountId' }, DatabaseInput: { Name: 'compactor', Description: 'Compacted tables written by the S3 compactor' } },
    ]);
  });

  it('creates an external Parquet table at the gold table prefix, partitioned by dt and hour', () => {
    const tables = template.findResources('AWS::Glue::Table');
    expect(Object.values(tables).map((t) => t.Properties)).toEqual([
      {
        CatalogId: { Ref: 'AWS::AccountId' },
        DatabaseName: 'compactor',
        TableInput: {
          Name: 'sensors',
          Description: 'Compacted Parquet of sensors; each partition points at its latest verified version',
          TableType: 'EXTERNAL_TABLE',
          Parameters: { EXTERNAL: 'TRUE', classification: 'parquet', 'parquet.compression': 'SNAPPY' },
          PartitionKeys: [
            { Name: 'dt', Type: 'string' },
            { Name: 'hour', Type: 'string' },
          ],
          StorageDescriptor: {
            Columns: sensorsColumns,
            Location: { 'Fn::Join': ['', ['s3://', ref(pipeline.goldBucket), '/sensors/']] },
            InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            SerdeInfo: {
              SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
              Parameters: { 'serialization.format': '1' },
            },
            Compressed: false,
            StoredAsSubDirectories: false,
          },
        },
      },
    ]);
    // The table is created after its database.
    expect(Object.values(tables)[0].DependsOn).toEqual([logicalId(pipeline.catalog.database!)]);
  });

  it('records zstd, other partition keys and another database', () => {
    const other = pipelineStack({
      compression: 'zstd',
      databaseName: 'lake',
      partitionKeys: [
        { name: 'region', type: 'string' },
        { name: 'day', type: 'date' },
      ],
    });
    const table = Object.values(other.template.findResources('AWS::Glue::Table'))[0].Properties;
    expect(table.DatabaseName).toBe('lake');
    expect(table.TableInput.Parameters['parquet.compression']).toBe('ZSTD');
    expect(table.TableInput.PartitionKeys).toEqual([
      { Name: 'region', Type: 'string' },
      { Name: 'day', Type: 'date' },
    ]);
    const fn = other.template.findResources('AWS::Lambda::Function')[logicalId(other.pipeline.swapFunction)];
    expect(fn.Properties.Environment.Variables).toMatchObject({ PARTITION_KEYS: 'region,day', GLUE_DATABASE: 'lake' });
  });

  it('leaves an existing database and table alone', () => {
    const existing = pipelineStack({ createDatabase: false, createTable: false, columns: undefined });
    existing.template.resourceCountIs('AWS::Glue::Database', 0);
    existing.template.resourceCountIs('AWS::Glue::Table', 0);
    expect(existing.pipeline.catalog.table).toBeUndefined();
  });

  it('creates the table in an existing database', () => {
    const inExisting = pipelineStack({ createDatabase: false });
    inExisting.template.resourceCountIs('AWS::Glue::Database', 0);
    const table = Object.values(inExisting.template.findResources('AWS::Glue::Table'))[0];
    expect([table.Properties.DatabaseName, table.DependsOn]).toEqual(['compactor', undefined]);
  });
});
