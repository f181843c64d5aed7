import { Aws, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { Compression } from '../lambdas/core/settings';

/** One Glue column: a name and a Hive type (`string`, `bigint`, `timestamp`, `decimal(10,2)`...). */
export interface GlueColumn {
  readonly name: string;
  readonly type: string;
  /** @default no comment */
  readonly comment?: string;
}

export const PARQUET_SERDE = 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe';
export const PARQUET_INPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat';
export const PARQUET_OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat';

export interface CompactionCatalogProps {
  readonly databaseName: string;
  readonly tableName: string;
  /** Required when `createTable` is true. */
  readonly columns?: readonly GlueColumn[];
  readonly partitionKeys: readonly GlueColumn[];
  readonly goldBucket: s3.IBucket;
  /** Table location inside the gold bucket (ends with `/`). */
  readonly goldPrefix: string;
  readonly compression: Compression;
  /**
   * Create the Glue database; false when it already exists.
   * @default true
   */
  readonly createDatabase?: boolean;
  /**
   * Create the Glue table; false when it already exists (then `columns` is not needed).
   * @default true
   */
  readonly createTable?: boolean;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The Glue database of the compacted tables, as `Database` under `scope`. */
export function compactionDatabase(scope: Construct, name: string, removalPolicy: RemovalPolicy): glue.CfnDatabase {
  const database = new glue.CfnDatabase(scope, 'Database', {
    catalogId: Aws.ACCOUNT_ID,
    databaseInput: { name, description: 'Compacted tables written by the S3 compactor' },
  });
  database.applyRemovalPolicy(removalPolicy);
  return database;
}

/** The Glue database and external Parquet table that the swap step repoints partition by partition. */
export class CompactionCatalog extends Construct {
  public readonly databaseName: string;
  public readonly tableName: string;
  /** ARNs a role needs to read or change this table's partitions: catalog, database, table. */
  public readonly tableArns: string[];
  public readonly database?: glue.CfnDatabase;
  public readonly table?: glue.CfnTable;

  constructor(scope: Construct, id: string, props: CompactionCatalogProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.databaseName = props.databaseName;
    this.tableName = props.tableName;
    const stack = Stack.of(this);
    const glueArn = (resource: string) => stack.formatArn({ service: 'glue', resource });
    this.tableArns = [glueArn('catalog'), glueArn(`database/${props.databaseName}`), glueArn(`table/${props.databaseName}/${props.tableName}`)];

    if (props.createDatabase ?? true) this.database = compactionDatabase(this, props.databaseName, removalPolicy);

    if (props.createTable ?? true) {
      const column = (c: GlueColumn) => ({ name: c.name, type: c.type, ...(c.comment ? { comment: c.comment } : {}) });
      this.table = new glue.CfnTable(this, 'Table', {
        catalogId: Aws.ACCOUNT_ID,
        databaseName: props.databaseName,
        tableInput: {
          name: props.tableName,
          description: `Compacted Parquet of ${props.tableName}; each partition points at its latest verified version`,
          tableType: 'EXTERNAL_TABLE',
          parameters: {
            EXTERNAL: 'TRUE',
            classification: 'parquet',
            'parquet.compression': props.compression.toUpperCase(),
          },
          partitionKeys: props.partitionKeys.map(column),
          storageDescriptor: {
            columns: (props.columns ?? []).map(column),
            location: `s3://${props.goldBucket.bucketName}/${props.goldPrefix}`,
            inputFormat: PARQUET_INPUT_FORMAT,
            outputFormat: PARQUET_OUTPUT_FORMAT,
            serdeInfo: { serializationLibrary: PARQUET_SERDE, parameters: { 'serialization.format': '1' } },
            compressed: false,
            storedAsSubDirectories: false,
          },
        },
      });
      this.table.applyRemovalPolicy(removalPolicy);
      if (this.database) this.table.addResourceDependency(this.database);
    }
  }
}
