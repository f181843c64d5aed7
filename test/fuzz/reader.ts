/**
 * The fuzzer's independent reader: landing bytes parsed here in Node (JSON with numbers kept as
 * written and duplicate names noticed, RFC 4180 CSV), committed Parquet read back with hyparquet,
 * and the documented conversions (README, "What is kept, converted, quarantined"), written once, as
 * the rule for whether a written value is the value a record holds.
 */
import { parquetMetadata, parquetReadObjects } from 'hyparquet';

/** A JSON value with numbers as their text. */
export type Json = null | boolean | string | { readonly num: string } | Json[] | { readonly obj: Array<[string, Json]> };

export const isNum = (v: Json): v is { num: string } => typeof v === 'object' && v !== null && !Array.isArray(v) && 'num' in v;
export const isObj = (v: Json): v is { obj: Array<[string, Json]> } => typeof v === 'object' && v !== null && !Array.isArray(v) && 'obj' in v;

/** Parses JSON text; throws on anything JSON.parse would refuse. Numbers keep their text. */
export function parseJson(text: string): Json {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw new Error(`bad JSON at ${i}`);
  };
  const value = (): Json => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      const obj: Array<[string, Json]> = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { obj };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const k = str();
        ws();
        if (text[i++] !== ':') fail();
        obj.push([k, value()]);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return { obj };
        } else fail();
      }
    }
    if (ch === '[') {
      i++;
      const arr: Json[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return arr;
        } else fail();
      }
    }
    if (ch === '"') return str();
    if (text.startsWith('true', i)) return (i += 4), true;
    if (text.startsWith('false', i)) return (i += 5), false;
    if (text.startsWith('null', i)) return (i += 4), null;
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m![0].length;
    return { num: m![0] };
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const v = value();
  ws();
  if (i !== text.length) fail();
  return v;
}

/** RFC 4180 records of a CSV text (header included); `null` for an unquoted empty value. */
export function parseCsv(text: string): Array<Array<string | null>> {
  const rows: Array<Array<string | null>> = [];
  let row: Array<string | null> = [];
  let cur = '';
  let quoted = false;
  let inQuotes = false;
  const endField = () => {
    row.push(cur === '' && !quoted ? null : cur);
    cur = '';
    quoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"' && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') inQuotes = false;
      else cur += ch;
    } else if (ch === '"' && cur === '' && !quoted) {
      quoted = true;
      inQuotes = true;
    } else if (ch === ',') endField();
    else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      if (ch === '\r') i++;
      endField();
      rows.push(row);
      row = [];
    } else cur += ch;
  }
  if (cur !== '' || quoted || row.length) {
    endField();
    rows.push(row);
  }
  return rows;
}

/** A value as written to Parquet, read back by hyparquet (INT64 as bigint, timestamps as micros, JSON as text, decimals exact). */
export type Written = null | boolean | string | number | bigint | { readonly micros: bigint } | { readonly days: number } | { readonly json: string } | { readonly decimal: string } | Written[] | { readonly struct: Record<string, Written> };

/** Reads a Parquet file's rows without any engine of the product. */
export async function readParquet(bytes: Uint8Array): Promise<Array<Record<string, Written>>> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const metadata = parquetMetadata(file);
  // Decimals are taken raw (hyparquet would make them doubles) and scaled here exactly.
  const decimals = new Map<string, number>();
  for (const el of metadata.schema) {
    if (el.converted_type === 'DECIMAL' || el.logical_type?.type === 'DECIMAL') {
      decimals.set(el.name, el.scale ?? 0);
      (el as { converted_type?: string }).converted_type = undefined;
      (el as { logical_type?: unknown }).logical_type = undefined;
    }
  }
  const tag = Symbol.for('fuzz');
  const rows = (await parquetReadObjects({
    file,
    metadata,
    utf8: false,
    parsers: {
      timestampFromMicroseconds: (v: bigint) => ({ [tag]: 'micros', v }),
      timestampFromMilliseconds: (v: bigint) => ({ [tag]: 'micros', v: BigInt(v) * 1000n }),
      timestampFromNanoseconds: (v: bigint) => ({ [tag]: 'nanos', v }),
      dateFromDays: (v: number) => ({ [tag]: 'days', v }),
      stringFromBytes: (b: Uint8Array) => b && new TextDecoder('utf-8', { fatal: true }).decode(b),
      jsonFromBytes: (b: Uint8Array) => b && { [tag]: 'json', v: new TextDecoder('utf-8', { fatal: true }).decode(b) },
      uuidFromBytes: (b: Uint8Array) => b && { [tag]: 'uuid', v: b },
      geometryFromBytes: (b: Uint8Array) => b,
      geographyFromBytes: (b: Uint8Array) => b,
    },
  })) as Array<Record<string, unknown>>;
  const topDecimals = new Map([...decimals].filter(([n]) => metadata.schema.some((e, i) => i > 0 && e.name === n)));
  const conv = (v: unknown, scale?: number): Written => {
    if (v === null || v === undefined) return null;
    if (scale !== undefined && (typeof v === 'number' || typeof v === 'bigint' || v instanceof Uint8Array)) {
      const raw = v instanceof Uint8Array ? bytesToBig(v) : BigInt(v);
      return { decimal: scaled(raw, scale) };
    }
    if (typeof v === 'object' && (v as Record<symbol, unknown>)[tag]) {
      const t = (v as Record<symbol, string>)[tag];
      const x = (v as { v: unknown }).v;
      if (t === 'micros') return { micros: x as bigint };
      if (t === 'nanos') return { micros: (x as bigint) / 1000n };
      if (t === 'days') return { days: x as number };
      if (t === 'json') return { json: x as string };
      return `uuid:${Buffer.from(x as Uint8Array).toString('hex')}`;
    }
    if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
    if (Array.isArray(v)) return v.map((x) => conv(x, decimals.get('element')));
    if (typeof v === 'object') return { struct: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, conv(x, decimals.get(k))])) };
    return v as Written;
  };
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, conv(v, topDecimals.get(k))])));
}

function bytesToBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = v * 256n + BigInt(x);
  if (b.length && b[0] & 0x80) v -= 1n << BigInt(b.length * 8);
  return v;
}

function scaled(v: bigint, scale: number): string {
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${scale ? `${s.slice(0, -scale)}.${s.slice(-scale)}` : s}`;
}

// ---- The documented conversions, written once. ----

const INT = /^-?(0|[1-9]\d*)$/;
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const TIMESTAMP = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d{1,6})?(Z|([+-])([01]\d|2[0-3])(?::?([0-5]\d))?)?$/;
const DATE = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const SAFE = 2n ** 53n;

function daysOf(y: number, m: number, d: number): number | undefined {
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d);
  t.setUTCHours(0, 0, 0, 0);
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d ? t.getTime() / 86_400_000 : undefined;
}

/** The instant (UTC microseconds) an ISO 8601 text names, per the documented grammar; naive text is UTC. */
export function instantOf(text: string): bigint | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const days = daysOf(Number(m[1]), Number(m[2]), Number(m[3]));
  if (days === undefined) return undefined;
  const frac = BigInt((m[7] ?? '.').slice(1).padEnd(6, '0'));
  const offsetMin = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11] ?? 0)) : 0;
  const secs = BigInt(days) * 86400n + BigInt(Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]) - offsetMin * 60);
  return secs * 1_000_000n + frac;
}

export function dateOf(text: string): number | undefined {
  const m = DATE.exec(text);
  return m ? daysOf(Number(m[1]), Number(m[2]), Number(m[3])) : undefined;
}

const NEG_ZERO = /^-0(\.0+)?([eE][+-]?\d+)?$/;

/** CSV text converts to a column type only where every value converts exactly (README). */
export const TEXT_RULES: ReadonlyArray<readonly [string, (v: string) => boolean]> = [
  ['BIGINT', (v) => INT.test(v) && v !== '-0' && BigInt(v) >= -(2n ** 63n) && BigInt(v) < 2n ** 63n],
  ['DOUBLE', (v) => NUMBER.test(v) && Number.isFinite(Number(v)) && !(Number(v) === 0 && /[1-9]/.test(v.replace(/[eE].*$/, ''))) && !NEG_ZERO.test(v) && (!INT.test(v) || (BigInt(v) <= SAFE && BigInt(v) >= -SAFE))],
  ['BOOLEAN', (v) => v === 'true' || v === 'false'],
  ['TIMESTAMP', (v) => instantOf(v) !== undefined],
  ['DATE', (v) => dateOf(v) !== undefined],
];

/** The type a column of CSV text is written as: the first rule every value passes, else text. */
export function textType(values: ReadonlyArray<string | null>): string {
  const present = values.filter((v): v is string => v !== null);
  if (!present.length) return 'NULL';
  return TEXT_RULES.find(([, ok]) => present.every(ok))?.[0] ?? 'VARCHAR';
}

export const convertsTo = (v: string, type: string) => TEXT_RULES.find(([t]) => t === type)![1](v);

/** Why a number read from `text` is not the written value `w`, or undefined when it is (ints exact, doubles as Number() reads them, within 2^53 for an integer). */
function numberDiff(text: string, w: Written): string | undefined {
  if (typeof w === 'bigint') return INT.test(text) && BigInt(text) === w ? undefined : `${text} written as integer ${w}`;
  if (typeof w === 'number') {
    if (INT.test(text) && (BigInt(text) > SAFE || BigInt(text) < -SAFE)) return `${text} written as double ${w} (rounded)`;
    return Object.is(Number(text), w) ? undefined : `${text} written as double ${w}`;
  }
  if (w !== null && typeof w === 'object' && 'decimal' in w) {
    return INT.test(text) && BigInt(text) === BigInt(w.decimal.replace(/\.0*$/, '')) ? undefined : `${text} written as decimal ${w.decimal}`;
  }
  return `${text} written as ${show(w)}`;
}

const show = (w: unknown) => JSON.stringify(w, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));

/** How the record's value reached Parquet: `json` (typed JSON), `text` (CSV: every value a string), `typed` (Parquet input, read by hyparquet). */
export type Origin = 'json' | 'text';

/**
 * Why `w` is not the value `v` as the documented conversions allow it to be written, or undefined.
 * `top`: a top-level field (only there is text converted to a timestamp or date).
 */
export function valueDiff(v: Json, w: Written, origin: Origin, top: boolean): string | undefined {
  if (v === null) return w === null ? undefined : `null written as ${show(w)}`;
  if (w !== null && typeof w === 'object' && 'json' in w) {
    // A value of mixed kinds across records is kept as its JSON text.
    let parsed: Json;
    try {
      parsed = parseJson(w.json);
    } catch {
      return `JSON text ${w.json} does not parse`;
    }
    return valueDiff(v, jsonToWritten(parsed), origin, false);
  }
  if (typeof v === 'boolean') return w === v ? undefined : `${v} written as ${show(w)}`;
  if (isNum(v)) return numberDiff(v.num, w);
  if (typeof v === 'string') {
    if (w === v) return undefined;
    if (top && w !== null && typeof w === 'object' && 'micros' in w) return instantOf(v) === w.micros ? undefined : `"${v}" written as instant ${w.micros}`;
    if (top && w !== null && typeof w === 'object' && 'days' in w) return dateOf(v) === w.days ? undefined : `"${v}" written as date ${w.days}`;
    if (origin === 'text' && top) {
      // CSV: number and boolean text is written as the number or boolean it spells.
      if ((typeof w === 'bigint' || typeof w === 'number') && NUMBER.test(v)) return numberDiff(v, w);
      if (typeof w === 'boolean' && String(w) === v) return undefined;
    }
    return `"${v}" written as ${show(w)}`;
  }
  if (Array.isArray(v)) {
    if (!Array.isArray(w) || w.length !== v.length) return `array of ${v.length} written as ${show(w)}`;
    for (let i = 0; i < v.length; i++) {
      const d = valueDiff(v[i], w[i], origin, false);
      if (d) return `[${i}]: ${d}`;
    }
    return undefined;
  }
  // An object: a struct (absent fields read as null) or a map.
  const fields = new Map((v as { obj: Array<[string, Json]> }).obj);
  if (w === null || typeof w !== 'object' || !('struct' in w)) return `object written as ${show(w)}`;
  for (const [k, x] of fields) {
    const d = valueDiff(x, k in w.struct ? w.struct[k] : null, origin, false);
    if (d) return `.${k}: ${d}`;
  }
  for (const [k, x] of Object.entries(w.struct)) if (!fields.has(k) && x !== null) return `.${k} written as ${show(x)}, the record has none`;
  return undefined;
}

/** Parsed JSON text as a written value (for values kept as JSON text). */
function jsonToWritten(v: Json): Written {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (isNum(v)) return INT.test(v.num) ? BigInt(v.num) : Number(v.num);
  if (Array.isArray(v)) return v.map(jsonToWritten);
  return { struct: Object.fromEntries((v as { obj: Array<[string, Json]> }).obj.map(([k, x]) => [k, jsonToWritten(x)])) };
}

/** A Parquet input's value, read by hyparquet, against how it was written out: equal, or a documented portable conversion. */
export function typedDiff(input: Written, w: Written): string | undefined {
  if (show(input) === show(w)) return undefined;
  // Naive timestamps are written as UTC instants (same micros); UUIDs and times as text.
  if (typeof input === 'bigint' && typeof w === 'number' && BigInt(w) === input && input <= SAFE && input >= -SAFE) return undefined;
  return `${show(input)} written as ${show(w)}`;
}
