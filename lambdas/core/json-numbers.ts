/**
 * Exact decimals from JSON: readers parse JSON numbers into doubles, so `12345678901234567.89`
 * would reach a DECIMAL(20,2) column as 12345678901234568.00. Quoting the number text of the
 * declared decimal fields makes the reader keep it as a string, and the CAST to DECIMAL is exact.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
const isNumberStart = (b: number) => b === 0x2d || (b >= 0x30 && b <= 0x39);
const isNumberPart = (b: number) => (b >= 0x30 && b <= 0x39) || b === 0x2e || b === 0x65 || b === 0x45 || b === 0x2b || b === 0x2d;

function skipSpace(line: Buffer, i: number): number {
  while (i < line.length && isSpace(line[i])) i++;
  return i;
}

/** Index just past the string starting at `i` (a quote), or -1 when it is not closed. */
function stringEnd(line: Buffer, i: number): number {
  for (let j = i + 1; j < line.length; j++) {
    if (line[j] === BACKSLASH) j++;
    else if (line[j] === QUOTE) return j + 1;
  }
  return -1;
}

/** Field names as the bytes a record holds them in. */
export interface NumberFields {
  readonly names: readonly Buffer[];
  /** `"name"`, to skip records without any of them at native speed. */
  readonly quoted: readonly Buffer[];
}

export function numberFields(names: readonly string[]): NumberFields {
  return { names: names.map((n) => Buffer.from(n)), quoted: names.map((n) => Buffer.from(JSON.stringify(n))) };
}

/**
 * The record with the number values of the top-level `fields` quoted, or undefined when nothing
 * changes (no such field with a number value, or not an object we can scan: such a line is left
 * as it is for the reader to report).
 */
export function quoteNumberFields(line: Buffer, fields: NumberFields): Buffer | undefined {
  if (!fields.quoted.some((q) => line.includes(q))) return undefined;
  let i = skipSpace(line, 0);
  if (line[i] !== 0x7b) return undefined;
  i++;
  let depth = 1;
  let expectKey = true;
  let key = false;
  let wanted = false;
  const spans: Array<[number, number]> = [];
  while (i < line.length) {
    const b = line[i];
    if (b === QUOTE) {
      const end = stringEnd(line, i);
      if (end < 0) return undefined;
      if (depth === 1 && expectKey) {
        key = true;
        wanted = fields.names.some((n) => n.length === end - i - 2 && line.compare(n, 0, n.length, i + 1, end - 1) === 0);
        expectKey = false;
      }
      i = end;
      continue;
    }
    if (b === 0x3a && depth === 1 && key) {
      i = skipSpace(line, i + 1);
      if (wanted && isNumberStart(line[i])) {
        const start = i;
        while (i < line.length && isNumberPart(line[i])) i++;
        spans.push([start, i]);
      }
      key = false;
      continue;
    }
    if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) {
      if (--depth === 0) break;
    } else if (b === 0x2c && depth === 1) expectKey = true;
    i++;
  }
  if (!spans.length || depth !== 0) return undefined;
  const parts: Buffer[] = [];
  let at = 0;
  for (const [start, end] of spans) {
    parts.push(line.subarray(at, start), Buffer.from('"'), line.subarray(start, end), Buffer.from('"'));
    at = end;
  }
  parts.push(line.subarray(at));
  return Buffer.concat(parts);
}
