import type { Readable } from 'node:stream';
import type { CompactedBin, EngineOptions, MergedLocalFile, ParquetFacts, ParquetWriteOptions, StageOptions } from './engine-contracts';
import type { Intervals } from './intervals';
import type { ListedObject, SourceFile } from './partitions';

export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
}

/** An object to delete, only while it still has `etag` when one is given (S3 conditional delete). */
export interface DeleteTarget {
  readonly key: string;
  readonly etag?: string;
}

/** What a batch delete left in place. */
export interface DeleteOutcome {
  /** Kept: the object's ETag was no longer the one given (rewritten since). */
  readonly changed: readonly string[];
  /** Not there (deleted before, by anyone): nothing to do. */
  readonly missing: readonly string[];
}

/**
 * `createOnly`: write only if no object has the key yet; otherwise fail with ConcurrentCommitError,
 * changing nothing. A create-only upload is not read back (it could not be redone anyway).
 */
export interface WriteOptions {
  readonly createOnly?: boolean;
}

/** The object storage the use-cases need; S3 in production, any S3-compatible server locally. */
export interface ObjectStore {
  list(bucket: string, prefix: string): AsyncIterable<ListedObject>;
  /** Body of one object; fails with SourceChangedError when its ETag is no longer `ifMatch`. */
  getStream(bucket: string, key: string, ifMatch?: string): Promise<Readable>;
  /** A small object's whole body, failing as getStream does; where unset, callers read getStream. */
  getBytes?(bucket: string, key: string, ifMatch?: string): Promise<Buffer>;
  getJson<T>(bucket: string, key: string): Promise<T | undefined>;
  putJson(bucket: string, key: string, value: unknown): Promise<void>;
  /** A small text object (a report for people), written as it is. */
  putText(bucket: string, key: string, body: string, contentType: string): Promise<void>;
  /** Uploads a local file (multipart when large) and returns the stored size and ETag. */
  uploadFile(bucket: string, key: string, path: string, contentType: string, options?: WriteOptions): Promise<{ bytes: number; etag: string }>;
  head(bucket: string, key: string): Promise<{ bytes: number; etag: string } | undefined>;
  /** A JSON object with its ETag, for a later conditional write. */
  getJsonVersioned<T>(bucket: string, key: string): Promise<{ value: T; etag: string } | undefined>;
  /**
   * Writes only if the object still has ETag `ifMatch`, or (with `ifMatch` undefined) does not
   * exist yet; otherwise fails with ConcurrentCommitError and changes nothing.
   */
  putJsonIf(bucket: string, key: string, value: unknown, ifMatch: string | undefined): Promise<void>;
  /** Server-side copy; fails with SourceChangedError when the source's ETag is not `ifMatch`. */
  copy(from: ObjectRef, to: ObjectRef, ifMatch?: string, options?: WriteOptions): Promise<void>;
  /**
   * Deletes in batches, each target only while it has its ETag; reports what was kept because it
   * changed and what was already gone, and fails naming every other key the server refused.
   */
  deleteKeys(bucket: string, targets: readonly DeleteTarget[]): Promise<DeleteOutcome>;
}

/** The table catalog (Glue in production): where each partition's data is. */
export interface CatalogPartition {
  /** Partition values in the table's partition-key order. */
  readonly values: readonly string[];
  /** `s3://bucket/prefix/` */
  readonly location: string;
}

export interface Catalog {
  /** Current entries for these partitions (undefined where a partition does not exist). */
  getPartitions(values: ReadonlyArray<readonly string[]>): Promise<Array<CatalogPartition | undefined>>;
  /** Creates missing partitions and repoints existing ones; fails naming every partition refused. */
  putPartitions(partitions: readonly CatalogPartition[]): Promise<{ created: number; updated: number }>;
  /** The table's data columns, in order. */
  getColumns(): Promise<CatalogColumn[]>;
  /** Appends columns at the end (existing ones are never moved or changed). */
  appendColumns(columns: readonly CatalogColumn[]): Promise<void>;
}

/** A table column with its Hive type (`string`, `bigint`, `timestamp`, ...). */
export interface CatalogColumn {
  readonly name: string;
  readonly type: string;
}

/** Wall-clock source, injected so that core and use-cases stay deterministic in tests. */
export interface Clock {
  now(): Date;
}

/** Whether a workflow execution is still running (Step Functions DescribeExecution in production). */
export interface ExecutionStatus {
  /** undefined when the status cannot be told (no such execution is `false`). */
  isRunning(executionId: string): Promise<boolean | undefined>;
}

/** One attempt's private local files; `close` removes them, whatever happened. */
export interface Workspace {
  /** Where the file `name` of this workspace is (nothing is created). */
  path(name: string): string;
  /** Writes `body` to the file `name` and returns its path. */
  save(name: string, body: Buffer | Readable): Promise<string>;
  close(): Promise<void>;
}

/** Local scratch space (Lambda's /tmp). */
export interface Scratch {
  /** A new workspace of its own: an attempt running at the same time gets another. */
  open(label: string): Promise<Workspace>;
}

/** A bin's inputs on local scratch, read once by the fetch, ready to be written as one file. */
export interface StagedBin {
  /** By object key: records of each JSON Lines and readable Parquet input, as staged. */
  readonly records: ReadonlyMap<string, number>;
  /**
   * Writes the bin's one Parquet file at `outPath`, leaving out `drop` (record indices, 0-based,
   * per object: Kafka redeliveries), and verifies it against what was read.
   */
  compact(drop: ReadonlyMap<string, Intervals>, outPath: string, o: EngineOptions): Promise<CompactedBin>;
}

/** Reads inputs and writes Parquet on local files (DuckDB in production). */
export interface ParquetEngine {
  /** Fetches a bin's inputs into `ws`; an object that cannot be read at all is set aside, with why. */
  stage(store: ObjectStore, buckets: { readonly landing: string; readonly gold: string }, files: readonly SourceFile[], ws: Workspace, o: StageOptions): Promise<StagedBin>;
  /** Records of one JSON Lines or Parquet object, counted without staging it (an unreadable one holds none). */
  countRecords(store: ObjectStore, bucket: string, file: SourceFile, ws: Workspace, o: Pick<StageOptions, 'maxDecompressedBytes'>): Promise<number>;
  /** Lines (1-based) of a JSON Lines object exactly as stored. */
  storedLines(store: ObjectStore, bucket: string, file: SourceFile, lines: ReadonlySet<number>, o: Pick<StageOptions, 'maxDecompressedBytes'>): Promise<Map<number, Buffer>>;
  /** Rows and row checksum of a local Parquet file, as a bin's compaction verifies its own. */
  checksum(path: string): Promise<{ rows: number; checksum: string }>;
  /** Rows, row checksum and columns of local Parquet files. */
  facts(paths: readonly string[], o: Pick<ParquetWriteOptions, 'memoryLimitMb' | 'threads'>): Promise<ParquetFacts[]>;
  /**
   * Merges Parquet files of one schema into `outPaths.length` files, rows split by position
   * (file order, then row order), so a retry writes the same rows to the same file.
   */
  merge(inputs: ReadonlyArray<{ readonly path: string; readonly rows: number }>, outPaths: readonly string[], ws: Workspace, o: ParquetWriteOptions): Promise<MergedLocalFile[]>;
}
