/**
 * Step Functions payloads: one set of types shared by the handlers and the CDK definition,
 * so a renamed field fails to compile. Payloads carry S3 locations and counts, never file lists.
 */
import type { RunCost, RequestCounts, StepName, StepUsage } from './cost';
import type { InputFormat } from './formats';
import type { Intervals } from './intervals';
import type { KafkaOffsets, OffsetRange } from './kafka';
import type { HeldPartition, Plan } from './planner';
import type { PartitionValues, SkipReason, SourceFile } from './partitions';

export type { StepUsage } from './cost';
/** The handlers' inputs, typed from the schemas their handlers check them with. */
export type { BinIdentity, BinItem, LifecycleInput, PlanInput, ReportInput, SwapInput } from './payloads';
import type { BinIdentity } from './payloads';

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
  /**
   * When another run holds the table's lease: `fail` with AlreadyRunningError, or `skip` (end
   * successfully, changing nothing; what the schedule sends). @default fail
   */
  readonly ifRunning?: 'fail' | 'skip';
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
  /** Merges of intermediate files after the bins (0: the second Map does not run). */
  readonly merges: number;
  /** JSON array of MergeItem (written only when `merges` > 0): the second Map's ItemReader source. */
  readonly mergeItemsKey: string;
  readonly partitions: number;
  readonly inputFiles: number;
  readonly inputBytes: number;
  /** The plan's estimate of what the run costs (USD; see the stored plan for the breakdown). */
  readonly estimatedCostUsd: number;
}

/** What the plan step returns when another run holds the lease and the request said to skip. */
export interface SkippedRun {
  readonly table: string;
  /** `run <execution> is in progress` */
  readonly skipped: string;
}

/** A step's result with what its invocation used (for the run report's cost). */
export type Metered<T> = T & { readonly usage: StepUsage };

/** Everything the compact step needs for one bin, stored in S3 by the plan step. */
export interface BinSpec extends BinIdentity {
  readonly partitionValues: PartitionValues;
  readonly files: SourceFile[];
  readonly outputKey: string;
  readonly manifestKey: string;
  readonly estimatedOutputBytes: number;
  /** Estimated compact duration in seconds (core/bin-budget). */
  readonly estimatedSeconds: number;
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
export interface BinManifest extends BinIdentity {
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
    /** The file's ETag: it is written once, so it never changes after this manifest (absent in older manifests). */
    readonly etag?: string;
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

/** File sizes in the buckets of a histogram: `[label, count]`. */
export type SizeHistogram = ReadonlyArray<readonly [string, number]>;

/** What the plan saw beyond its bins: the backlog and the inputs' size distribution. */
export interface PlanStats {
  /** Eligible landing objects not planned this run because of the run caps. */
  readonly backlog: { readonly objects: number; readonly bytes: number };
  /** Last-modified time of the oldest landing data object no committed version holds (before this run). */
  readonly oldestUncompacted?: string;
  /** Sizes of the files this run reads (bin inputs and carried files). */
  readonly inputSizes: SizeHistogram;
  /** Partitions with pending work (retirements, catalog checks) before this run: the index swap and lifecycle read. */
  readonly pendingPartitions: number;
}

/** Run report of the plan step, stored with the plan. */
export interface PlanReport {
  readonly skipped: Readonly<Record<SkipReason, number>>;
  readonly skippedExamples: ReadonlyArray<{ key: string; reason: SkipReason }>;
  readonly held: HeldPartition[];
  readonly stats: PlanStats;
}

/** The plan's estimate of its run, stored with it before anything runs. */
export interface StoredEstimate {
  readonly cost: RunCost;
  readonly requestsByStep: Readonly<Partial<Record<StepName, RequestCounts>>>;
}

/** The stored plan: the planner's result without per-bin inputs (those are in the bin specs). */
export interface StoredPlan {
  readonly table: string;
  readonly planId: string;
  readonly request: RunRequest;
  readonly partitions: Array<{
    path: string;
    values: Readonly<Record<string, string>>;
    version: string;
    bins: Array<{ binId: string; files: number; inputBytes: number; estimatedOutputBytes: number; estimatedSeconds: number }>;
    carried: Plan['partitions'][number]['carried'];
    /** Present when the bins write to stage keys: the merges that write the version's files. */
    merges?: Array<{ mergeId: string; binIds: readonly string[] }>;
    baseVersion?: string;
    newFiles: number;
  }>;
  readonly totals: Plan['totals'];
  readonly report: PlanReport;
  readonly estimate: StoredEstimate;
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
  /**
   * Partitions whose catalog entry an operator pointed elsewhere by hand (not at a version this
   * pipeline committed): kept as they are, each with what to do about it.
   */
  readonly catalogDrift: readonly string[];
  /** Landing keys committed before and rewritten since: their new content was added as new data. */
  readonly rewrittenSources: readonly string[];
  /** What was ignored and why (an unreadable output ratios file); absent when nothing was. */
  readonly warnings?: readonly string[];
}

export interface LifecycleOutput {
  /** Objects retired (grace period over, catalog verified elsewhere). */
  readonly retired: number;
  /** Objects eligible later, when their grace period ends. */
  readonly waiting: number;
}

/** The execution's state as the report step finds it: each step's result, or the error that ended the run. */
export interface RunState {
  readonly plan?: Metered<PlanOutput> | Metered<SkippedRun>;
  /** The Distributed Map's output: where its ResultWriter put the per-bin results. */
  readonly compaction?: { readonly MapRunArn?: string; readonly ResultWriterDetails?: { readonly Bucket: string; readonly Key: string } };
  /** The merge Map's output, when the plan had merges. */
  readonly merging?: { readonly MapRunArn?: string; readonly ResultWriterDetails?: { readonly Bucket: string; readonly Key: string } };
  readonly swap?: Metered<SwapOutput>;
  readonly lifecycle?: Metered<LifecycleOutput>;
  /** A step's error caught by the definition (Error = name, Cause = message or Lambda's JSON). */
  readonly error?: { readonly Error: string; readonly Cause?: string };
}

export interface ReportOutput {
  /** `succeeded`, `dry run`, `skipped: run X is in progress`, `failed: <error>` */
  readonly outcome: string;
  readonly reportBucket: string;
  readonly reportKey: string;
  readonly textKey: string;
  readonly costUsd: number;
  readonly perMillionObjectsUsd?: number;
}

/**
 * Where each step's result sits in the execution state. Field names below are checked
 * against the payload types, so the definition and the handlers cannot drift apart.
 */
export const StatePath = {
  plan: '$.plan',
  compaction: '$.compaction',
  merging: '$.merging',
  swap: '$.swap',
  lifecycle: '$.lifecycle',
  report: '$.report',
  /** Where the report step's own error is kept (the run's error stays at `$.error`). */
  reportError: '$.reportError',
} as const;

/** `field<PlanOutput>('itemsKey')` compiles only if the field exists. */
export function field<T>(name: keyof T & string): string {
  return name;
}
