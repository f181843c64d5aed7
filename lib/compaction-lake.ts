import { CfnOutput, type RemovalPolicy } from 'aws-cdk-lib';
import type * as glue from 'aws-cdk-lib/aws-glue';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { StackOutputs, stackOutputKey } from '../lambdas/core/outputs';
import { compactionDatabase } from './compaction-catalog';
import { CompactionStorage, dataRemovalPolicy, encryptionProblems, SERVER_ACCESS_LOGS_FLAG } from './compaction-storage';

const IDENT = /^[a-z_][a-z0-9_]*$/;

export interface CompactionLakeProps {
  /**
   * Bucket the small files of every table land in (each table under its own prefix). An existing
   * bucket gets no lifecycle rules from this construct.
   * @default a new bucket (public access blocked, TLS only, encrypted, access logs, abort-multipart rule)
   */
  readonly landingBucket?: s3.IBucket;
  /**
   * Bucket of every table's compacted data and the pipeline's own objects. An existing bucket gets
   * no lifecycle rules from this construct: add each pipeline's `lifecycleRules` to it yourself.
   * @default a new bucket (as the landing bucket, plus each table's tiering and retention rules)
   */
  readonly goldBucket?: s3.IBucket;
  /**
   * Glue database of every table.
   * @default 'compactor'
   */
  readonly databaseName?: string;
  /**
   * Create the Glue database (false: it already exists).
   * @default true
   */
  readonly createDatabase?: boolean;
  /**
   * Encryption of the buckets created here: `S3_MANAGED` or `KMS` (a customer key, S3 Bucket Keys on).
   * @default s3.BucketEncryption.S3_MANAGED, or KMS when `encryptionKey` is given
   */
  readonly encryption?: s3.BucketEncryption;
  /**
   * Customer key of the buckets created here.
   * @default a new key with yearly rotation, when `encryption` is KMS
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Removal policy of the created buckets, key and database. DESTROY is only accepted with the
   * context flag `compactor:destroyData`, and that flag alone switches the default to DESTROY.
   * @default RemovalPolicy.RETAIN, or DESTROY with `-c compactor:destroyData=true`
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Where one table of a lake keeps its objects, for the overlap check. */
export interface LakeTable {
  readonly tableName: string;
  /** Construct path of the pipeline, named in errors. */
  readonly path: string;
  readonly landingPrefix: string;
  readonly goldPrefix: string;
}

/**
 * Buckets and a Glue database shared by several tables, created once: give it to each table's
 * CompactionPipeline as `lake`. Each table keeps its own prefixes, lifecycle rules, functions,
 * state machine and schedule.
 */
export class CompactionLake extends Construct {
  public readonly landingBucket: s3.IBucket;
  public readonly goldBucket: s3.IBucket;
  /** Only when this construct created a bucket. */
  public readonly accessLogsBucket?: s3.IBucket;
  /** The customer key of the buckets created here, when they use one. */
  public readonly encryptionKey?: kms.IKey;
  public readonly databaseName: string;
  /** Only when this construct created the database. */
  public readonly database?: glue.CfnDatabase;
  public readonly removalPolicy: RemovalPolicy;
  private readonly storage: CompactionStorage;
  private readonly tables: LakeTable[] = [];

  constructor(scope: Construct, id: string, props: CompactionLakeProps = {}) {
    super(scope, id);
    this.node.setContext(SERVER_ACCESS_LOGS_FLAG, true);
    const removal = dataRemovalPolicy(this, props.removalPolicy);
    const problems = encryptionProblems(props);
    if (props.databaseName !== undefined && !IDENT.test(props.databaseName)) problems.push(`databaseName must be lowercase letters, digits and "_", got "${props.databaseName}"`);
    if (removal.problem) problems.push(removal.problem);
    if (problems.length) throw new Error(`CompactionLake: invalid props:\n- ${problems.join('\n- ')}`);

    this.removalPolicy = removal.policy;
    this.databaseName = props.databaseName ?? 'compactor';
    this.storage = new CompactionStorage(this, 'Storage', {
      landingBucket: props.landingBucket,
      goldBucket: props.goldBucket,
      encryption: props.encryption,
      encryptionKey: props.encryptionKey,
      removalPolicy: this.removalPolicy,
    });
    this.landingBucket = this.storage.landingBucket;
    this.goldBucket = this.storage.goldBucket;
    this.accessLogsBucket = this.storage.accessLogsBucket;
    this.encryptionKey = this.storage.encryptionKey;
    if (props.createDatabase ?? true) this.database = compactionDatabase(this, this.databaseName, this.removalPolicy);
    // Each table exports its own buckets and locations; the key is the lake's alone.
    if (this.storage.encryptionKey) {
      const output = new CfnOutput(this, `Output${StackOutputs.EncryptionKeyArn}`, {
        value: this.storage.encryptionKey.keyArn,
        description: 'customer key of the buckets the lake created',
      });
      output.overrideLogicalId(stackOutputKey(id, StackOutputs.EncryptionKeyArn));
    }
  }

  /**
   * Registers a table of this lake (CompactionPipeline does); returns what keeps it from sharing
   * the lake: a table name taken, or prefixes overlapping another table's in the same bucket.
   */
  public addTable(table: LakeTable): string[] {
    const problems: string[] = [];
    const sameBucket = this.landingBucket === this.goldBucket;
    const overlap = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);
    for (const other of this.tables) {
      if (other.tableName === table.tableName) {
        problems.push(`table "${table.tableName}" is already compacted in lake ${this.node.path} by ${other.path}: each table has one pipeline`);
        continue;
      }
      const places: Array<[string, string, string, string]> = [
        ['landingPrefix', table.landingPrefix, 'landingPrefix', other.landingPrefix],
        ['goldPrefix', table.goldPrefix, 'goldPrefix', other.goldPrefix],
        ...(sameBucket
          ? ([
              ['landingPrefix', table.landingPrefix, 'goldPrefix', other.goldPrefix],
              ['goldPrefix', table.goldPrefix, 'landingPrefix', other.landingPrefix],
            ] as Array<[string, string, string, string]>)
          : []),
      ];
      for (const [mine, a, theirs, b] of places) {
        if (overlap(a, b)) {
          problems.push(`${mine} "${a}" overlaps ${theirs} "${b}" of table "${other.tableName}" (${other.path}) in the lake's bucket: give each table a prefix of its own, neither containing the other`);
        }
      }
    }
    if (!problems.length) this.tables.push(table);
    return problems;
  }

  /** Adds a table's lifecycle rules to the gold bucket if the lake created it; false otherwise. */
  public addTableRules(rules: readonly s3.LifecycleRule[]): boolean {
    return this.storage.addTableRules(rules);
  }
}
