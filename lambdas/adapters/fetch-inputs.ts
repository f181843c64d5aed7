import { createWriteStream } from 'node:fs';
import { mkdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { CompactorError, InvalidInputError, RetryableError } from '../core/errors';
import { MAX_RECORD_BYTES, scratchExtension } from '../core/formats';
import type { Intervals } from '../core/kafka';
import type { SourceFile } from '../core/partitions';
import { mentionsAny, numberFields, numberSpans, withQuotes, type NumberFields, type NumberSpan } from '../core/json-numbers';
import type { ObjectStore } from '../core/ports';

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
}

export interface JsonSegment {
  readonly chunk: string;
  readonly key: string;
  /** 0-based index of the object's first line in the chunk. */
  readonly firstLine: number;
  /** Lines the object occupies in the chunk (blank ones included). */
  readonly lines: number;
}

/** An object larger than the cap once decompressed: set aside whole instead of filling the disk. */
export class DecompressedTooLargeError extends InvalidInputError {}

const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_DECOMPRESSED = 4 * 1024 * 1024 * 1024;

function isBlank(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d;
}

/**
 * Passes JSON Lines through unchanged except for a leading UTF-8 BOM (which would sit mid-chunk
 * after concatenation), counts records the way DuckDB does (lines with any non-blank byte),
 * ends the object with a newline, and enforces the decompressed size cap.
 */
export class JsonLinesCounter extends Transform {
  records = 0;
  /** Newlines written, the final one included. */
  lines = 0;
  bytes = 0;
  private lineHasData = false;
  private lastByte = 0x0a;
  private first = true;

  constructor(private readonly maxBytes: number, private readonly label: string) {
    super();
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.first) {
      this.first = false;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(new DecompressedTooLargeError(`${this.label} is larger than ${this.maxBytes} bytes once decompressed (a gzip bomb?); split the object or raise MAX_DECOMPRESSED_MB`));
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
      if (nl === -1) break;
      this.lines++;
      if (this.lineHasData) this.records++;
      this.lineHasData = false;
      i = nl + 1;
    }
    if (chunk.length) this.lastByte = chunk[chunk.length - 1];
    done(null, chunk);
  }

  _flush(done: TransformCallback): void {
    if (this.lineHasData) this.records++;
    if (this.lastByte !== 0x0a) this.lines++;
    done(null, this.lastByte === 0x0a ? undefined : Buffer.from('\n'));
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

/** Streams one JSON Lines object (gunzipped when it is `.gz`) through a record counter into `into`. */
async function throughCounter(
  store: ObjectStore,
  bucket: string,
  src: SourceFile,
  maxBytes: number,
  into: ReadonlyArray<NodeJS.WritableStream>,
): Promise<JsonLinesCounter> {
  const body = await store.getStream(bucket, src.key, src.etag);
  const counter = new JsonLinesCounter(maxBytes, `s3://${bucket}/${src.key}`);
  await pipeline([body, ...(src.format === 'jsonl.gz' ? [createGunzip()] : []), counter, ...into]);
  return counter;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withRetries<T>(attempts: number, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      // Our own terminal errors (changed source, bad input) are final; I/O hiccups are retried.
      const terminal = e instanceof CompactorError && !e.retryable;
      if (terminal || attempt >= attempts) {
        if (!terminal && !(e instanceof CompactorError)) {
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
  let bytes = 0;
  let next = 0;

  const worker = async (w: number) => {
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
        const counter = await withRetries(attempts, `fetch ${label}`, async () => {
          await truncate(path, offset).catch(() => undefined);
          const quoter = exact && new NumberQuoter(exact);
          const c = await throughCounter(store, bucket, src, maxBytes, [...(quoter ? [quoter] : []), createWriteStream(path, { flags: 'a' })]);
          if (quoter && quoter.changed) rewritten.add(src.key);
          return c;
        }).catch(async (e) => {
          if (!(e instanceof DecompressedTooLargeError)) throw e;
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
        jsonSegments.push({ chunk: path, key: src.key, firstLine: chunkLines, lines: counter.lines });
        chunkLines += counter.lines;
        chunkSize = (await stat(path)).size;
        bytes += src.size;
      } else {
        const path = join(dir, `file-${String(i).padStart(6, '0')}${scratchExtension(src.format)}`);
        await withRetries(attempts, `fetch ${label}`, async () => {
          const body = await store.getStream(bucket, src.key, src.etag);
          await pipeline(body, createWriteStream(path));
        });
        files.push({ path, source: src });
        bytes += src.size;
      }
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, sources.length)) }, (_, w) => worker(w)));
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  setAside.sort((a, b) => (a.key < b.key ? -1 : 1));
  return { jsonChunks: jsonChunks.sort(), files, jsonRows, jsonSegments, blanked: new Map(), rewritten, setAside, bytes };
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
    if (e instanceof DecompressedTooLargeError) return 0;
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
    await pipeline(await store.getStream(bucket, src.key, src.etag), createWriteStream(path));
  });
}
