/**
 * Exact decimals from JSON: readers parse JSON numbers into doubles, so `12345678901234567.89`
 * would reach a DECIMAL(20,2) column as 12345678901234568.00. Quoting the number text of the
 * declared decimal fields makes the reader keep it as a string, and the CAST to DECIMAL is exact.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Field names as the bytes a record holds them in. */
export interface NumberFields {
  readonly names: readonly Uint8Array[];
  /** `"name"`, to pass over chunks that hold none of them at native speed. */
  readonly quoted: readonly Buffer[];
}

export function numberFields(names: readonly string[]): NumberFields {
  return { names: names.map((n) => Buffer.from(n)), quoted: names.map((n) => Buffer.from(JSON.stringify(n))) };
}

/** Whether `buf` names any of the fields at all (then no record of it needs scanning). */
export const mentionsAny = (buf: Buffer, fields: NumberFields) => fields.quoted.some((q) => buf.includes(q));

function isField(buf: Uint8Array, from: number, to: number, names: readonly Uint8Array[]): boolean {
  next: for (const n of names) {
    if (n.length !== to - from) continue;
    for (let k = 0; k < n.length; k++) if (buf[from + k] !== n[k]) continue next;
    return true;
  }
  return false;
}

/**
 * Adds to `out` where the number values of the top-level `fields` are in the record
 * `buf[start, end)`, as absolute `[from, to)` spans; adds nothing when the record is not an
 * object we can scan (such a line is left as it is for the reader to report). One pass in plain
 * loops: this runs over every byte of a table with declared decimals.
 */
export function numberSpans(buf: Uint8Array, start: number, end: number, fields: NumberFields, out: Array<[number, number]>): void {
  const mark = out.length;
  let i = start;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d)) i++;
  if (buf[i] !== 0x7b) return;
  i++;
  let depth = 1;
  let expectKey = true;
  let wanted = false;
  let keyed = false;
  while (i < end) {
    const b = buf[i];
    if (b === QUOTE) {
      const open = i;
      i++;
      while (i < end && buf[i] !== QUOTE) i += buf[i] === BACKSLASH ? 2 : 1;
      if (i >= end) {
        out.length = mark;
        return;
      }
      i++;
      if (depth === 1 && expectKey) {
        keyed = true;
        wanted = isField(buf, open + 1, i - 1, fields.names);
        expectKey = false;
      }
      continue;
    }
    if (b === 0x3a && depth === 1 && keyed) {
      i++;
      while (i < end && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d)) i++;
      const c = buf[i];
      if (wanted && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
        const from = i;
        for (let d = buf[i]; i < end && ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d); d = buf[++i]);
        out.push([from, i]);
      }
      keyed = false;
      continue;
    }
    if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) {
      if (--depth === 0) return;
    } else if (b === 0x2c && depth === 1) expectKey = true;
    i++;
  }
  out.length = mark;
}

/** `buf` with a quote before and after every span, in one copy. */
export function withQuotes(buf: Buffer, spans: ReadonlyArray<readonly [number, number]>): Buffer {
  const out = Buffer.allocUnsafe(buf.length + 2 * spans.length);
  let from = 0;
  let to = 0;
  for (const [a, b] of spans) {
    to += buf.copy(out, to, from, a);
    out[to++] = QUOTE;
    to += buf.copy(out, to, a, b);
    out[to++] = QUOTE;
    from = b;
  }
  buf.copy(out, to, from);
  return out;
}

/** The record with the number values of the top-level `fields` quoted, or undefined when nothing changes. */
export function quoteNumberFields(line: Buffer, fields: NumberFields): Buffer | undefined {
  const spans: Array<[number, number]> = [];
  if (mentionsAny(line, fields)) numberSpans(line, 0, line.length, fields, spans);
  return spans.length ? withQuotes(line, spans) : undefined;
}
