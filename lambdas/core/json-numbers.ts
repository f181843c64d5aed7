/**
 * Exact decimals from JSON: readers parse JSON numbers into doubles, so `12345678901234567.89`
 * would reach a DECIMAL(20,2) column as 12345678901234568.00. Quoting the number text of the
 * declared decimal fields makes the reader keep it as a string, and the CAST to DECIMAL is exact.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Field names as the bytes a record holds them in. */
export interface NumberFields {
  readonly text: readonly string[];
  readonly names: readonly Uint8Array[];
  /** `"name"`, to pass over chunks that hold none of them at native speed. */
  readonly quoted: readonly Buffer[];
}

export function numberFields(names: readonly string[]): NumberFields {
  return { text: names, names: names.map((n) => Buffer.from(n)), quoted: names.map((n) => Buffer.from(JSON.stringify(n))) };
}

/** Whether `buf` may name one of the fields (if not, no record of it needs scanning); an escape may hide a name. */
export const mentionsAny = (buf: Buffer, fields: NumberFields) => buf.includes(BACKSLASH) || fields.quoted.some((q) => buf.includes(q));

const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/** `buf[from, to)` follows JSON's number grammar: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`. */
function isJsonNumber(buf: Uint8Array, from: number, to: number): boolean {
  let i = from;
  if (buf[i] === 0x2d) i++;
  if (buf[i] === 0x30) i++;
  else if (i < to && buf[i] >= 0x31 && buf[i] <= 0x39) while (i < to && isDigit(buf[i])) i++;
  else return false;
  if (i < to && buf[i] === 0x2e) {
    const digits = ++i;
    while (i < to && isDigit(buf[i])) i++;
    if (i === digits) return false;
  }
  if (i < to && (buf[i] === 0x65 || buf[i] === 0x45)) {
    i++;
    if (i < to && (buf[i] === 0x2b || buf[i] === 0x2d)) i++;
    const digits = i;
    while (i < to && isDigit(buf[i])) i++;
    if (i === digits) return false;
  }
  return i === to;
}

/** Whether the key between quotes `buf[from, to)` is one of the fields (escapes decoded). */
function isField(buf: Uint8Array, from: number, to: number, escaped: boolean, fields: NumberFields): boolean {
  next: for (const n of fields.names) {
    if (n.length !== to - from) continue;
    for (let k = 0; k < n.length; k++) if (buf[from + k] !== n[k]) continue next;
    return true;
  }
  if (escaped) {
    try {
      return fields.text.includes(JSON.parse(Buffer.from(buf.subarray(from - 1, to + 1)).toString('utf8')) as string);
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * A number with an exponent as plain digits (`-0.5e-3` is `-0.0005`): exact, and the form the
 * DECIMAL cast rounds correctly. Undefined when there is no exponent or it is absurdly large.
 */
export function plainNumber(text: string): string | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(text);
  if (!m) return undefined;
  const [, sign, int, frac = '', exponent] = m;
  const exp = Number(exponent);
  if (Math.abs(exp) > 400) return undefined;
  let digits = int + frac;
  let point = int.length + exp;
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  const fraction = digits.slice(point).replace(/0+$/, '');
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}

/**
 * Adds to `out` where the number values of the top-level `fields` are in the record
 * `buf[start, end)`, as absolute `[from, to)` spans; adds nothing when the record is not an
 * object we can scan (such a line is left as it is for the reader to report). One pass in plain
 * loops: this runs over every byte of a table with declared decimals.
 */
export function numberSpans(buf: Uint8Array, start: number, end: number, fields: NumberFields, out: NumberSpan[]): void {
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
      let escaped = false;
      i++;
      while (i < end && buf[i] !== QUOTE) {
        if (buf[i] === BACKSLASH) {
          escaped = true;
          i++;
        }
        i++;
      }
      if (i >= end) {
        out.length = mark;
        return;
      }
      i++;
      if (depth === 1 && expectKey) {
        keyed = true;
        wanted = isField(buf, open + 1, i - 1, escaped, fields);
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
        let exponent = false;
        for (let d = buf[i]; i < end && ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d); d = buf[++i]) {
          if (d === 0x65 || d === 0x45) exponent = true;
        }
        // Only a valid JSON number is quoted: `1.e5` or `00012` stay as they are, for the reader to reject.
        if (isJsonNumber(buf, from, i)) {
          const plain = exponent ? plainNumber(Buffer.from(buf.subarray(from, i)).toString('latin1')) : undefined;
          out.push(plain === undefined ? [from, i] : [from, i, plain]);
        }
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

/** Where a number is, `[from, to)`, and its plain-digit text when it was written with an exponent. */
export type NumberSpan = [number, number] | [number, number, string];

/** `buf` with every span quoted (and written in plain digits where it had an exponent), in one copy. */
export function withQuotes(buf: Buffer, spans: readonly NumberSpan[]): Buffer {
  const grown = spans.reduce((n, s) => n + 2 + (s.length === 3 ? s[2].length - (s[1] - s[0]) : 0), 0);
  const out = Buffer.allocUnsafe(buf.length + grown);
  let from = 0;
  let to = 0;
  for (const s of spans) {
    to += buf.copy(out, to, from, s[0]);
    out[to++] = QUOTE;
    to += s.length === 3 ? out.write(s[2], to, 'latin1') : buf.copy(out, to, s[0], s[1]);
    out[to++] = QUOTE;
    from = s[1];
  }
  buf.copy(out, to, from);
  return out;
}

/** The record with the number values of the top-level `fields` quoted, or undefined when nothing changes. */
export function quoteNumberFields(line: Buffer, fields: NumberFields): Buffer | undefined {
  const spans: NumberSpan[] = [];
  if (mentionsAny(line, fields)) numberSpans(line, 0, line.length, fields, spans);
  return spans.length ? withQuotes(line, spans) : undefined;
}
