import { Transform, type TransformCallback } from 'node:stream';
import { MAX_RECORD_BYTES } from '../core/formats';
import { newFacts, type RecordFacts, type RecordScanner } from '../core/json-records';
import { tooLarge } from './fetch-errors';

/** One JSON Lines object as its line pass saw it (merged into the bin's facts once the object is fetched whole). */
export interface JsonObjectFacts {
  readonly flagged: Array<{ line: number; reason: string }>;
  readonly wideInts: Array<{ line: number; path: number; text: string }>;
  /** Path id -> records holding it. */
  readonly pathRecords: Map<number, number>;
  /** Top-level field id -> records where it is not null. */
  readonly nonNull: Map<number, number>;
}

function isBlank(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d;
}

const NEWLINE = Buffer.from('\n');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const EMPTY = Buffer.alloc(0);

/**
 * Passes JSON Lines through unchanged except for a leading UTF-8 BOM (which would sit mid-chunk
 * after concatenation), counts records the way DuckDB does (lines with any non-blank byte),
 * ends the object with a newline, and enforces the decompressed size cap. Given a scanner, it
 * also reads every record itself (see core/json-records). Fed chunk by chunk (a stream) or with
 * the whole object at once (a small one): the same bytes and counts either way.
 */
export class JsonLinesPass {
  records = 0;
  /** Newlines written, the final one included. */
  lines = 0;
  bytes = 0;
  readonly facts: JsonObjectFacts = { flagged: [], wideInts: [], pathRecords: new Map(), nonNull: new Map() };
  private lineHasData = false;
  private lastByte = 0x0a;
  private first = true;
  /** The object's first bytes while they could still be a BOM cut across chunks. */
  private head?: Buffer;
  /** The current line's start when it began in an earlier chunk (at most MAX_RECORD_BYTES + 1 bytes kept). */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private partialLength = 0;
  private readonly record: RecordFacts = newFacts();

  constructor(private readonly maxBytes: number, private readonly label: string, private readonly scanner?: RecordScanner) {}

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

  /** The chunk as it is staged (a leading BOM dropped); DecompressedTooLargeError past the cap. */
  feed(chunk: Buffer): Buffer {
    if (this.first) {
      if (this.head) chunk = Buffer.concat([this.head, chunk]);
      this.head = undefined;
      if (chunk.length < 3 && BOM.subarray(0, chunk.length).equals(chunk)) {
        if (chunk.length) this.head = Buffer.from(chunk);
        return EMPTY;
      }
      this.first = false;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) throw tooLarge(this.label, this.maxBytes);
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
    return chunk;
  }

  /** What is left to stage: bytes held as a possible BOM, and the newline that ends an object whose last line has none. */
  end(): Buffer | undefined {
    let held: Buffer | undefined;
    if (this.head) {
      const head = this.head;
      this.head = undefined;
      this.first = false;
      held = Buffer.from(this.feed(head));
    }
    const nl = this.finish();
    return held && nl ? Buffer.concat([held, nl]) : held ?? nl;
  }

  private finish(): Buffer | undefined {
    if (this.lineHasData) {
      this.endLine(Buffer.alloc(0), 0, 0);
      this.records++;
    }
    if (this.lastByte !== 0x0a) this.lines++;
    return this.lastByte === 0x0a ? undefined : NEWLINE;
  }
}

/** {@link JsonLinesPass} as a stream stage. */
export class JsonLinesCounter extends Transform {
  readonly pass: JsonLinesPass;

  constructor(maxBytes: number, label: string, scanner?: RecordScanner) {
    super();
    this.pass = new JsonLinesPass(maxBytes, label, scanner);
  }

  get records(): number {
    return this.pass.records;
  }
  get lines(): number {
    return this.pass.lines;
  }
  get facts(): JsonObjectFacts {
    return this.pass.facts;
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let out: Buffer;
    try {
      out = this.pass.feed(chunk);
    } catch (e) {
      return done(e as Error);
    }
    done(null, out);
  }

  _flush(done: TransformCallback): void {
    done(null, this.pass.end());
  }
}
