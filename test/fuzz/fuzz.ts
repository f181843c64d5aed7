/**
 * The differential fuzzer: a seeded landing zone of records in many shapes (JSON Lines plain, .gz,
 * CRLF and BOM; CSV; Parquet) with hostile field names, values and partitions, and bad records and
 * objects mixed in, goes through the real path (loopback S3, plan -> compact -> swap). An
 * independent reader (reader.ts) then compares every good record with the committed Parquet,
 * field by field, and finds every bad one in quarantine. Prints one line:
 *
 *   fuzz: <N> records, <S> shapes, <B> bins: lost 0, altered 0, duplicated 0, bad <Q> accounted <Q>
 *
 *   npm run fuzz -- --seed 7 --records 100000 [--shapes 60] [--verbose]
 */
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { S3ObjectStore } from '../../lambdas/adapters/s3';
import type { BinManifest } from '../../lambdas/core/contracts';
import { mapLimit } from '../../lambdas/core/concurrency';
import { partitionPath } from '../../lambdas/core/partitions';
import { rng } from '../../local/generate';
import { startLocalS3 } from '../../local/s3-server';
import { ManualClock, usePipeline } from '../helpers/pipeline';
import { allKeys, getBytes } from '../helpers/rows';
import { convertsTo, isNum, isObj, parseCsv, parseJson, readParquet, textType, typedDiff, valueDiff, type Json, type Written } from './reader';

type Kind = 'string' | 'int' | 'big' | 'float' | 'ts' | 'date' | 'bool' | 'object' | 'array' | 'deep' | 'null';
type Format = 'jsonl' | 'jsonl.gz' | 'jsonl-crlf' | 'jsonl-bom' | 'csv' | 'csv.gz' | 'parquet';

/** Field names: unicode, case variants, reserved-looking and partition-key names; each name has one kind. */
const FIELDS: ReadonlyArray<readonly [string, Kind]> = [
  ['device_id', 'string'], ['temp', 'float'], ['seq', 'int'], ['big', 'big'], ['ts', 'ts'], ['day', 'date'], ['ok', 'bool'],
  ['note', 'string'], ['température', 'float'], ['名前', 'string'], ['😀key', 'int'], ['a b,"c"', 'string'],
  ['__compactor_src', 'string'], ['__compactor_x', 'int'], ['__index_level_0__', 'int'], ['filename', 'string'],
  ['file_row_number', 'int'], ['_rowid', 'int'], ['json', 'string'], ['dt', 'string'], ['hour', 'string'],
  ['meta', 'object'], ['tags', 'array'], ['deep', 'deep'], ['empty', 'null'],
];
/** Names that differ only by case: a partition's records use one spelling, a few the other (those go to quarantine). */
const CASE_PAIRS: Readonly<Record<string, string>> = { temp: 'Temp', note: 'Note' };
const NESTED: ReadonlySet<Kind> = new Set(['object', 'array', 'deep', 'null']);
const FORMATS: readonly Format[] = ['jsonl', 'jsonl', 'jsonl', 'jsonl.gz', 'jsonl-crlf', 'jsonl-bom', 'csv', 'csv', 'csv.gz', 'parquet', 'parquet'];

interface Shape {
  readonly id: number;
  readonly format: Format;
  readonly fields: ReadonlyArray<readonly [string, Kind]>;
}

interface Options {
  readonly seed: number;
  readonly records: number;
  readonly shapes: number;
  readonly verbose: boolean;
  /** Only the partitions whose path is this (to look into one bin). */
  readonly only?: string;
}

function parseArgs(argv: readonly string[]): Options {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const records = Number(get('records') ?? 5000);
  return {
    seed: Number(get('seed') ?? 1),
    records,
    shapes: Number(get('shapes') ?? Math.max(24, Math.round(records / 1600))),
    verbose: argv.includes('--verbose'),
    only: get('only'),
  };
}

/** The seeded generator of values, shapes and landing objects. */
class Gen {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(seed);
  }
  int = (n: number) => Math.floor(this.r() * n);
  pick = <T>(xs: readonly T[]): T => xs[this.int(xs.length)];
  chance = (p: number) => this.r() < p;

  string(): string {
    return this.pick([
      '', 'plain', 'é ü 日本 😀', 'a,b', 'say "hi"', 'line1\nline2', 'crlf\r\ninside', ' padded ', '007', '1e5', 'true', 'null', '-0',
      '123e4567-e89b-12d3-a456-426614174000', '14:00:00', '2024-12-19', 'x'.repeat(3000), '\u0000nul', 'tab\there', 'back\\slash',
      'sep\u2028line', `r${this.int(1e9)}`, String.fromCodePoint(0x1f600 + this.int(50), 0x4e00 + this.int(2000)),
    ]);
  }
  intText(big: boolean): string {
    if (big && this.chance(0.5)) return this.pick(['9007199254740993', '-9007199254740993', '9223372036854775807', '-9223372036854775808', '1234567890123456789']);
    return String(this.pick([0, -1, 1, 42, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, this.int(1e6) - 5e5, this.int(1e12)]));
  }
  floatText(): string {
    if (this.chance(0.3)) return this.pick(['0.0', '1e308', '-1.7976931348623157e308', '5e-324', '2.2250738585072014e-308', '0.1', '123.456', '1e-7', '3', '-12', '2.5E+3', '1.0']);
    const mant = String(1 + this.int(99999999999999)).slice(0, 1 + this.int(16));
    const point = this.int(mant.length + 1);
    const digits = point === mant.length ? `${mant}.5` : `${mant.slice(0, point) || '0'}.${mant.slice(point)}`;
    const text = `${this.chance(0.3) ? '-' : ''}${digits}${this.chance(0.4) ? `e${this.int(60) - 30}` : ''}`;
    // A negative zero goes to quarantine (README); it is one of the bad lines, not a value here.
    return /^-0(\.0+)?(e.*)?$/.test(text) ? text.slice(1) : text;
  }
  tsText(): string {
    const ms = Date.UTC(1970 + this.int(130), this.int(12), 1 + this.int(28), this.int(24), this.int(60), this.int(60));
    const iso = new Date(ms).toISOString().slice(0, 19);
    const frac = this.chance(0.5) ? `.${String(this.int(1e6)).padStart(6, '0').slice(0, 1 + this.int(6))}` : '';
    const sep = this.chance(0.2) ? ' ' : 'T';
    const zone = this.pick(['Z', '', '+02:00', '-05:30', '+0530', '-08', '+23:59']);
    return `${iso.replace('T', sep)}${frac}${zone}`;
  }
  dateText(): string {
    return new Date(Date.UTC(1900 + this.int(200), this.int(12), 1 + this.int(28))).toISOString().slice(0, 10);
  }
  /** A JSON value of a kind, as JSON text (numbers written as the producer writes them). */
  json(kind: Kind, depth = 0): string {
    if (kind !== 'null' && this.chance(0.08)) return 'null';
    switch (kind) {
      case 'string':
        return JSON.stringify(this.string());
      case 'int':
        return this.intText(false);
      case 'big':
        return this.intText(true);
      case 'float':
        return this.floatText();
      case 'ts':
        return JSON.stringify(this.tsText());
      case 'date':
        return JSON.stringify(this.dateText());
      case 'bool':
        return this.pick(['true', 'false']);
      case 'null':
        return 'null';
      case 'object': {
        const parts: string[] = [];
        if (this.chance(0.8)) parts.push(`"fw":${JSON.stringify(this.string())}`);
        if (this.chance(0.7)) parts.push(`"loc":[${this.floatText()},${this.floatText()}]`);
        if (this.chance(0.7)) parts.push(`"n":${this.intText(true)}`);
        if (this.chance(0.6)) parts.push(`"when":${JSON.stringify(this.tsText())}`);
        if (this.chance(0.5)) parts.push(`"x":{"y":{"z":${this.intText(false)},"ok":${this.pick(['true', 'false', 'null'])}}}`);
        return `{${parts.join(',')}}`;
      }
      case 'array': {
        const n = this.int(5);
        const mixed = this.chance(0.3);
        const items = Array.from({ length: n }, () => (mixed ? this.pick([JSON.stringify(this.string()), this.intText(false), '{"k":"v"}', 'null', this.floatText()]) : JSON.stringify(this.string())));
        return `[${items.join(',')}]`;
      }
      case 'deep':
        return depth > 4 ? this.intText(true) : `{"lvl":${depth},"next":${this.json('deep', depth + 1)},"list":[${this.intText(false)},${this.intText(true)}]}`;
    }
  }
  /** The same value as CSV text: null for an empty value. */
  csv(kind: Kind): string | null {
    if (this.chance(0.08)) return null;
    switch (kind) {
      case 'string':
        return this.string().replaceAll('\u0000', 'NUL');
      case 'int':
      case 'big':
        return this.intText(kind === 'big');
      case 'float':
        return this.floatText();
      case 'ts':
        return this.tsText();
      case 'date':
        return this.dateText();
      case 'bool':
        return this.pick(['true', 'false']);
      default:
        return null;
    }
  }
}

const csvField = (v: string | null) => (v === null ? '' : /[",\r\n]/.test(v) || v === '' ? `"${v.replace(/"/g, '""')}"` : v);

interface Landing {
  readonly key: string;
  readonly body: Buffer;
  readonly partition: string;
  readonly shape: number;
  /** 1-based lines that must be in quarantine. */
  readonly badLines: number[];
  /** The whole object must be set aside. */
  readonly badObject?: boolean;
}

/** Hostile but legal partition values (as they appear in keys, percent-encoded where a producer would). */
const DT_VALUES = ['2024-12-19', '😀', '%F0%9F%98%81', 'a%20b%2Bc', 'x%2Fy', '..', 'é', '日本', 'a%3Db', "q'uote", '%2541', 'tab%09x'];
const HOURS = ['00', '14', '23', 'x%20y'];
const NAMES = (n: number) => [`f-${n}`, `f ${n}+x`, `f\r${n}`, `😀-${n}`, `part=${n}`];

const BAD_LINES = [
  '[1,2]', '"x"', '42', 'null', '{"rid":"bad","a":', '{"a":"\\ud800"}', '{"rid":"dup","x":1,"x":2}', '{"Temp":1,"temp":2}',
  '{"v":-0}', '{"v":-0.0}', '{"v":123456789012345678901234567890}', '{"v":1e400}', '{"v":1e-400}', '{"m":{"q":1,"Q":2}}', '{"":1}',
];

async function parquetObject(db: DuckDBInstance, dir: string, fields: ReadonlyArray<readonly [string, Kind]>, lines: readonly string[]): Promise<Buffer> {
  const types: Partial<Record<Kind, string>> = { string: 'VARCHAR', int: 'BIGINT', big: 'BIGINT', float: 'DOUBLE', ts: 'TIMESTAMPTZ', date: 'DATE', bool: 'BOOLEAN', object: 'STRUCT(a BIGINT, b VARCHAR)' };
  const tmp = join(dir, `pq-${Math.random().toString(36).slice(2)}`);
  await writeFile(`${tmp}.jsonl`, lines.join('\n') + '\n');
  const cols = fields.map(([n, k]) => `${sqlStr(n)}: ${sqlStr(types[k]!)}`);
  const c = await db.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    await c.run(`COPY (SELECT * FROM read_json(${sqlStr(`${tmp}.jsonl`)}, format='newline_delimited', columns={${cols.join(', ')}})) TO ${sqlStr(`${tmp}.parquet`)} (FORMAT parquet)`);
    return await readFile(`${tmp}.parquet`);
  } finally {
    c.closeSync();
    await rm(`${tmp}.jsonl`, { force: true });
    await rm(`${tmp}.parquet`, { force: true });
  }
}

const sqlStr = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Generates the landing zone: objects, the lines and objects that must go to quarantine, and the shapes used. */
async function generate(o: Options, dir: string): Promise<{ objects: Landing[]; shapes: Shape[]; total: number }> {
  const g = new Gen(o.seed);
  const shapes: Shape[] = Array.from({ length: o.shapes }, (_, id) => {
    const format = FORMATS[id % FORMATS.length];
    const flat = format.startsWith('csv') || format === 'parquet';
    const pool = FIELDS.filter(([, k]) => !flat || !NESTED.has(k) || (format === 'parquet' && k === 'object'));
    const n = 2 + g.int(7);
    const fields = new Map<string, Kind>([['rid', 'string']]);
    while (fields.size < n + 1) {
      const [name, kind] = g.pick(pool);
      // Parquet structs get a name of their own: one column, one type.
      fields.set(format === 'parquet' && kind === 'object' ? 'pq_struct' : name, kind);
    }
    return { id, format, fields: [...fields] };
  });
  const db = await DuckDBInstance.create(':memory:');
  const objects: Landing[] = [];
  let rid = 0;
  let total = 0;
  const perPartition = 300 + g.int(300);
  let p = 0;
  while (total < o.records) {
    const dt = DT_VALUES[p % DT_VALUES.length];
    const hour = HOURS[Math.floor(p / DT_VALUES.length) % HOURS.length];
    const suffix = Math.floor(p / (DT_VALUES.length * HOURS.length));
    const prefix = `sensors/dt=${dt}${suffix ? `~${suffix}` : ''}/hour=${hour}/`;
    const partition = partitionPath(['dt', 'hour'], { dt: decodeURIComponent(dt) + (suffix ? `~${suffix}` : ''), hour: decodeURIComponent(hour) });
    // One spelling of each case pair per partition; a few records use the other one.
    const spell = new Map(Object.entries(CASE_PAIRS).map(([a, b]) => [a, g.chance(0.5) ? a : b]));
    const rename = (name: string) => spell.get(name) ?? name;
    let inPartition = 0;
    let badHere = 0;
    let f = 0;
    while (inPartition < perPartition && total < o.records) {
      const shape = g.pick(shapes);
      const fields = shape.fields.map(([n, k]) => [rename(n), k] as const);
      const count = 1 + g.int(30);
      const name = `${g.pick(NAMES(f++))}`;
      if (shape.format.startsWith('jsonl')) {
        const lines: string[] = [];
        const badLines: number[] = [];
        for (let i = 0; i < count; i++) {
          if (badHere < 8 && g.chance(0.02)) {
            lines.push(g.pick(BAD_LINES));
            badLines.push(lines.length);
            badHere++;
          } else if (badHere < 8 && g.chance(0.006)) {
            // The other spelling of a case pair: the reader decides by the README's rule whether it goes to quarantine.
            const [a] = g.pick(Object.entries(CASE_PAIRS));
            const other = spell.get(a) === a ? CASE_PAIRS[a] : a;
            lines.push(`{"rid":"r${rid++}",${JSON.stringify(other)}:1.5}`);
            badHere++;
          }
          lines.push(`{${[`"rid":"r${rid++}"`, ...fields.slice(1).filter(() => g.chance(0.85)).map(([n, k]) => `${JSON.stringify(n)}:${g.json(k)}`)].join(',')}}`);
        }
        total += lines.length;
        const eol = shape.format === 'jsonl-crlf' ? '\r\n' : '\n';
        let body = Buffer.from(lines.join(eol) + (g.chance(0.8) ? eol : ''));
        if (body.toString('latin1').endsWith('\n') && g.chance(0.05) && badHere < 8) {
          // Invalid UTF-8 inside a string.
          body = Buffer.concat([body, Buffer.from('{"rid":"bad-utf8","s":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]);
          badLines.push(body.toString('latin1').split('\n').length - 1);
          badHere++;
          total++;
        }
        if (shape.format === 'jsonl-bom') body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
        const gz = shape.format === 'jsonl.gz';
        objects.push({ key: `${prefix}${name}.json${gz ? '.gz' : ''}`, body: gz ? gzipSync(body) : body, partition, shape: shape.id, badLines });
      } else if (shape.format.startsWith('csv')) {
        const header = fields.map(([n]) => csvField(n)).join(',');
        const rows = Array.from({ length: count }, () => [`r${rid++}`, ...fields.slice(1).map(([, k]) => g.csv(k))].map(csvField).join(','));
        total += count;
        const body = Buffer.from([header, ...rows].join(g.chance(0.3) ? '\r\n' : '\n') + '\n');
        const gz = shape.format === 'csv.gz';
        objects.push({ key: `${prefix}${name}.csv${gz ? '.gz' : ''}`, body: gz ? gzipSync(body) : body, partition, shape: shape.id, badLines: [] });
      } else {
        const lines = Array.from({ length: count }, () =>
          `{${[`"rid":"r${rid++}"`, ...fields.slice(1).filter(() => g.chance(0.9)).map(([n, k]) => `${JSON.stringify(n)}:${k === 'object' ? '{"a":1,"b":"x"}' : g.json(k)}`)].join(',')}}`,
        );
        total += count;
        objects.push({ key: `${prefix}${name}.parquet`, body: await parquetObject(db, dir, fields, lines), partition, shape: shape.id, badLines: [] });
      }
      inPartition += count;
    }
    // Bad objects: a truncated gzip, plain text named .gz, a file that is not Parquet, a ragged CSV.
    if (g.chance(0.35)) {
      const kind = g.int(4);
      const body = [gzipSync(Buffer.from('{"rid":"gone"}\n'.repeat(50))).subarray(0, 30), Buffer.from('{"rid":"plain"}\n'), Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 7), Buffer.from('PAR1')]), Buffer.from('a,b\n1\n')][kind];
      objects.push({ key: `${prefix}broken-${p}${['.json.gz', '.json.gz', '.parquet', '.csv'][kind]}`, body, partition, shape: -1, badLines: [], badObject: true });
    }
    // Every partition has enough objects to be compacted.
    while (objects.filter((x) => x.partition === partition).length < 5) {
      objects.push({ key: `${prefix}pad-${f++}.json`, body: Buffer.from(`{"rid":"r${rid++}"}\n`), partition, shape: -2, badLines: [] });
      total++;
    }
    p++;
  }
  db.closeSync();
  return { objects, shapes, total };
}

/** A value as text for keys and messages: objects as JSON (bigints as digits), not `[object Object]`. */
const asText = (v: Json | Written | undefined): string =>
  typeof v === 'object' && v !== null ? JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) : String(v);

/** The column type a JSON or Parquet value makes (strings none: text stays text whatever CSV holds). */
function writtenKind(v: Json | Written): string | undefined {
  if (typeof v === 'boolean') return 'BOOLEAN';
  if (typeof v === 'bigint') return 'BIGINT';
  if (typeof v === 'number') return 'DOUBLE';
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    if ('num' in v) return /^-?\d+$/.test(v.num) ? 'BIGINT' : 'DOUBLE';
    if ('micros' in v) return 'TIMESTAMP';
    if ('days' in v) return 'DATE';
  }
  return undefined;
}

const hasNegativeZero = (v: Json): boolean =>
  Array.isArray(v) ? v.some(hasNegativeZero) : isObj(v) ? v.obj.some(([, x]) => hasNegativeZero(x)) : isNum(v) && /^-0(\.0+)?([eE][+-]?\d+)?$/.test(v.num);

/** A good record as the landing bytes hold it. */
interface Expected {
  readonly partition: string;
  readonly key: string;
  readonly origin: 'json' | 'text' | 'typed';
  readonly fields: Map<string, Json | Written>;
}

/** Reads every landing object independently: the records that must be written, and what must be in quarantine. */
async function expectations(objects: readonly Landing[]): Promise<{ good: Map<string, Expected>; bad: Array<{ key: string; line?: number; body?: Buffer }> }> {
  const good = new Map<string, Expected>();
  const bad: Array<{ key: string; line?: number; body?: Buffer }> = [];
  const byPartition = new Map<string, Landing[]>();
  for (const o of objects) (byPartition.get(o.partition) ?? byPartition.set(o.partition, []).get(o.partition)!).push(o);
  for (const [partition, objs] of byPartition) {
    const records: Array<Expected & { rid: string; line?: number; unit: string }> = [];
    for (const o of objs) {
      if (o.badObject) {
        bad.push({ key: o.key, body: o.body });
        continue;
      }
      for (const line of o.badLines) bad.push({ key: o.key, line });
      if (o.key.endsWith('.parquet')) {
        for (const row of await readParquet(o.body)) records.push({ partition, key: o.key, origin: 'typed', fields: new Map(Object.entries(row)), rid: asText(row.rid), unit: o.key });
        continue;
      }
      const text = (o.key.endsWith('.gz') ? (await import('node:zlib')).gunzipSync(o.body) : o.body).toString('utf8').replace(/^\uFEFF/, '');
      if (o.key.includes('.csv')) {
        const [header, ...rows] = parseCsv(text);
        for (const row of rows) records.push({ partition, key: o.key, origin: 'text', fields: new Map(header.map((h, i) => [h!, row[i]])), rid: String(row[0]), unit: o.key });
        continue;
      }
      text.split('\n').forEach((line, i) => {
        if (o.badLines.includes(i + 1) || line.trim() === '') return;
        const v = parseJson(line);
        if (!isObj(v)) throw new Error(`generated a non-object good line in ${o.key}`);
        // A negative zero anywhere in a record: quarantined (README: no Parquet column keeps its sign apart from 0).
        if (hasNegativeZero(v)) {
          bad.push({ key: o.key, line: i + 1 });
          return;
        }
        records.push({ partition, key: o.key, origin: 'json', fields: new Map(v.obj), rid: asText(new Map(v.obj).get('rid')), line: i + 1, unit: `${o.key}#${i}` });
      });
    }
    // Names that differ only by case: the spelling most records use stays; the others' records (and CSV/Parquet objects) go to quarantine.
    const spellings = new Map<string, Map<string, number>>();
    for (const r of records) {
      for (const name of r.fields.keys()) {
        const g = spellings.get(name.toLowerCase()) ?? spellings.set(name.toLowerCase(), new Map()).get(name.toLowerCase())!;
        g.set(name, (g.get(name) ?? 0) + 1);
      }
    }
    const minority = new Set<string>();
    for (const g of spellings.values()) [...g].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(1).forEach(([n]) => minority.add(n));
    const setAsideObjects = new Set<string>();
    for (const r of records) {
      const hit = [...r.fields.keys()].some((n) => minority.has(n));
      if (!hit) good.set(r.rid, r);
      else if (r.line !== undefined) bad.push({ key: r.key, line: r.line });
      else if (!setAsideObjects.has(r.key)) {
        setAsideObjects.add(r.key);
        bad.push({ key: r.key, body: objs.find((x) => x.key === r.key)!.body });
      }
    }
    // CSV objects whose text does not convert to the type JSON or Parquet records hold in that column: set aside whole.
    const live = records.filter((r) => good.has(r.rid));
    const csvRows = live.filter((r) => r.origin === 'text');
    const target = new Map<string, string>();
    for (const origin of ['json', 'typed'] as const) {
      for (const r of live.filter((x) => x.origin === origin)) {
        for (const [name, v] of r.fields) {
          const t = writtenKind(v);
          if (t && !target.has(`${origin}:${name}`)) target.set(`${origin}:${name}`, t);
          else if (t === 'DOUBLE' && target.get(`${origin}:${name}`) === 'BIGINT') target.set(`${origin}:${name}`, 'DOUBLE');
        }
      }
    }
    const columns = new Set(csvRows.flatMap((r) => [...r.fields.keys()]));
    for (const col of columns) {
      const to = target.get(`json:${col}`) ?? target.get(`typed:${col}`);
      if (!to) continue;
      const t = textType(csvRows.map((r) => (r.fields.has(col) ? (r.fields.get(col) as string | null) : null)));
      if (t === to || t === 'NULL' || (['BIGINT', 'DOUBLE'].includes(t) && ['BIGINT', 'DOUBLE'].includes(to))) continue;
      for (const r of csvRows) {
        const v = r.fields.get(col) as string | null | undefined;
        if (v !== null && v !== undefined && !convertsTo(v, to) && !setAsideObjects.has(r.key)) {
          setAsideObjects.add(r.key);
          bad.push({ key: r.key, body: objs.find((x) => x.key === r.key)!.body });
        }
      }
    }
    for (const key of setAsideObjects) for (const r of records) if (r.key === key) good.delete(r.rid);
  }
  return { good, bad };
}

export interface FuzzResult {
  readonly records: number;
  readonly shapes: number;
  readonly bins: number;
  readonly lost: number;
  readonly altered: number;
  readonly duplicated: number;
  readonly bad: number;
  readonly accounted: number;
  readonly problems: string[];
}

export async function fuzz(o: Options): Promise<FuzzResult> {
  const dir = await mkdtemp(join(tmpdir(), 'fuzz-'));
  const s3 = await startLocalS3(['landing', 'gold']);
  const problems: string[] = [];
  try {
    const generated = await generate(o, dir);
    const { shapes, total } = generated;
    const objects = o.only ? generated.objects.filter((x) => x.partition === o.only) : generated.objects;
    await mapLimit(objects, 16, (x) => s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key: x.key, Body: x.body })));
    const store = new S3ObjectStore(s3.client);
    const p = usePipeline(store, dir, new ManualClock());
    const { output, items } = await p.plan();
    const manifests: BinManifest[] = [];
    for (const item of items) {
      try {
        const out = await p.compact(item);
        manifests.push((await store.getJson<BinManifest>('gold', out.manifestKey))!);
      } catch (e) {
        problems.push(`bin ${item.binId} of ${item.partition} failed: ${(e as Error).message}`);
      }
    }
    await p.swap(output);

    const { good, bad } = await expectations(objects);
    // What the table holds: every committed partition's files, read back without DuckDB.
    const seen = new Map<string, number>();
    let altered = 0;
    const note = (why: string) => {
      altered++;
      if (problems.length < 50) problems.push(why);
    };
    const partitions = [...new Set(objects.map((x) => x.partition))];
    for (const partition of partitions) {
      const state = await p.state(partition);
      for (const f of state?.files ?? []) {
        for (const row of await readParquet(await getBytes(s3.client, 'gold', f.key))) {
          const rid = asText(row.rid);
          seen.set(rid, (seen.get(rid) ?? 0) + 1);
          const e = good.get(rid);
          if (!e) {
            note(`${partition}: row ${rid} is not a good record of the landing zone`);
            continue;
          }
          if (e.partition !== partition) note(`${rid} of ${e.partition} is in ${partition}`);
          for (const [name, v] of e.fields) {
            const w = name in row ? row[name] : null;
            const d = e.origin === 'typed' ? typedDiff(v as Written, w) : valueDiff(v as Json, w, e.origin, true);
            if (d) {
              note(`${rid} (${e.key}) field "${name}": ${d}`);
              break;
            }
          }
          for (const [name, w] of Object.entries(row)) if (!e.fields.has(name) && w !== null) note(`${rid} (${e.key}): field "${name}" written as ${asText(w)}, the record has none`);
        }
      }
    }
    const reports = (await allKeys(s3.client, 'gold', 'quarantine/')).filter((k) => k.key.endsWith('/report.json'));
    const entries: Array<{ file: string; line?: number; copy?: string; reason?: string }> = [];
    for (const r of reports) entries.push(...(await store.getJson<{ rejected: typeof entries }>('gold', r.key))!.rejected);
    let lost = 0;
    let duplicated = 0;
    for (const [rid, e] of good) {
      const n = seen.get(rid) ?? 0;
      if (n === 0) {
        lost++;
        const why = entries.find((x) => x.file === `s3://landing/${e.key}`)?.reason;
        if (problems.length < 50) problems.push(`lost ${rid} of ${e.key}${why ? ` (quarantine: ${why})` : ''}`);
      }
      if (n > 1) duplicated += n - 1;
    }
    // Every bad record and object is in a quarantine report (objects with a byte-for-byte copy).
    let accounted = 0;
    for (const b of bad) {
      const file = `s3://landing/${b.key}`;
      const hit = entries.find((x) => x.file === file && (b.line === undefined ? x.line === undefined : x.line === b.line));
      const copied = b.body && hit?.copy ? Buffer.from(await getBytes(s3.client, 'gold', hit.copy.replace('s3://gold/', ''))).equals(b.body) : true;
      if (hit && copied) accounted++;
      else if (problems.length < 50) problems.push(`bad ${b.key}${b.line ? ` line ${b.line}` : ''} is not in quarantine${hit ? ' as it was' : ''}`);
    }
    const used = new Set(objects.map((x) => x.shape).filter((s) => s >= 0)).size;
    if (used < shapes.length && o.verbose) problems.push(`only ${used} of ${shapes.length} shapes were drawn`);
    return { records: total, shapes: used, bins: manifests.length, lost, altered, duplicated, bad: bad.length, accounted, problems };
  } finally {
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export const figureLine = (r: FuzzResult) =>
  `fuzz: ${r.records} records, ${r.shapes} shapes, ${r.bins} bins: lost ${r.lost}, altered ${r.altered}, duplicated ${r.duplicated}, bad ${r.bad} accounted ${r.accounted}`;

if (require.main === module) {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  fuzz(o).then(
    (r) => {
      if (o.verbose || r.problems.length) for (const p of r.problems.slice(0, 50)) console.error(`  ${p}`);
      console.log(figureLine(r));
      if (o.verbose) console.error(`seed ${o.seed}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      process.exitCode = r.lost || r.altered || r.duplicated || r.bad !== r.accounted || r.problems.length ? 1 : 0;
    },
    (e) => {
      console.error(e);
      process.exitCode = 2;
    },
  );
}
