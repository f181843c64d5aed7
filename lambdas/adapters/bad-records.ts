import { readFile, writeFile } from 'node:fs/promises';
import type { StagedInputs } from './fetch-inputs';

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

/**
 * Rewrites the JSON chunks without the records that cannot be read, and takes them out of the
 * per-object row counts. Runs only after the engine refused the inputs, so the usual path never
 * parses JSON in Node.
 */
export async function removeBadRecords(staged: StagedInputs): Promise<RejectedRecord[]> {
  const rejected: RejectedRecord[] = [];
  for (const chunk of staged.jsonChunks) {
    const data = await readFile(chunk);
    const segments = staged.jsonSegments.filter((s) => s.chunk === chunk).sort((a, b) => a.firstLine - b.firstLine);
    const keep: Buffer[] = [];
    let found = false;
    let seg = 0;
    for (let start = 0, lineNo = 0; start < data.length; lineNo++) {
      const nl = data.indexOf(0x0a, start);
      const end = nl === -1 ? data.length : nl;
      const line = data.subarray(start, end);
      while (seg < segments.length - 1 && lineNo >= segments[seg].firstLine + segments[seg].lines) seg++;
      const reason = badRecordReason(line);
      if (reason) {
        const s = segments[seg];
        rejected.push({ key: s.key, line: lineNo - s.firstLine + 1, reason, bytes: Buffer.from(line) });
        staged.jsonRows.set(s.key, (staged.jsonRows.get(s.key) ?? 1) - 1);
        found = true;
      } else {
        keep.push(data.subarray(start, nl === -1 ? end : nl + 1));
      }
      start = end + 1;
    }
    if (found) await writeFile(chunk, Buffer.concat(keep));
  }
  return rejected;
}

/**
 * Rewrites the JSON chunks without the first `n` records of the given objects (offsets a
 * redelivered Kafka Connect object repeats), and takes them out of the row counts.
 */
export async function dropLeadingRecords(staged: StagedInputs, dropLeading: ReadonlyMap<string, number>): Promise<void> {
  if (!dropLeading.size) return;
  for (const chunk of staged.jsonChunks) {
    const segments = staged.jsonSegments.filter((s) => s.chunk === chunk && dropLeading.has(s.key));
    if (!segments.length) continue;
    const data = await readFile(chunk);
    const keep: Buffer[] = [];
    const left = new Map(segments.map((s) => [s.key, dropLeading.get(s.key)!]));
    for (let start = 0, lineNo = 0; start < data.length; lineNo++) {
      const nl = data.indexOf(0x0a, start);
      const end = nl === -1 ? data.length : nl;
      const seg = segments.find((s) => lineNo >= s.firstLine && lineNo < s.firstLine + s.lines);
      const line = data.subarray(start, end);
      if (seg && (left.get(seg.key) ?? 0) > 0 && !isBlank(line)) {
        left.set(seg.key, left.get(seg.key)! - 1);
        staged.jsonRows.set(seg.key, (staged.jsonRows.get(seg.key) ?? 1) - 1);
      } else {
        keep.push(data.subarray(start, nl === -1 ? end : nl + 1));
      }
      start = end + 1;
    }
    await writeFile(chunk, Buffer.concat(keep));
  }
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
  const dropKeys = new Map<string, number>();
  for (const [key, perColumn] of kindsOf) {
    const clash = [...perColumn].find(([c, kinds]) => [...kinds].some((k) => k !== majority.get(c)));
    if (!clash) continue;
    const [c, kinds] = clash;
    const reason = `field "${c}" is ${[...kinds].filter((k) => k !== majority.get(c)).join('/')} here but ${majority.get(c)} in most records`;
    for (const l of lines.get(key) ?? []) rejected.push({ key, line: l.line, reason, bytes: l.bytes, wholeObject: true });
    dropKeys.set(key, Number.MAX_SAFE_INTEGER);
  }
  await dropLeadingRecords(staged, dropKeys);
  return rejected;
}
