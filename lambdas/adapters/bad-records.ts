import { readFile, writeFile } from 'node:fs/promises';
import type { Intervals } from '../core/kafka';
import type { JsonSegment, StagedInputs } from './fetch-inputs';

/** A JSON Lines record the engine cannot read, with where it came from. */
export interface RejectedRecord {
  readonly key: string;
  /** 1-based line number within the source object; absent when the whole object was set aside. */
  readonly line?: number;
  readonly reason: string;
  readonly bytes: Buffer;
  /** Set aside with its whole object (incompatible types), not for being unreadable. */
  readonly wholeObject?: boolean;
}

/** Larger records are rejected (DuckDB is told the same limit). */
export const MAX_RECORD_BYTES = 10 * 1024 * 1024;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const isBlank = (line: Buffer) => line.every((b) => b === 0x20 || b === 0x09 || b === 0x0d);

export function badRecordReason(line: Buffer): string | undefined {
  if (isBlank(line)) return undefined;
  if (line.length > MAX_RECORD_BYTES) return `record of ${line.length} bytes is over the ${MAX_RECORD_BYTES}-byte limit`;
  let text: string;
  try {
    text = strictUtf8.decode(line);
  } catch {
    return 'not valid UTF-8';
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `malformed JSON (${(e as Error).message})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `not a JSON object (${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`})`;
  }
  return undefined;
}

/** One line of a JSON chunk, placed in its source object. */
interface ChunkLine {
  readonly segment: JsonSegment;
  /** 1-based line number within the source object. */
  readonly line: number;
  /** 0-based index among the object's records (non-blank lines). */
  readonly record: number;
  readonly bytes: Buffer;
}

/**
 * Walks every record of the JSON chunks that hold one of `keys` (all when unset); the lines
 * `blank` returns true for are rewritten as empty lines, so every later pass still names each
 * record by its object's original line number. Row counts follow.
 */
async function blankLines(staged: StagedInputs, keys: ReadonlySet<string> | undefined, blank: (l: ChunkLine) => boolean): Promise<number> {
  let blanked = 0;
  for (const chunk of staged.jsonChunks) {
    const segments = staged.jsonSegments.filter((s) => s.chunk === chunk).sort((a, b) => a.firstLine - b.firstLine);
    if (keys && !segments.some((s) => keys.has(s.key))) continue;
    const data = await readFile(chunk);
    const out: Buffer[] = [];
    let changed = false;
    let seg = 0;
    let record = 0;
    for (let start = 0, lineNo = 0; start < data.length; lineNo++) {
      const nl = data.indexOf(0x0a, start);
      const end = nl === -1 ? data.length : nl;
      while (seg < segments.length - 1 && lineNo >= segments[seg].firstLine + segments[seg].lines) {
        seg++;
        record = 0;
      }
      const bytes = data.subarray(start, end);
      const segment = segments[seg];
      if (segment && !isBlank(bytes)) {
        if ((!keys || keys.has(segment.key)) && blank({ segment, line: lineNo - segment.firstLine + 1, record, bytes })) {
          staged.jsonRows.set(segment.key, (staged.jsonRows.get(segment.key) ?? 1) - 1);
          changed = true;
          blanked++;
          out.push(Buffer.from('\n'));
          start = end + 1;
          record++;
          continue;
        }
        record++;
      }
      out.push(data.subarray(start, nl === -1 ? end : nl + 1));
      start = end + 1;
    }
    if (changed) await writeFile(chunk, Buffer.concat(out));
  }
  return blanked;
}

/**
 * Takes the records that cannot be read out of the JSON chunks and the per-object row counts.
 * Runs only after the engine refused the inputs, so the usual path never parses JSON in Node.
 */
export async function removeBadRecords(staged: StagedInputs): Promise<RejectedRecord[]> {
  const rejected: RejectedRecord[] = [];
  await blankLines(staged, undefined, ({ segment, line, bytes }) => {
    const reason = badRecordReason(bytes);
    if (reason) rejected.push({ key: segment.key, line, reason, bytes: Buffer.from(bytes) });
    return reason !== undefined;
  });
  return rejected;
}

/** Takes records out of the JSON chunks by their index within their object (Kafka redelivery). */
export async function dropRecords(staged: StagedInputs, drop: ReadonlyMap<string, Intervals>): Promise<number> {
  if (!drop.size) return 0;
  return blankLines(staged, new Set(drop.keys()), ({ segment, record }) => drop.get(segment.key)!.some(([a, b]) => record >= a && record < b));
}

const kindOf = (v: unknown) => (v === null || v === undefined ? undefined : Array.isArray(v) ? 'array' : typeof v);

/**
 * Sets aside whole objects whose values for `columns` are of another kind (object, number,
 * string, ...) than most records have: they cannot share one Parquet column with the rest.
 * Returns one entry per record set aside, the reason naming the field and the kinds.
 */
export async function removeIncompatibleObjects(staged: StagedInputs, columns: readonly string[]): Promise<RejectedRecord[]> {
  const kindsOf = new Map<string, Map<string, Set<string>>>(); // key -> column -> kinds
  const totals = new Map<string, Map<string, number>>(); // column -> kind -> records
  const lines = new Map<string, Array<{ line: number; bytes: Buffer }>>();
  for (const chunk of staged.jsonChunks) {
    const data = await readFile(chunk);
    const segments = staged.jsonSegments.filter((s) => s.chunk === chunk);
    for (const s of segments) kindsOf.set(s.key, new Map());
    let seg = 0;
    for (let start = 0, lineNo = 0; start < data.length; lineNo++) {
      const nl = data.indexOf(0x0a, start);
      const end = nl === -1 ? data.length : nl;
      while (seg < segments.length - 1 && lineNo >= segments[seg].firstLine + segments[seg].lines) seg++;
      const line = data.subarray(start, end);
      start = end + 1;
      if (isBlank(line) || !segments.length) continue;
      const s = segments[seg];
      const record = JSON.parse(line.toString('utf8')) as Record<string, unknown>;
      (lines.get(s.key) ?? lines.set(s.key, []).get(s.key)!).push({ line: lineNo - s.firstLine + 1, bytes: Buffer.from(line) });
      for (const c of columns) {
        const k = kindOf(record[c]);
        if (!k) continue;
        const perKey = kindsOf.get(s.key)!;
        (perKey.get(c) ?? perKey.set(c, new Set()).get(c)!).add(k);
        const t = totals.get(c) ?? totals.set(c, new Map()).get(c)!;
        t.set(k, (t.get(k) ?? 0) + 1);
      }
    }
  }
  const majority = new Map([...totals].map(([c, t]) => [c, [...t].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0]]));
  const rejected: RejectedRecord[] = [];
  const dropKeys = new Map<string, Intervals>();
  for (const [key, perColumn] of kindsOf) {
    const clash = [...perColumn].find(([c, kinds]) => [...kinds].some((k) => k !== majority.get(c)));
    if (!clash) continue;
    const [c, kinds] = clash;
    const reason = `field "${c}" is ${[...kinds].filter((k) => k !== majority.get(c)).join('/')} here but ${majority.get(c)} in most records`;
    for (const l of lines.get(key) ?? []) rejected.push({ key, line: l.line, reason, bytes: l.bytes, wholeObject: true });
    dropKeys.set(key, [[0, Number.MAX_SAFE_INTEGER]]);
  }
  await dropRecords(staged, dropKeys);
  return rejected;
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
export async function removeMisfitRecords(staged: StagedInputs, misfits: readonly Misfit[]): Promise<RejectedRecord[]> {
  const wanted = misfits.map((m) => ({
    ...m,
    quoted: Buffer.from(JSON.stringify(m.column)),
    texts: new Set(m.values),
    numbers: new Set(m.values.map(Number).filter((n) => !Number.isNaN(n))),
  }));
  const rejected: RejectedRecord[] = [];
  await blankLines(staged, undefined, ({ segment, line, bytes }) => {
    if (!wanted.some((m) => bytes.includes(m.quoted))) return false;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(bytes.toString('utf8'));
    } catch {
      return false;
    }
    for (const m of wanted) {
      const v = record[m.column];
      if (v === null || v === undefined) continue;
      const hit = typeof v === 'number' ? m.numbers.has(v) : m.texts.has(typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));
      if (hit) {
        rejected.push({ key: segment.key, line, reason: `field "${m.column}" is ${JSON.stringify(v)}, which is not a ${m.type}`, bytes: Buffer.from(bytes) });
        return true;
      }
    }
    return false;
  });
  return rejected;
}
