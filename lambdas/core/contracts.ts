/**
 * Step Functions payloads: one set of types shared by the handlers and the CDK definition,
 * so a renamed field fails to compile. Payloads carry S3 locations and counts, never file lists.
 */
import type { InputFormat } from './formats';
import type { Intervals, KafkaOffsets, OffsetRange } from './kafka';
import type { HeldPartition } from './planner';
import type { PartitionValues, SkipReason, SourceFile } from './partitions';

/** Execution input: what the schedule sends, and what a person pastes into the console to rerun. */
export interface RunRequest {
  /** Glue table name; must be the pipeline's table. */
  readonly table: string;
  /** Only partitions whose path starts with one of these, e.g. `dt=2024-12-19`. @default all */
  readonly partitions?: readonly string[];
  /** Plan only: write and report the plan, compact nothing. @default false */
  readonly dryRun?: boolean;
  /** Overrides the table's target output file size for this run (64-1024). */
  readonly targetFileMb?: number;
}

/** Input of the plan step: the execution input as given, and who is running. */
export interface PlanInput {
  /** The execution input, validated by the plan step (see {@link RunRequest}). */
  readonly request: unknown;
  /** `$$.Execution.Id`: the lease holder. */
  readonly executionId: string;
}

/** What the plan step returns: where the plan is, and its size. */
export interface PlanOutput {
  readonly table: string;
  readonly planId: string;
  readonly dryRun: boolean;
  /** Bucket holding the plan objects (the gold bucket, under the system prefix). */
  readonly planBucket: string;
  /** JSON array of {@link BinItem}: the Distributed Map's ItemReader source. */
  readonly itemsKey: string;
  /** Full plan with every bin's inputs, for people and for the swap step. */
  readonly planKey: string;
  readonly bins: number;
  readonly partitions: number;
  readonly inputFiles: number;
  readonly inputBytes: number;
}

/** One Distributed Map item: a reference to a bin, small whatever the bin's size. */
export interface BinItem {
  readonly table: string;
  readonly planId: string;
  readonly binId: string;
  readonly partition: string;
  readonly version: string;
  /** Object holding the {@link BinSpec}. */
  readonly binKey: string;
  readonly inputFiles: number;
  readonly inputBytes: number;
}

/** Everything the compact step needs for one bin, stored in S3 by the plan step. */
export interface BinSpec {
  readonly table: string;
  readonly planId: string;
  readonly binId: string;
  readonly partition: string;
  readonly partitionValues: PartitionValues;
  readonly version: string;
  readonly files: SourceFile[];
  readonly outputKey: string;
  readonly manifestKey: string;
  readonly estimatedOutputBytes: number;
  /** The partition's next bin in this plan: Kafka offsets are split between bins in offset order. */
  readonly nextBinKey?: string;
  /** Offsets the committed base version holds, for the Kafka topic-partitions of this bin. */
  readonly kafkaHeld?: KafkaOffsets;
}

export interface ColumnSchema {
  readonly name: string;
  /** DuckDB type name of the written column, e.g. `BIGINT`, `TIMESTAMP WITH TIME ZONE`. */
  readonly type: string;
}

/** Written next to the plan for every compacted bin: the proof of what the output holds. */
export interface BinManifest {
  readonly table: string;
  readonly planId: string;
  readonly binId: string;
  readonly partition: string;
  readonly version: string;
  /** `fromGold` inputs are files of the base version (recompacted), the others landing objects. */
  readonly inputs: ReadonlyArray<{
    key: string;
    etag: string;
    size: number;
    rows: number;
    format: InputFormat;
    fromGold?: boolean;
    /** Records of this input in quarantine. */
    rejected?: number;
    /** Set aside whole before staging (too large once decompressed): a copy is in quarantine. */
    setAside?: boolean;
    /** Kafka records left out because another copy of their offset is kept. */
    duplicates?: number;
    /** Their offsets: the object counts as compacted only once the version holds every one of them. */
    dropped?: Intervals;
  }>;
  /** Kafka Connect inputs: the offsets this output holds per topic-partition, and duplicates left out. */
  readonly kafka?: readonly OffsetRange[];
  /** Records that could not be read, set aside with a report (file, line, reason). */
  readonly quarantine?: {
    readonly records: number;
    /** JSON Lines of the rejected records, as they were in their objects. */
    readonly recordsKey?: string;
    /** Objects copied whole into quarantine. */
    readonly objects: number;
    readonly reportKey: string;
  };
  /**
   * Data fields named like a partition key whose value differs from the partition's: kept in the
   * file as written, but a table shows the partition's value (the path) for that column.
   */
  readonly partitionFields?: ReadonlyArray<{ field: string; partitionValue: string; records: number; examples: string[] }>;
  readonly output: {
    readonly bucket: string;
    /** Where the file is; nothing is written there when `empty` (no input held a record). */
    readonly key: string;
    readonly empty?: boolean;
    readonly bytes: number;
    readonly rows: number;
    /** Order-independent sum of row hashes, equal for the inputs and the written file. */
    readonly checksum: string;
    readonly compression: string;
    readonly schema: ColumnSchema[];
  };
  readonly timings: { fetchMs: number; engineMs: number; uploadMs: number };
}

/** What the compact step returns per bin (also what the Map's ResultWriter stores). */
export interface CompactOutput {
  readonly binId: string;
  readonly partition: string;
  readonly version: string;
  readonly outputKey: string;
  readonly manifestKey: string;
  readonly inputFiles: number;
  readonly inputRows: number;
  readonly outputRows: number;
  readonly outputBytes: number;
  /** Records set aside in quarantine. */
  readonly rejectedRecords: number;
  /** Objects set aside whole (copied to quarantine). */
  readonly rejectedObjects: number;
}

/** Run report of the plan step, stored with the plan. */
export interface PlanReport {
  readonly skipped: Readonly<Record<SkipReason, number>>;
  readonly skippedExamples: ReadonlyArray<{ key: string; reason: SkipReason }>;
  readonly held: HeldPartition[];
}

/** Input of the swap step. */
export interface SwapInput {
  readonly plan: PlanOutput;
}

/** What the swap step returns: partitions whose catalog entry now points at a verified version. */
export interface SwapOutput {
  readonly committed: number;
  /** Already pointing at this version (a rerun). */
  readonly unchanged: number;
  /** Partitions with a bin that has no verified manifest: left as they were. */
  readonly incomplete: number;
  readonly incompletePartitions: readonly string[];
  /** Catalog entries that had to be repointed (new commits, and repairs after a crash). */
  readonly catalogUpdated: number;
  /** Columns appended to the table for new fields in the data (`name type`). */
  readonly columnsAdded: readonly string[];
  /** Written columns the table cannot describe as they are (reported, data kept). */
  readonly schemaConflicts: readonly string[];
  /** Kafka offsets missing in the partitions committed now, e.g. `orders+0 in partition=0: 25-29`. */
  readonly kafkaGaps: readonly string[];
}

/** Input of the lifecycle step. */
export interface LifecycleInput {
  readonly table: string;
  readonly dryRun?: boolean;
}

export interface LifecycleOutput {
  /** Objects retired (grace period over, catalog verified elsewhere). */
  readonly retired: number;
  /** Objects eligible later, when their grace period ends. */
  readonly waiting: number;
}

/**
 * Where each step's result sits in the execution state. Field names below are checked
 * against the payload types, so the definition and the handlers cannot drift apart.
 */
export const StatePath = {
  plan: '$.plan',
  compaction: '$.compaction',
  swap: '$.swap',
  lifecycle: '$.lifecycle',
} as const;

/** `field<PlanOutput>('itemsKey')` compiles only if the field exists. */
export function field<T>(name: keyof T & string): string {
  return name;
}
