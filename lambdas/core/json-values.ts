/**
 * The JSON values the record scanner judges on their own: string bodies (escapes, surrogates),
 * numbers no inferred engine type keeps as written, and the reason worded for a line that is not
 * one object.
 */
import type { FieldPaths } from './json-field-paths';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE = 2n ** 53n;

const hex = (b: number) => (b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1);


/** Why a JSON text is not one object, in the words JSON.parse uses (rare path: a record already found bad). */
export function notAnObjectReason(line: Buffer): string {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch (e) {
    return `malformed JSON (${(e as Error).message})`;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return 'malformed JSON';
  return `not a JSON object (${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`})`;
}

/** What scanning a string found besides its end: set by {@link scanString}, read by the scanner. */
export interface StringFlags {
  /** Whether the last string scanned held an escape. */
  escaped: boolean;
  /** Whether a string of the record had a byte past ASCII (only ever set here, reset per record). */
  high: boolean;
}

/** Index after the closing quote of the string at `buf[i]`; -1 malformed, -2 an unpaired surrogate escape. */
export function scanString(buf: Buffer, i: number, end: number, flags: StringFlags): number {
  i++;
  flags.escaped = false;
  for (;;) {
    let b = 0;
    while (i < end && (b = buf[i]) !== QUOTE && b !== BACKSLASH && b >= 0x20) {
      if (b >= 0x80) flags.high = true;
      i++;
    }
    if (i >= end || b < 0x20) return -1;
    if (b === QUOTE) return i + 1;
    flags.escaped = true;
    const e = buf[i + 1];
    if (e === 0x75) {
      const code = hex4(buf, i + 2, end);
      if (code < 0) return -1;
      i += 6;
      if (code >= 0xdc00 && code <= 0xdfff) return -2;
      if (code >= 0xd800 && code <= 0xdbff) {
        if (buf[i] !== BACKSLASH || buf[i + 1] !== 0x75) return -2;
        const low = hex4(buf, i + 2, end);
        if (low < 0) return -1;
        if (low < 0xdc00 || low > 0xdfff) return -2;
        i += 6;
      }
    } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) i += 2;
    else return -1;
  }
}

function hex4(buf: Buffer, i: number, end: number): number {
  if (i + 4 > end) return -1;
  const a = hex(buf[i]);
  const b = hex(buf[i + 1]);
  const c = hex(buf[i + 2]);
  const d = hex(buf[i + 3]);
  return a < 0 || b < 0 || c < 0 || d < 0 ? -1 : (a << 12) | (b << 8) | (c << 4) | d;
}

/**
 * Why the number `buf[from, to)` at `path` cannot be kept as written by any inferred type, or
 * undefined; an integer beyond 2^53 is added to `wideInts`.
 */
export function numberProblem(
  buf: Buffer,
  from: number,
  to: number,
  int: boolean,
  expFrom: number,
  paths: FieldPaths,
  path: number,
  wideInts: Array<{ path: number; text: string }>,
): string | undefined {

  if (int) {
    const neg = buf[from] === 0x2d;
    if (neg && to - from === 2 && buf[from + 1] === 0x30) {
      return `field "${paths.text(path)}" is -0, which an integer column stores as 0 (declare the column string to keep it)`;
    }
    if (to - from - (neg ? 1 : 0) < 16) return undefined;
    const text = buf.toString('latin1', from, to);
    const n = BigInt(text);
    if (n < INT64_MIN || n > INT64_MAX) return `field "${paths.text(path)}" is ${text}, beyond the 64-bit integer range: declare the column decimal(38,0) or string to keep it`;
    if (n > SAFE || n < -SAFE) wideInts.push({ path, text });
    return undefined;
  }
  // -0.0: Parquet writers keep one of 0.0 and -0.0 where a column holds both (DuckDB's dictionary does).
  if (buf[from] === 0x2d && buf[from + 1] === 0x30) {
    let k = from + 1;
    while (k < to && (buf[k] === 0x30 || buf[k] === 0x2e)) k++;
    if (k === to || buf[k] === 0x65 || buf[k] === 0x45) {
      return `field "${paths.text(path)}" is ${buf.toString('latin1', from, to)}, a negative zero, which the Parquet file would not keep apart from 0 (declare the column string to keep it)`;
    }
  }
  // Only numbers near the ends of the double range need a closer look.
  let big = to - from > 300;
  if (!big && expFrom > 0) {
    let e = 0;
    for (let k = expFrom; k < to && e < 1000; k++) e = e * 10 + buf[k] - 0x30;
    big = e >= 290;
  }
  if (!big) return undefined;
  const text = buf.toString('latin1', from, to);
  const v = Number(text);
  if (!Number.isFinite(v)) return `field "${paths.text(path)}" is ${text}, beyond the range of a double`;
  if (v === 0 && /[1-9]/.test(text.replace(/[eE].*$/, ''))) return `field "${paths.text(path)}" is ${text}, too small for a double (it would be stored as 0)`;
  return undefined;
}
