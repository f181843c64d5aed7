import type { CsvFacts } from '../core/csv-records';
import { MAX_RECORD_BYTES } from '../core/formats';
import { FieldPaths, newFacts, RecordScanner } from '../core/json-records';
import type { Intervals } from '../core/intervals';
import type { SourceFile } from '../core/partitions';
import type { JsonObjectFacts } from './json-lines-counter';

export interface StagedFile {
  readonly path: string;
  readonly source: SourceFile;
  /** Rows (0-based, `[from, to)`) left out of a Parquet input: offsets a redelivery repeats. */
  dropRows?: Intervals;
  /** A CSV object as the fetch read it (header, records, values per column). */
  readonly csv?: CsvFacts;
}

/** A record the fetch's own reading of an object found bad: 1-based line and why. */
export interface FlaggedLine {
  readonly line: number;
  readonly reason: string;
}

/**
 * What the fetch's own line pass saw in a bin's JSON Lines records, kept current as records are
 * taken out: the independent view the staged table is checked against.
 */
export interface JsonFacts {
  readonly paths: FieldPaths;
  readonly scanner: RecordScanner;
  /** By field path id: records holding the path. */
  readonly pathRecords: number[];
  /** By top-level field id: records whose value is not null. */
  readonly nonNull: number[];
  /** By object key: records that go to quarantine before the engine reads anything. */
  readonly flagged: Map<string, FlaggedLine[]>;
  /** By object key: integers beyond 2^53, exact only if their column stays an integer. */
  readonly wideInts: Map<string, Array<{ line: number; path: number; text: string }>>;
}

export const newJsonFacts = (exactFields: readonly string[] = []): JsonFacts => {
  const paths = new FieldPaths();
  return { paths, scanner: new RecordScanner(paths, new Set(exactFields)), pathRecords: [], nonNull: [], flagged: new Map(), wideInts: new Map() };
};

/** Takes a record that leaves the bin (quarantined, or a Kafka duplicate) out of the line pass's counts. */
export function forgetRecord(json: JsonFacts, bytes: Buffer, length: number): void {
  if (length > MAX_RECORD_BYTES) return;
  const facts = newFacts();
  if (!json.scanner.scan(bytes, 0, bytes.length, facts) || facts.problem) return;
  for (const p of facts.paths) json.pathRecords[p]--;
  for (const k of facts.keys) if (!facts.nulls.includes(k)) json.nonNull[k]--;
}

/** Adds one fetched object's line-pass facts to its bin's. */
export function mergeFacts(json: JsonFacts, key: string, o: JsonObjectFacts): void {
  for (const [p, n] of o.pathRecords) json.pathRecords[p] = (json.pathRecords[p] ?? 0) + n;
  for (const [k, n] of o.nonNull) json.nonNull[k] = (json.nonNull[k] ?? 0) + n;
  if (o.flagged.length) json.flagged.set(key, o.flagged);
  if (o.wideInts.length) json.wideInts.set(key, o.wideInts);
}

/** Local copies of a bin's inputs, ready for the engine. */
export interface StagedInputs {
  /** Plain JSON Lines files, each the concatenation of whole objects. */
  readonly jsonChunks: string[];
  /** CSV and Parquet objects, one local file each. */
  readonly files: StagedFile[];
  /** Records per JSON Lines object, counted while streaming (lines with a non-blank byte). */
  readonly jsonRows: Map<string, number>;
  /** Where each JSON Lines object sits in its chunk, to name a bad line by object and line. */
  readonly jsonSegments: JsonSegment[];
  /** Per chunk, the lines (0-based) our passes emptied: still records when counting an object's records. */
  readonly blanked: Map<string, Intervals>;
  /** JSON objects staged with some of their numbers quoted: quarantine reads their original lines. */
  readonly rewritten: Set<string>;
  /** Objects left out whole before staging (over the decompressed size cap), with why. */
  readonly setAside: Array<{ key: string; reason: string }>;
  readonly bytes: number;
  /** The line pass's view of the JSON records; unset only where chunks were staged by hand (the benchmark). */
  readonly json?: JsonFacts;
}

export interface JsonSegment {
  readonly chunk: string;
  readonly key: string;
  /** 0-based index of the object's first line in the chunk. */
  readonly firstLine: number;
  /** Lines the object occupies in the chunk (blank ones included). */
  readonly lines: number;
}
