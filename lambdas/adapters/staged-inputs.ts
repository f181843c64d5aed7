import type { CsvFacts } from '../core/csv-records';
import type { SetAsideObject } from '../core/engine-contracts';
import { MAX_RECORD_BYTES } from '../core/formats';
import { FieldPaths, newFacts, RecordScanner } from '../core/json-records';
import { normalize, union, type Intervals } from '../core/intervals';
import type { SourceFile } from '../core/partitions';
import type { JsonObjectFacts } from './json-lines-counter';

export interface StagedFile {
  readonly path: string;
  readonly source: SourceFile;
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
  readonly pathRecords: readonly number[];
  /** By top-level field id: records whose value is not null. */
  readonly nonNull: readonly number[];
  /** By object key: records that go to quarantine before the engine reads anything. */
  readonly flagged: ReadonlyMap<string, readonly FlaggedLine[]>;
  /** By object key: integers beyond 2^53, exact only if their column stays an integer. */
  readonly wideInts: ReadonlyMap<string, ReadonlyArray<{ line: number; path: number; text: string }>>;
}

/** The facts while the fetch gathers them and the passes take records out (only this module and the fetch). */
interface MutableJsonFacts extends JsonFacts {
  readonly pathRecords: number[];
  readonly nonNull: number[];
  readonly flagged: Map<string, readonly FlaggedLine[]>;
  readonly wideInts: Map<string, ReadonlyArray<{ line: number; path: number; text: string }>>;
}

export const newJsonFacts = (exactFields: readonly string[] = []): MutableJsonFacts => {
  const paths = new FieldPaths();
  return { paths, scanner: new RecordScanner(paths, new Set(exactFields)), pathRecords: [], nonNull: [], flagged: new Map(), wideInts: new Map() };
};

/** Adds one fetched object's line-pass facts to its bin's. */
export function mergeFacts(json: MutableJsonFacts, key: string, o: JsonObjectFacts): void {
  for (const [p, n] of o.pathRecords) json.pathRecords[p] = (json.pathRecords[p] ?? 0) + n;
  for (const [k, n] of o.nonNull) json.nonNull[k] = (json.nonNull[k] ?? 0) + n;
  if (o.flagged.length) json.flagged.set(key, o.flagged);
  if (o.wideInts.length) json.wideInts.set(key, o.wideInts);
}

/** What the fetch staged for one bin, as the constructor takes it. */
export interface StagedInit {
  readonly jsonChunks: readonly string[];
  readonly files: readonly StagedFile[];
  readonly jsonRows: ReadonlyMap<string, number>;
  readonly jsonSegments: readonly JsonSegment[];
  readonly rewritten?: ReadonlySet<string>;
  readonly setAside?: readonly SetAsideObject[];
  readonly bytes: number;
  readonly json?: MutableJsonFacts;
}

/**
 * Local copies of a bin's inputs, ready for the engine. The passes that take inputs out (set
 * aside whole, records emptied in their chunk) change it only through its methods, so the
 * counts, the line pass's facts and the emptied lines always agree.
 */
export class StagedInputs {
  /** Plain JSON Lines files, each the concatenation of whole objects. */
  readonly jsonChunks: readonly string[];
  /** Where each JSON Lines object sits in its chunk, to name a bad line by object and line. */
  readonly jsonSegments: readonly JsonSegment[];
  /** JSON objects staged with some of their numbers quoted: quarantine reads their original lines. */
  readonly rewritten: ReadonlySet<string>;
  readonly bytes: number;
  readonly #files: StagedFile[];
  readonly #jsonRows: Map<string, number>;
  readonly #blanked = new Map<string, Intervals>();
  readonly #setAside: SetAsideObject[];
  readonly #json?: MutableJsonFacts;

  constructor(init: StagedInit) {
    this.jsonChunks = [...init.jsonChunks];
    this.jsonSegments = [...init.jsonSegments];
    this.rewritten = new Set(init.rewritten);
    this.bytes = init.bytes;
    this.#files = [...init.files];
    this.#jsonRows = new Map(init.jsonRows);
    this.#setAside = [...(init.setAside ?? [])];
    this.#json = init.json;
  }

  /** CSV and Parquet objects still in the bin, one local file each. */
  get files(): readonly StagedFile[] {
    return this.#files;
  }

  /** Records per JSON Lines object still in the bin (lines with a non-blank byte). */
  get jsonRows(): ReadonlyMap<string, number> {
    return this.#jsonRows;
  }

  /** Objects left out whole, with why. */
  get setAside(): readonly SetAsideObject[] {
    return this.#setAside;
  }

  /** The line pass's view of the JSON records still in the bin; unset where chunks were staged by hand (the benchmark). */
  get json(): JsonFacts | undefined {
    return this.#json;
  }

  /** Lines (0-based) of a chunk emptied by the passes: still records when counting an object's records. */
  blankedIn(chunk: string): Intervals {
    return this.#blanked.get(chunk) ?? [];
  }

  /** Leaves a CSV or Parquet object out of the bin whole. */
  setFileAside(f: StagedFile, reason: string): void {
    const at = this.#files.indexOf(f);
    if (at < 0) throw new Error(`${f.source.key} is not a staged file of this bin`);
    this.#files.splice(at, 1);
    this.#setAside.push({ key: f.source.key, reason });
  }

  /** One record of `key` leaves the bin (quarantined, or a Kafka duplicate): its counts follow. */
  forgetRecord(key: string, bytes: Buffer, length: number): void {
    this.#jsonRows.set(key, (this.#jsonRows.get(key) ?? 1) - 1);
    if (this.#json) forgetFacts(this.#json, bytes, length);
  }

  /** The lines (0-based) a pass emptied in `chunk`, once it rewrote the chunk. */
  markEmptied(chunk: string, lines: ReadonlySet<number>): void {
    if (!lines.size) return;
    this.#blanked.set(chunk, union(this.blankedIn(chunk), normalize([...lines].map((n) => [n, n + 1] as const))));
  }
}

/** Takes a record out of the line pass's counts. */
function forgetFacts(json: MutableJsonFacts, bytes: Buffer, length: number): void {
  if (length > MAX_RECORD_BYTES) return;
  const facts = newFacts();
  if (!json.scanner.scan(bytes, 0, bytes.length, facts) || facts.problem) return;
  for (const p of facts.paths) json.pathRecords[p]--;
  for (const k of facts.keys) if (!facts.nulls.includes(k)) json.nonNull[k]--;
}

export interface JsonSegment {
  readonly chunk: string;
  readonly key: string;
  /** 0-based index of the object's first line in the chunk. */
  readonly firstLine: number;
  /** Lines the object occupies in the chunk (blank ones included). */
  readonly lines: number;
}
