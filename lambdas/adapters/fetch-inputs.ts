import { createWriteStream } from 'node:fs';
import { mkdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { CsvReader, type CsvFacts } from '../core/csv-records';
import { CompactorError, InvalidInputError, RetryableError } from '../core/errors';
import { MAX_RECORD_BYTES } from '../core/formats';
import { FieldPaths, newFacts, RecordScanner, type RecordFacts } from '../core/json-records';
import type { Intervals } from '../core/kafka';
import type { SourceFile } from '../core/partitions';
import { mentionsAny, numberFields, numberSpans, withQuotes, type NumberFields, type NumberSpan } from '../core/json-numbers';
import type { ObjectStore } from '../core/ports';
import { ChunkAppender, Collector, OverBufferError, SMALL_OBJECT_BYTES } from './chunk-appender';

export interface FetchOptions {
  readonly concurrency: number;
  /** JSON Lines objects are appended into chunk files of about this size. */
  readonly chunkBytes?: number;
  /** Cap on one object's decompressed size (guards against gzip bombs). */
  readonly maxDecompressedBytes?: number;
  readonly attempts?: number;
  /** Top-level JSON fields whose number values are staged as their exact text (declared decimals). */
  readonly exactNumberFields?: readonly string[];
}

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

const tooLarge = (label: string, max: number) =>
  new DecompressedTooLargeError(`${label} is larger than ${max} bytes once decompressed (a gzip bomb?); split the object or raise MAX_DECOMPRESSED_MB`);

/** An object that cannot be read at all: set aside whole (copied to quarantine), the rest of its bin compacted. */
export class SetAsideError extends InvalidInputError {}

/** An object larger than the cap once decompressed: set aside whole instead of filling the disk. */
export class DecompressedTooLargeError extends SetAsideError {}

/** A `.gz` object that is not a complete gzip stream (truncated, or not gzip at all). */
export class CorruptObjectError extends SetAsideError {}

const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_DECOMPRESSED = 4 * 1024 * 1024 * 1024;

function isBlank(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d;
}

/** One JSON Lines object as its line pass saw it (merged into the bin's {@link JsonFacts} once the object is fetched whole). */
export interface JsonObjectFacts {
  readonly flagged: FlaggedLine[];
  readonly wideInts: Array<{ line: number; path: number; text: string }>;
  /** Path id -> records holding it. */
  readonly pathRecords: Map<number, number>;
  /** Top-level field id -> records where it is not null. */
  readonly nonNull: Map<number, number>;
}

/**
 * Passes JSON Lines through unchanged except for a leading UTF-8 BOM (which would sit mid-chunk
 * after concatenation), counts records the way DuckDB does (lines with any non-blank byte),
 * ends the object with a newline, and enforces the decompressed size cap. Given a scanner, it
 * also reads every record itself (see core/json-records).
 */
export class JsonLinesCounter extends Transform {
  records = 0;
  /** Newlines written, the final one included. */
  lines = 0;
  bytes = 0;
  readonly facts: JsonObjectFacts = { flagged: [], wideInts: [], pathRecords: new Map(), nonNull: new Map() };
  private lineHasData = false;
  private lastByte = 0x0a;
  private first = true;
  /** The current line's start when it began in an earlier chunk (at most MAX_RECORD_BYTES + 1 bytes kept). */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private partialLength = 0;
  private readonly record: RecordFacts = newFacts();

  constructor(private readonly maxBytes: number, private readonly label: string, private readonly scanner?: RecordScanner) {
    super();
  }

  private scanLine(buf: Buffer, from: number, to: number, length: number): void {
    const s = this.scanner!;
    const r = this.record;
    const line = this.lines + 1;
    if (length > MAX_RECORD_BYTES) {
      this.facts.flagged.push({ line, reason: `record of ${length} bytes is over the ${MAX_RECORD_BYTES}-byte limit` });
      return;
    }
    if (!s.scan(buf, from, to, r)) return;
    if (r.problem) {
      this.facts.flagged.push({ line, reason: r.problem });
      return;
    }
    for (const p of r.paths) this.facts.pathRecords.set(p, (this.facts.pathRecords.get(p) ?? 0) + 1);
    for (const k of r.keys) if (!r.nulls.includes(k)) this.facts.nonNull.set(k, (this.facts.nonNull.get(k) ?? 0) + 1);
    for (const w of r.wideInts) this.facts.wideInts.push({ line, path: w.path, text: w.text });
  }

  private endLine(chunk: Buffer, from: number, to: number): void {
    if (!this.scanner) return;
    if (!this.partial.length) return this.scanLine(chunk, from, to, to - from);
    const length = this.partialLength + to - from;
    if (length <= MAX_RECORD_BYTES) this.partial.push(chunk.subarray(from, to));
    const whole = Buffer.concat(this.partial);
    this.partial = [];
    this.partialBytes = 0;
    this.partialLength = 0;
    this.scanLine(whole, 0, whole.length, length);
  }

  private holdPartial(chunk: Buffer, from: number): void {
    if (!this.scanner || from >= chunk.length) return;
    const part = chunk.subarray(from);
    this.partialLength += part.length;
    if (this.partialBytes + part.length <= MAX_RECORD_BYTES) {
      this.partial.push(Buffer.from(part));
      this.partialBytes += part.length;
    }
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.first) {
      this.first = false;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(tooLarge(this.label, this.maxBytes));
      return;
    }
    let i = 0;
    while (i < chunk.length) {
      const nl = chunk.indexOf(0x0a, i);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.lineHasData) {
        for (let j = i; j < end; j++) {
          if (!isBlank(chunk[j])) {
            this.lineHasData = true;
            break;
          }
        }
      }
      if (nl === -1) {
        this.holdPartial(chunk, i);
        break;
      }
      if (this.lineHasData) this.endLine(chunk, i, nl);
      else if (this.partial.length) this.partial = [];
      this.lines++;
      if (this.lineHasData) this.records++;
      this.lineHasData = false;
      this.partialBytes = 0;
      this.partialLength = 0;
      i = nl + 1;
    }
    if (chunk.length) this.lastByte = chunk[chunk.length - 1];
    done(null, chunk);
  }

  _flush(done: TransformCallback): void {
    if (this.lineHasData) {
      this.endLine(Buffer.alloc(0), 0, 0);
      this.records++;
    }
    if (this.lastByte !== 0x0a) this.lines++;
    done(null, this.lastByte === 0x0a ? undefined : Buffer.from('\n'));
  }
}

/** Passes a CSV object through, reading it with {@link CsvReader} under the decompressed size cap. */
export class CsvCounter extends Transform {
  readonly reader = new CsvReader();
  private bytes = 0;

  constructor(private readonly maxBytes: number, private readonly label: string) {
    super();
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(tooLarge(this.label, this.maxBytes));
      return;
    }
    done(null, this.reader.feed(chunk));
  }
}

const QUOTABLE_LINE_BYTES = MAX_RECORD_BYTES - 64 * 1024;

/**
 * Quotes the number values of the given fields, line by line (see numberSpans). A line past the
 * record size limit is passed through as it is (it is rejected later anyway), so memory and time
 * stay linear whatever a line's length.
 */
export class NumberQuoter extends Transform {
  changed = false;
  /** The unfinished line so far. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside an oversized line: bytes go straight through until its newline. */
  private passing = false;

  constructor(private readonly fields: NumberFields) {
    super();
  }

  /** Complete lines, quoted. */
  private quote(lines: Buffer): Buffer {
    if (!mentionsAny(lines, this.fields)) return lines;
    const spans: NumberSpan[] = [];
    let start = 0;
    // A line near the size limit is left as it is: quoting must not push it over.
    const scan = (from: number, to: number) => to - from <= QUOTABLE_LINE_BYTES && numberSpans(lines, from, to, this.fields, spans);
    for (let nl = lines.indexOf(0x0a); nl !== -1; nl = lines.indexOf(0x0a, start)) {
      scan(start, nl);
      start = nl + 1;
    }
    if (start < lines.length) scan(start, lines.length);
    if (!spans.length) return lines;
    this.changed = true;
    return withQuotes(lines, spans);
  }

  private hold(part: Buffer, out: Buffer[]): void {
    if (!part.length) return;
    this.pending.push(part);
    this.pendingBytes += part.length;
    if (this.pendingBytes > MAX_RECORD_BYTES) {
      out.push(...this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      this.passing = true;
    }
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out: Buffer[] = [];
    let start = 0;
    if (this.passing) {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1) return done(null, chunk);
      out.push(chunk.subarray(0, nl + 1));
      this.passing = false;
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(0x0a);
    if (last < start) {
      this.hold(chunk.subarray(start), out);
    } else {
      const first = chunk.indexOf(0x0a, start);
      let complete = chunk.subarray(start, last + 1);
      if (this.pendingBytes + first - start > MAX_RECORD_BYTES) {
        // The held line ends here over the limit: it goes through as it is.
        out.push(...this.pending, chunk.subarray(start, first + 1));
        this.pending = [];
        this.pendingBytes = 0;
        complete = chunk.subarray(first + 1, last + 1);
      }
      out.push(this.quote(this.pending.length ? Buffer.concat([...this.pending, complete]) : complete));
      this.pending = [];
      this.pendingBytes = 0;
      this.hold(chunk.subarray(last + 1), out);
    }
    done(null, out.length === 1 ? out[0] : Buffer.concat(out));
  }

  _flush(done: TransformCallback): void {
    done(null, this.pending.length ? this.quote(Buffer.concat(this.pending)) : undefined);
  }
}

const isGzip = (src: SourceFile) => src.format === 'jsonl.gz' || src.format === 'csv.gz';

/** zlib's own failures (a truncated stream, or bytes that are not gzip), as opposed to I/O ones. */
const isZlibError = (e: unknown) => typeof (e as { code?: unknown })?.code === 'string' && /^Z_/.test((e as { code: string }).code);

/**
 * Streams one object, gunzipped when it is `.gz`, through `stages` into `into`. A `.gz` object that
 * fails to decompress although every stored byte arrived is corrupt (not a cut-off download, which
 * is retried): {@link CorruptObjectError}.
 */
async function streamObject(
  store: ObjectStore,
  bucket: string,
  src: SourceFile,
  stages: ReadonlyArray<NodeJS.ReadWriteStream>,
  into: ReadonlyArray<NodeJS.WritableStream>,
): Promise<void> {
  const body = await store.getStream(bucket, src.key, src.etag);
  if (!isGzip(src)) return pipeline([body, ...stages, ...into]);
  let received = 0;
  const counted = new Transform({
    transform(c: Buffer, _enc, done) {
      received += c.length;
      done(null, c);
    },
  });
  try {
    await pipeline([body, counted, createGunzip(), ...stages, ...into]);
  } catch (e) {
    if (isZlibError(e) && received >= src.size) {
      throw new CorruptObjectError(`s3://${bucket}/${src.key} is not a readable gzip file (${(e as Error).message}): set aside whole`, { cause: e });
    }
    throw e;
  }
}

/** Streams one JSON Lines object (gunzipped when it is `.gz`) through a record counter into `into`. */
async function throughCounter(
  store: ObjectStore,
  bucket: string,
  src: SourceFile,
  maxBytes: number,
  into: ReadonlyArray<NodeJS.WritableStream>,
  scanner?: RecordScanner,
): Promise<JsonLinesCounter> {
  const counter = new JsonLinesCounter(maxBytes, `s3://${bucket}/${src.key}`, scanner);
  await streamObject(store, bucket, src, [counter], into);
  return counter;
}

/** Adds one fetched object's line-pass facts to its bin's. */
function mergeFacts(json: JsonFacts, key: string, o: JsonObjectFacts): void {
  for (const [p, n] of o.pathRecords) json.pathRecords[p] = (json.pathRecords[p] ?? 0) + n;
  for (const [k, n] of o.nonNull) json.nonNull[k] = (json.nonNull[k] ?? 0) + n;
  if (o.flagged.length) json.flagged.set(key, o.flagged);
  if (o.wideInts.length) json.wideInts.set(key, o.wideInts);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` writing into the file at `path`. A failed attempt waits until its file stream is
 * closed: a write still in flight would otherwise land after the retry truncated the file, and the
 * chunk would hold a record twice.
 */
async function intoFile<T>(path: string, flags: 'a' | 'w', fn: (out: NodeJS.WritableStream) => Promise<T>): Promise<T> {
  const out = createWriteStream(path, { flags });
  try {
    return await fn(out);
  } catch (e) {
    if (!out.closed) await new Promise<void>((r) => out.destroy().once('close', () => r()));
    throw e;
  }
}

/**
 * Re-reads an object whose body failed after the request succeeded (a reset or timeout mid-body):
 * the store's request layer (lean GET attempts, or the SDK's maxAttempts) already retried the
 * request itself, so its errors, retryable ones included, go straight to the state machine's
 * retry of the step. Our terminal errors (changed source, bad input) are final.
 */
async function withRetries<T>(attempts: number, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const ours = e instanceof CompactorError;
      if (ours || attempt >= attempts) {
        if (!ours) {
          throw new RetryableError(`${what} failed after ${attempt} attempts: ${(e as Error).message}`, { cause: e });
        }
        throw e;
      }
      await sleep(100 * 2 ** attempt * Math.random());
    }
  }
}

/**
 * Downloads a bin's inputs with bounded parallelism. Each worker owns its chunk files, so
 * concurrent objects never interleave, and a failed attempt is cut off before it is retried.
 */
export async function fetchInputs(
  store: ObjectStore,
  buckets: { readonly landing: string; readonly gold: string },
  sources: readonly SourceFile[],
  dir: string,
  o: FetchOptions,
): Promise<StagedInputs> {
  await mkdir(dir, { recursive: true });
  const chunkLimit = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const maxBytes = o.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED;
  const attempts = o.attempts ?? 4;
  const jsonChunks: string[] = [];
  const files: StagedInputs['files'] = [];
  const jsonRows = new Map<string, number>();
  const jsonSegments: JsonSegment[] = [];
  const setAside: StagedInputs['setAside'] = [];
  const rewritten = new Set<string>();
  const exact = o.exactNumberFields?.length ? numberFields(o.exactNumberFields) : undefined;
  const json = newJsonFacts(o.exactNumberFields);
  let bytes = 0;
  let next = 0;

  /** A small object read whole: its bytes as staged; null when set aside; undefined when it must be streamed. */
  const fetchSmall = async (src: SourceFile, bucket: string, label: string) => {
    try {
      return await withRetries(attempts, `fetch ${label}`, async () => {
        const quoter = exact && new NumberQuoter(exact);
        const sink = new Collector(label);
        const counter = await throughCounter(store, bucket, src, maxBytes, [...(quoter ? [quoter] : []), sink], json.scanner);
        return { counter, bytes: sink.take(), changed: !!quoter && quoter.changed };
      });
    } catch (e) {
      if (e instanceof OverBufferError) return undefined;
      if (!(e instanceof SetAsideError)) throw e;
      // The rest of the bin is compacted; the object goes to quarantine as it is.
      setAside.push({ key: src.key, reason: e.message });
      return null;
    }
  };

  const worker = async (w: number) => {
    const appender = new ChunkAppender();
    try {
      await fill(w, appender);
    } finally {
      await appender.close();
    }
  };

  const fill = async (w: number, appender: ChunkAppender) => {
    let chunkPath = '';
    let chunkSize = chunkLimit;
    let chunkNo = 0;
    let chunkLines = 0;
    for (let i = next++; i < sources.length; i = next++) {
      const src = sources[i];
      const bucket = src.fromGold ? buckets.gold : buckets.landing;
      const label = `s3://${bucket}/${src.key}`;
      if (src.format === 'jsonl' || src.format === 'jsonl.gz') {
        if (chunkSize >= chunkLimit) {
          chunkPath = join(dir, `chunk-${w}-${chunkNo++}.jsonl`);
          jsonChunks.push(chunkPath);
          chunkSize = 0;
          chunkLines = 0;
        }
        const offset = chunkSize;
        const path = chunkPath;
        if (offset === 0) await appender.append(path, Buffer.alloc(0));
        const small = src.size <= SMALL_OBJECT_BYTES ? await fetchSmall(src, bucket, label) : undefined;
        if (small) {
          await appender.append(path, small.bytes);
          if (small.changed) rewritten.add(src.key);
          jsonRows.set(src.key, small.counter.records);
          mergeFacts(json, src.key, small.counter.facts);
          jsonSegments.push({ chunk: path, key: src.key, firstLine: chunkLines, lines: small.counter.lines });
          chunkLines += small.counter.lines;
          chunkSize += small.bytes.length;
          bytes += src.size;
          continue;
        }
        if (small === null) {
          jsonRows.set(src.key, 0);
          bytes += src.size;
          continue;
        }
        await appender.flush();
        const counter = await withRetries(attempts, `fetch ${label}`, async () => {
          await truncate(path, offset).catch(() => undefined);
          const quoter = exact && new NumberQuoter(exact);
          const c = await intoFile(path, 'a', (out) => throughCounter(store, bucket, src, maxBytes, [...(quoter ? [quoter] : []), out], json.scanner));
          if (quoter && quoter.changed) rewritten.add(src.key);
          return c;
        }).catch(async (e) => {
          if (!(e instanceof SetAsideError)) throw e;
          // The rest of the bin is compacted; the object goes to quarantine as it is.
          await truncate(path, offset);
          setAside.push({ key: src.key, reason: e.message });
          return undefined;
        });
        if (!counter) {
          jsonRows.set(src.key, 0);
          bytes += src.size;
          continue;
        }
        jsonRows.set(src.key, counter.records);
        mergeFacts(json, src.key, counter.facts);
        jsonSegments.push({ chunk: path, key: src.key, firstLine: chunkLines, lines: counter.lines });
        chunkLines += counter.lines;
        chunkSize = (await stat(path)).size;
        bytes += src.size;
      } else if (src.format === 'csv' || src.format === 'csv.gz') {
        // Read (and gunzipped) here: the engine gets plain CSV that the fetch has counted itself.
        const path = join(dir, `file-${String(i).padStart(6, '0')}.csv`);
        const csv = await withRetries(attempts, `fetch ${label}`, async () => {
          const counter = new CsvCounter(maxBytes, label);
          await intoFile(path, 'w', (out) => streamObject(store, bucket, src, [counter], [out]));
          return counter.reader.end();
        }).catch((e) => {
          if (!(e instanceof SetAsideError)) throw e;
          setAside.push({ key: src.key, reason: e.message });
          return undefined;
        });
        if (csv?.problem) setAside.push({ key: src.key, reason: `not readable as CSV: ${csv.problem}` });
        else if (csv) files.push({ path, source: src, csv });
        bytes += src.size;
      } else {
        const path = join(dir, `file-${String(i).padStart(6, '0')}.parquet`);
        await withRetries(attempts, `fetch ${label}`, async () => {
          const body = await store.getStream(bucket, src.key, src.etag);
          await intoFile(path, 'w', (out) => pipeline(body, out));
        });
        files.push({ path, source: src });
        bytes += src.size;
      }
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, sources.length)) }, (_, w) => worker(w)));
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  setAside.sort((a, b) => (a.key < b.key ? -1 : 1));
  return { jsonChunks: jsonChunks.sort(), files, jsonRows, jsonSegments, blanked: new Map(), rewritten, setAside, bytes, json };
}

/**
 * Records of one JSON Lines object, counted as the fetch counts them, without keeping it. An
 * object over the decompressed cap holds none: its bin sets it aside whole.
 */
export async function countJsonRecords(
  store: ObjectStore,
  bucket: string,
  src: SourceFile,
  o: Pick<FetchOptions, 'maxDecompressedBytes' | 'attempts'> = {},
): Promise<number> {
  const label = `s3://${bucket}/${src.key}`;
  return withRetries(o.attempts ?? 4, `count ${label}`, async () => {
    const discard = new Writable({ write: (_chunk, _enc, done) => done() });
    return (await throughCounter(store, bucket, src, o.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED, [discard])).records;
  }).catch((e) => {
    if (e instanceof SetAsideError) return 0;
    throw e;
  });
}

/**
 * Lines of one JSON Lines object as they are stored (1-based, a leading BOM dropped as the fetch
 * drops it): quarantine keeps records byte for byte even where staging quoted their numbers.
 */
export async function originalLines(
  store: ObjectStore,
  bucket: string,
  src: SourceFile,
  wanted: ReadonlySet<number>,
  o: Pick<FetchOptions, 'maxDecompressedBytes' | 'attempts'> = {},
): Promise<Map<number, Buffer>> {
  const label = `s3://${bucket}/${src.key}`;
  return withRetries(o.attempts ?? 4, `read ${label}`, async () => {
    const found = new Map<number, Buffer>();
    let line = 1;
    let partial: Buffer[] = [];
    const collect = new Writable({
      write(chunk: Buffer, _enc, done) {
        let start = 0;
        for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
          if (wanted.has(line)) found.set(line, Buffer.concat([...partial, chunk.subarray(start, nl)]));
          partial = [];
          line++;
          start = nl + 1;
        }
        if (wanted.has(line) && start < chunk.length) partial.push(Buffer.from(chunk.subarray(start)));
        done();
      },
      final(done) {
        if (partial.length && wanted.has(line)) found.set(line, Buffer.concat(partial));
        done();
      },
    });
    await throughCounter(store, bucket, src, o.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED, [collect]);
    return found;
  });
}

/** Downloads one object to a local file (for readers that need one, such as Parquet's footer). */
export async function downloadObject(store: ObjectStore, bucket: string, src: SourceFile, path: string, attempts = 4): Promise<void> {
  await withRetries(attempts, `fetch s3://${bucket}/${src.key}`, async () => {
    const body = await store.getStream(bucket, src.key, src.etag);
    await intoFile(path, 'w', (out) => pipeline(body, out));
  });
}
