import { createReadStream, createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RejectedRecord } from '../core/engine-contracts';
import { MAX_RECORD_BYTES } from '../core/formats';
import { isBlankLine, NEWLINE } from '../core/bytes';
import type { Intervals } from '../core/intervals';
import { badRecordReason, kindOf, minorityKindReasons, misfitReason } from '../core/input-rules';
import type { JsonSegment, StagedInputs } from './staged-inputs';

/** One record of a JSON chunk, placed in its source object. */
interface ChunkLine {
  readonly segment: JsonSegment;
  /** 0-based line number within the chunk. */
  readonly chunkLine: number;
  /** 1-based line number within the source object. */
  readonly line: number;
  /** 0-based index among the object's records (non-blank lines). */
  readonly record: number;
  /** The line without its newline; only its first MAX_RECORD_BYTES + 1 bytes when longer. */
  readonly bytes: Buffer;
  /** Full length of the line. */
  readonly length: number;
}

/**
 * Visits every record of one chunk, streaming it, so memory holds one record at most (and at
 * most MAX_RECORD_BYTES + 1 bytes of an oversized one), whatever the chunk's size.
 */
async function scanChunk(staged: StagedInputs, chunk: string, visit: (l: ChunkLine) => void): Promise<void> {
  const segments = staged.jsonSegments.filter((s) => s.chunk === chunk).sort((a, b) => a.firstLine - b.firstLine);
  if (!segments.length) return;
  const emptied = staged.blankedIn(chunk);
  let e = 0;
  let seg = 0;
  let record = 0;
  let lineNo = 0;
  let pieces: Buffer[] = [];
  let held = 0;
  let length = 0;
  const endLine = () => {
    const bytes = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
    while (seg < segments.length - 1 && lineNo >= segments[seg].firstLine + segments[seg].lines) {
      seg++;
      record = 0;
    }
    const segment = segments[seg];
    while (e < emptied.length && emptied[e][1] <= lineNo) e++;
    if (e < emptied.length && emptied[e][0] <= lineNo) {
      // Emptied by an earlier pass: no longer visited, still a record of its object.
      record++;
    } else if (length > MAX_RECORD_BYTES || (length > 0 && !isBlankLine(bytes))) {
      visit({ segment, chunkLine: lineNo, line: lineNo - segment.firstLine + 1, record, bytes, length });
      record++;
    }
    lineNo++;
    pieces = [];
    held = 0;
    length = 0;
  };
  const take = (part: Buffer) => {
    length += part.length;
    const room = MAX_RECORD_BYTES + 1 - held;
    if (room > 0 && part.length) {
      const kept = Buffer.from(part.subarray(0, room));
      pieces.push(kept);
      held += kept.length;
    }
  };
  for await (const data of createReadStream(chunk, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
      take(data.subarray(start, nl));
      endLine();
      start = nl + 1;
    }
    take(data.subarray(start));
  }
  if (length > 0) endLine();
}

/** Rewrites a chunk with the given lines (0-based) emptied, streaming: line numbers stay as they were. */
async function blankChunkLines(chunk: string, lines: ReadonlySet<number>): Promise<void> {
  if (!lines.size) return;
  let lineNo = 0;
  const blanked = new Transform({
    transform(data: Buffer, _enc, done) {
      const out: Buffer[] = [];
      let start = 0;
      for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
        out.push(lines.has(lineNo) ? NEWLINE : data.subarray(start, nl + 1));
        lineNo++;
        start = nl + 1;
      }
      if (start < data.length && !lines.has(lineNo)) out.push(data.subarray(start));
      done(null, Buffer.concat(out));
    },
  });
  const tmp = `${chunk}.rewrite`;
  await pipeline(createReadStream(chunk, { highWaterMark: 1024 * 1024 }), blanked, createWriteStream(tmp));
  await rename(tmp, chunk);
}

/**
 * Runs `decide` over every record of the chunks holding one of `keys` (all when unset) and empties
 * the lines it returns true for, so every later pass still names each record by its object's
 * original line number. Row counts follow.
 */
async function blankLines(staged: StagedInputs, keys: ReadonlySet<string> | undefined, decide: (l: ChunkLine) => boolean): Promise<void> {
  for (const chunk of staged.jsonChunks) {
    if (keys && !staged.jsonSegments.some((s) => s.chunk === chunk && keys.has(s.key))) continue;
    const blank = new Set<number>();
    await scanChunk(staged, chunk, (l) => {
      if ((!keys || keys.has(l.segment.key)) && decide(l)) {
        blank.add(l.chunkLine);
        staged.forgetRecord(l.segment.key, l.bytes, l.length);
      }
    });
    await blankChunkLines(chunk, blank);
    staged.markEmptied(chunk, blank);
  }
}

/**
 * Rejected records of one bin. Their bytes are kept for the quarantine file up to a memory budget;
 * past it, or for a record over the size limit, the object itself is copied to quarantine instead.
 */
export class Rejections {
  readonly records: RejectedRecord[] = [];
  private held = 0;

  constructor(private readonly budgetBytes = 64 * 1024 * 1024) {}

  add(r: Omit<RejectedRecord, 'bytes' | 'line' | 'record'>, at: ChunkLine): void {
    const keep = at.length <= MAX_RECORD_BYTES && this.held + at.length <= this.budgetBytes;
    if (keep) this.held += at.length;
    const where = { line: at.line, record: at.record };
    this.records.push(keep ? { ...r, ...where, bytes: Buffer.from(at.bytes) } : { ...r, ...where });
  }
}

/**
 * Takes the records that cannot be read out of the JSON chunks and the per-object row counts.
 * Runs only after the engine refused the inputs, so the usual path never parses JSON in Node.
 */
export async function removeBadRecords(staged: StagedInputs, out: Rejections): Promise<number> {
  let found = 0;
  await blankLines(staged, undefined, (l) => {
    const reason = badRecordReason(l.bytes, l.length);
    if (reason) {
      out.add({ key: l.segment.key, reason }, l);
      found++;
    }
    return reason !== undefined;
  });
  return found;
}

/**
 * Takes out the records the fetch's own line pass found bad (not one JSON object, duplicate or
 * case-variant field names, values no type holds as written), before the engine reads a byte.
 */
export async function removeFlaggedRecords(staged: StagedInputs, out: Rejections): Promise<number> {
  const flagged = staged.json?.flagged;
  if (!flagged?.size) return 0;
  const reasons = new Map([...flagged].map(([key, lines]) => [key, new Map(lines.map((l) => [l.line, l.reason]))]));
  let found = 0;
  await blankLines(staged, new Set(flagged.keys()), (l) => {
    const reason = reasons.get(l.segment.key)?.get(l.line);
    if (reason === undefined) return false;
    out.add({ key: l.segment.key, reason }, l);
    found++;
    return true;
  });
  return found;
}

/** Quarantines the records of the given objects (all when unset) for which `why` gives a reason. */
export async function removeRecordsWhere(
  staged: StagedInputs,
  keys: ReadonlySet<string> | undefined,
  why: (l: { key: string; line: number; bytes: Buffer; length: number }) => string | undefined,
  out: Rejections,
): Promise<number> {
  let found = 0;
  await blankLines(staged, keys, (l) => {
    const reason = why({ key: l.segment.key, line: l.line, bytes: l.bytes, length: l.length });
    if (reason === undefined) return false;
    out.add({ key: l.segment.key, reason }, l);
    found++;
    return true;
  });
  return found;
}

/** Takes records out of the JSON chunks by their index within their object (Kafka redelivery). */
export async function dropRecords(staged: StagedInputs, drop: ReadonlyMap<string, Intervals>): Promise<void> {
  if (!drop.size) return;
  await blankLines(staged, new Set(drop.keys()), ({ segment, record }) => drop.get(segment.key)!.some(([a, b]) => record >= a && record < b));
}

/**
 * Sets aside whole objects whose values for `columns` are of another kind (object, number,
 * string, ...) than most records have: they cannot share one Parquet column with the rest.
 * Adds one entry per record set aside, the reason naming the field and the kinds.
 */
export async function removeIncompatibleObjects(staged: StagedInputs, columns: readonly string[], out: Rejections): Promise<number> {
  const kindsOf = new Map<string, Map<string, Set<string>>>(); // key -> column -> kinds
  const totals = new Map<string, Map<string, number>>(); // column -> kind -> records
  for (const chunk of staged.jsonChunks) {
    await scanChunk(staged, chunk, ({ segment, bytes }) => {
      const record = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      const perKey = kindsOf.get(segment.key) ?? kindsOf.set(segment.key, new Map()).get(segment.key)!;
      for (const c of columns) {
        const k = kindOf(record[c]);
        if (!k) continue;
        (perKey.get(c) ?? perKey.set(c, new Set()).get(c)!).add(k);
        const t = totals.get(c) ?? totals.set(c, new Map()).get(c)!;
        t.set(k, (t.get(k) ?? 0) + 1);
      }
    });
  }
  const reasons = minorityKindReasons(kindsOf, totals);
  let found = 0;
  if (reasons.size) {
    await blankLines(staged, new Set(reasons.keys()), (l) => {
      out.add({ key: l.segment.key, reason: reasons.get(l.segment.key)!, wholeObject: true }, l);
      found++;
      return true;
    });
  }
  return found;
}

/** Values (as text) of a declared column that its type cannot hold. */
export interface Misfit {
  readonly column: string;
  /** The declared DuckDB type. */
  readonly type: string;
  readonly values: readonly string[];
  /** A few values and files, for an error message. */
  readonly examples: readonly string[];
}

/**
 * Takes out the JSON records whose value of a declared column is one the type cannot hold, each
 * reported with its field, value and type. Runs only after the cast failed. Values are matched as
 * the engine shows them: strings as themselves, numbers by value, objects as JSON text.
 */
export async function removeMisfitRecords(staged: StagedInputs, misfits: readonly Misfit[], out: Rejections): Promise<number> {
  const wanted = misfits.map((m) => ({
    ...m,
    quoted: Buffer.from(JSON.stringify(m.column)),
    texts: new Set(m.values),
    numbers: new Set(m.values.map(Number).filter((n) => !Number.isNaN(n))),
  }));
  let found = 0;
  await blankLines(staged, undefined, (l) => {
    const { bytes } = l;
    if (!wanted.some((m) => bytes.includes(m.quoted))) return false;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      return false;
    }
    for (const m of wanted) {
      const v = record[m.column];
      if (v === null || v === undefined) continue;
      const hit = typeof v === 'number' ? m.numbers.has(v) : m.texts.has(typeof v === 'string' ? v : JSON.stringify(v));
      if (hit) {
        out.add({ key: l.segment.key, reason: misfitReason(m.column, JSON.stringify(v), m.type), misfit: { field: m.column, type: m.type } }, l);
        found++;
        return true;
      }
    }
    return false;
  });
  return found;
}
