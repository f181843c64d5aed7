/**
 * What the use-cases and the Parquet engine (ports.ts `ParquetEngine`) pass each other: options,
 * what a bin's compaction or a merge wrote, and what it left out.
 */
import type { ColumnSchema } from './contracts';
import type { Intervals } from './intervals';
import type { Compression } from './settings';

/** An object left out of its bin whole (it goes to quarantine as it is), with why. */
export interface SetAsideObject {
  readonly key: string;
  readonly reason: string;
}

/** A JSON Lines record the engine cannot take, with where it came from. */
export interface RejectedRecord {
  readonly key: string;
  /** 1-based line number within the source object; absent when the whole object was set aside. */
  readonly line?: number;
  /** 0-based index among the object's records (a Kafka object's record holds offset start + index). */
  readonly record?: number;
  readonly reason: string;
  /** The record as staged; absent when it was too large to keep (its object is copied instead). */
  readonly bytes?: Buffer;
  /** Set aside with its whole object (incompatible types), not for being unreadable. */
  readonly wholeObject?: boolean;
  /** A value its declared column cannot hold: the field and the type. */
  readonly misfit?: { readonly field: string; readonly type: string };
}

/** A data field named like a partition key whose values say otherwise: kept as written, reported. */
export interface PartitionFieldReport {
  readonly field: string;
  readonly partitionValue: string;
  readonly records: number;
  /** A few of the values the records hold, as text. */
  readonly examples: string[];
}

/** How a bin's inputs are fetched and staged. */
export interface StageOptions {
  readonly concurrency: number;
  /** Cap on one object's decompressed size (guards against gzip bombs). */
  readonly maxDecompressedBytes: number;
  /** Top-level JSON fields whose number values are staged as their exact text (declared decimals). */
  readonly exactNumberFields?: readonly string[];
}

/** How a Parquet file is written. */
export interface ParquetWriteOptions {
  readonly compression: Compression;
  readonly sortBy: readonly string[];
  readonly memoryLimitMb: number;
  readonly threads: number;
  readonly rowGroupBytes: number;
}

export interface EngineOptions extends ParquetWriteOptions {
  /** Declared column types (DuckDB names), applied with a checked CAST. */
  readonly declaredTypes?: Readonly<Record<string, string>>;
  /** Fields whose values may mix kinds and are written as strings (`*`: any field); others are quarantined. */
  readonly coerceToString?: readonly string[];
  /** The partition's values: data fields of the same name that say otherwise are reported. */
  readonly partitionValues?: Readonly<Record<string, string>>;
  /** By object key: rows (0-based, `[from, to)`) left out of a Parquet input, the offsets a redelivery repeats (other inputs ignore it). */
  readonly dropRows?: ReadonlyMap<string, Intervals>;
}

/** What one engine pass over a bin's staged inputs wrote, verified against what it read. */
export interface EngineResult {
  /** Rows DuckDB read per CSV/Parquet input path. */
  readonly fileRows: ReadonlyMap<string, number>;
  readonly stagedRows: number;
  readonly outputRows: number;
  readonly inputChecksum: string;
  readonly outputChecksum: string;
  readonly outputBytes: number;
  readonly schema: ColumnSchema[];
  /** JSON records left out because they cannot be read (the caller decides whether that is too many). */
  readonly rejected: RejectedRecord[];
  /** False when every record was set aside: no file was written. */
  readonly written: boolean;
  readonly partitionFields: PartitionFieldReport[];
}

/** A bin compacted: the engine's result, and what each input became. */
export interface CompactedBin extends EngineResult {
  /** By object key: the rows it put in the output (0 for one set aside). */
  readonly inputRows: ReadonlyMap<string, number>;
  /** Every object left out whole (while fetching, or by the engine), with why. */
  readonly setAside: readonly SetAsideObject[];
  /** JSON objects staged with some numbers quoted: a rejected record's stored bytes are read from S3 again. */
  readonly rewritten: ReadonlySet<string>;
}

/** What a local Parquet file holds, as every stage verifies it. */
export interface ParquetFacts {
  readonly rows: number;
  readonly checksum: string;
  readonly schema: ColumnSchema[];
}

export interface MergedLocalFile extends ParquetFacts {
  readonly path: string;
  readonly bytes: number;
}
