import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { ColumnSchema } from '../core/contracts';
import { ConfigurationError, InvalidInputError, VerificationError } from '../core/errors';
import { MAX_RECORD_BYTES } from '../core/formats';
import { formatDuckType, mapScalars, parseDuckType, type DuckType } from '../core/schema';
import type { Compression } from '../core/settings';
import {
  Rejections,
  removeBadRecords,
  removeFlaggedRecords,
  removeIncompatibleObjects,
  removeMisfitRecords,
  removeRecordsWhere,
  type Misfit,
  type RejectedRecord,
} from './bad-records';
import { newFacts, type FieldPaths } from '../core/json-records';
import type { StagedFile, StagedInputs } from './fetch-inputs';

export interface EngineOptions {
  readonly compression: Compression;
  readonly sortBy: readonly string[];
  readonly memoryLimitMb: number;
  readonly threads: number;
  readonly rowGroupBytes: number;
  /** Declared column types (DuckDB names), applied with a checked CAST. */
  readonly declaredTypes?: Readonly<Record<string, string>>;
  /** Fields whose values may mix kinds and are written as strings (`*`: any field); others are quarantined. */
  readonly coerceToString?: readonly string[];
  /** The partition's values: data fields of the same name that say otherwise are reported. */
  readonly partitionValues?: Readonly<Record<string, string>>;
}

/** Records whose field named like a partition key holds another value than the partition's. */
export interface PartitionFieldReport {
  readonly field: string;
  readonly partitionValue: string;
  readonly records: number;
  /** A few of the values the records hold, as text. */
  readonly examples: string[];
}

export interface EngineResult {
  /** Rows DuckDB read per CSV/Parquet input path. */
  readonly fileRows: Map<string, number>;
  readonly stagedRows: number;
  readonly outputRows: number;
  readonly inputChecksum: string;
  readonly outputChecksum: string;
  readonly outputBytes: number;
  readonly schema: ColumnSchema[];
  /** JSON records left out because they cannot be read (the caller decides whether that is too many). */
  readonly rejected: RejectedRecord[];
  /** False when every record was set aside: no file was written. */
  readonly written: boolean;
  readonly partitionFields: PartitionFieldReport[];
}

/** The column DuckDB's `file_row_number` option adds (its name cannot be chosen). */
const ROW = 'file_row_number';

/** The Parquet writer settings of every file the pipeline writes (row groups bounded by bytes). */
export const parquetWriteOptions = (o: Pick<EngineOptions, 'compression' | 'rowGroupBytes'>) =>
  `(FORMAT parquet, COMPRESSION ${o.compression}, ROW_GROUP_SIZE 10000000, ROW_GROUP_SIZE_BYTES ${o.rowGroupBytes})`;

export const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
export const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const list = (paths: readonly string[]) => `[${paths.map(sqlString).join(', ')}]`;


/** The bookkeeping column's name: one no input has, compared as DuckDB binds names (case-insensitively). */
function freeName(base: string, taken: Iterable<string>): string {
  const lower = new Set([...taken].map((n) => n.toLowerCase()));
  let name = base;
  for (let n = 1; lower.has(name.toLowerCase()); n++) name = `${base}_${n}`;
  return name;
}

/** JSON chunks holding at least one record: an empty one would add a column named `json`. */
function chunksWithRecords(staged: StagedInputs): string[] {
  const live = new Set(staged.jsonSegments.filter((g) => (staged.jsonRows.get(g.key) ?? 0) > 0).map((g) => g.chunk));
  // Segments are not tracked by every caller (the benchmark stages chunks itself): keep those as given.
  return staged.jsonSegments.length ? staged.jsonChunks.filter((c) => live.has(c)) : staged.jsonChunks;
}

const jsonRead = (chunks: readonly string[], extra: string) =>
  `read_json(${list(chunks)}, format='newline_delimited', hive_partitioning=false, maximum_object_size=${MAX_RECORD_BYTES}${extra})`;

/** The dialect the fetch's CSV reader reads (RFC 4180, a header line), forced: nothing is sniffed. */
const csvRead = (paths: readonly string[], src: string) =>
  `read_csv(${list(paths)}, header=true, delim=',', quote='"', escape='"', skip=0, all_varchar=true, allow_quoted_nulls=false, ` +
  `strict_mode=true, null_padding=false, max_line_size=${MAX_RECORD_BYTES + 1024}, union_by_name=true, hive_partitioning=false, filename=${sqlString(src)})`;

/** An engine message with local scratch paths replaced by the objects they hold. */
function named(staged: StagedInputs, message: string): string {
  let out = message;
  for (const f of staged.files) out = out.split(f.path).join(f.source.key);
  for (const chunk of staged.jsonChunks) out = out.split(chunk).join('(JSON Lines of this bin)');
  return out;
}

const csvFiles = (staged: StagedInputs) => staged.files.filter((f) => f.source.format.startsWith('csv'));
const parquetFiles = (staged: StagedInputs) => staged.files.filter((f) => f.source.format === 'parquet');

function setAside(staged: StagedInputs, f: StagedFile, reason: string): void {
  staged.setAside.push({ key: f.source.key, reason });
  staged.files.splice(staged.files.indexOf(f), 1);
}

/**
 * Landing Parquet files whose data cannot be read (a readable footer is not enough) are taken out
 * of the bin and set aside whole, with why. Runs only after staging failed.
 */
async function setAsideUnreadableParquet(c: DuckDBConnection, staged: StagedInputs): Promise<number> {
  let found = 0;
  for (const f of parquetFiles(staged)) {
    if (f.source.fromGold) continue;
    // Hashing every row reads every page (a bare count would be answered from the footer).
    const error = await c.runAndReadAll(`SELECT sum(hash(t)::HUGEINT) FROM read_parquet(${sqlString(f.path)}) t`).then(
      () => undefined,
      (e: Error) => e,
    );
    if (!error) continue;
    setAside(staged, f, `not a readable Parquet file: ${named(staged, error.message)}`);
    found++;
  }
  return found;
}

/** CSV objects the engine refuses in the fetch's dialect: each set aside whole, with the engine's words. */
async function setAsideUnreadableCsv(c: DuckDBConnection, staged: StagedInputs, src: string): Promise<number> {
  let found = 0;
  for (const f of csvFiles(staged)) {
    const error = await c.runAndReadAll(`SELECT count(*) FROM ${csvRead([f.path], src)}`).then(
      () => undefined,
      (e: Error) => e,
    );
    if (error) {
      setAside(staged, f, `not readable as CSV: ${named(staged, error.message.split('\n')[0])}`);
      found++;
    }
  }
  return found;
}

interface Described {
  readonly column_name: string;
  readonly column_type: string;
}

const describe = async (c: DuckDBConnection, from: string) => (await c.runAndReadAll(`DESCRIBE ${from}`)).getRowObjects() as unknown as Described[];

/** Top-level column names of each local Parquet file as its footer spells them (DuckDB renames clashing ones). */
async function parquetNames(c: DuckDBConnection, files: readonly StagedFile[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!files.length) return out;
  const r = await c.runAndReadAll(`SELECT file_name AS f, name, num_children AS k FROM parquet_schema(${list(files.map((f) => f.path))})`);
  const rows = r.getRowObjects() as Array<{ f: string; name: string; k: number | bigint | null }>;
  // Depth-first: the root, then each top-level element followed by its subtree.
  let i = 0;
  while (i < rows.length) {
    const file = String(rows[i].f);
    const rootChildren = Number(rows[i].k ?? 0);
    i++;
    const names: string[] = [];
    const skip = (): void => {
      const n = Number(rows[i].k ?? 0);
      i++;
      for (let k = 0; k < n; k++) skip();
    };
    for (let k = 0; k < rootChildren; k++) {
      names.push(String(rows[i].name));
      skip();
    }
    out.set(file, names);
  }
  return out;
}

/** Why a file's own column names cannot be columns as they are (empty, repeated, or the same but for case). */
function namesProblem(names: readonly string[]): string | undefined {
  const seen = new Map<string, string>();
  for (const n of names) {
    if (n === '') return 'a column name is empty';
    const l = n.toLowerCase();
    if (seen.has(l)) {
      return seen.get(l) === n ? `column "${n}" appears twice` : `columns "${seen.get(l)}" and "${n}" differ only by case: Glue and Athena cannot tell them apart`;
    }
    seen.set(l, n);
  }
  return undefined;
}

/** Text that is an ISO 8601 instant or date: the only strings converted to a timestamp or date (see README). */
export const TIMESTAMP_TEXT = '\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])[T ]([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d{1,6})?(Z|[+-]([01]\\d|2[0-3])(:?[0-5]\\d)?)?';
export const DATE_TEXT = '\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])';
/** CSV text read as numbers: JSON's number grammar. */
const INT_TEXT = '-?(0|[1-9]\\d*)';
const NUMBER_TEXT = '-?(0|[1-9]\\d*)(\\.\\d+)?([eE][+-]?\\d+)?';

/**
 * The type text columns are written as: a timestamp when every value is an ISO 8601 instant, a
 * date when every value is a date, and (CSV only: JSON has its own numbers) an integer, a double
 * or a boolean when every value is one exactly. Anything else stays text, as written.
 */
/** SQL: the text column's value converts to `type` exactly (the rules of {@link textTypes}). */
function exactText(col: string, type: string): string {
  switch (type) {
    case 'TIMESTAMP WITH TIME ZONE':
      return `regexp_full_match(${col}, '${TIMESTAMP_TEXT}') AND TRY_CAST(${col} AS TIMESTAMPTZ) IS NOT NULL`;
    case 'DATE':
      return `regexp_full_match(${col}, '${DATE_TEXT}') AND TRY_CAST(${col} AS DATE) IS NOT NULL`;
    case 'BIGINT':
      return `regexp_full_match(${col}, '${INT_TEXT}') AND ${col} <> '-0' AND TRY_CAST(${col} AS BIGINT) IS NOT NULL`;
    case 'DOUBLE':
      // A double only where it is the value written: finite, not a non-zero number gone to 0, integers within 2^53,
      // and not a negative zero (the Parquet writer would not keep it apart from 0).
      return (
        `regexp_full_match(${col}, '${NUMBER_TEXT}') AND isfinite(TRY_CAST(${col} AS DOUBLE)) ` +
        `AND (TRY_CAST(${col} AS DOUBLE) <> 0 OR NOT regexp_matches(regexp_replace(${col}, '[eE].*$', ''), '[1-9]')) ` +
        `AND NOT regexp_full_match(${col}, '-0(\\.0+)?([eE][+-]?\\d+)?') ` +
        `AND (NOT regexp_full_match(${col}, '${INT_TEXT}') OR abs(TRY_CAST(${col} AS HUGEINT)) <= 9007199254740992)`
      );
    case 'BOOLEAN':
      return `${col} IN ('true', 'false')`;
    default:
      return 'false';
  }
}

const TEXT_TYPES = ['BIGINT', 'DOUBLE', 'BOOLEAN', 'TIMESTAMP WITH TIME ZONE', 'DATE'] as const;

/**
 * The type text columns are written as: a timestamp when every value is an ISO 8601 instant, a
 * date when every value is a date, and (CSV only: JSON has its own numbers) an integer, a double
 * or a boolean when every value is one exactly. Anything else stays text, as written.
 */
async function textTypes(c: DuckDBConnection, table: string, columns: readonly string[], csv: boolean): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!columns.length) return out;
  const candidates = csv ? TEXT_TYPES : (['TIMESTAMP WITH TIME ZONE', 'DATE'] as const);
  const exprs = columns.flatMap((name, i) => {
    const col = ident(name);
    return [`count(${col}) AS n${i}`, ...candidates.map((t, k) => `bool_and(${col} IS NULL OR (${exactText(col, t)})) AS t${i}_${k}`)];
  });
  const row = (await c.runAndReadAll(`SELECT ${exprs.join(', ')} FROM ${table}`)).getRowObjects()[0];
  for (const [i, name] of columns.entries()) {
    const k = candidates.findIndex((_, k) => row[`t${i}_${k}`]);
    out.set(name, Number(row[`n${i}`]) === 0 || k < 0 ? 'VARCHAR' : candidates[k]);
  }
  return out;
}

/**
 * CSV objects whose text in a column does not convert to the type another input kind holds there
 * exactly (`abc` where JSON has numbers): set aside whole, as JSON objects of another kind are.
 */
async function setAsideDisagreeingCsv(c: DuckDBConnection, staged: StagedInputs, parts: readonly Part[], src: string): Promise<number> {
  const csv = parts.find((p) => p.table === 'csv_raw');
  if (!csv) return 0;
  const paths = new Set<string>();
  const why = new Map<string, string>();
  for (const [col, t] of csv.types) {
    const other = parts.filter((p) => p !== csv && p.types.has(col) && !p.nullOnly.has(col) && !p.textual.has(col)).map((p) => p.types.get(col)!);
    const target = other.find((x) => (TEXT_TYPES as readonly string[]).includes(x)) ?? (other.some((x) => INTEGERS.has(x)) ? 'BIGINT' : undefined);
    if (!target || t === target || (target === 'BIGINT' && t === 'DOUBLE') || (target === 'DOUBLE' && t === 'BIGINT')) continue;
    const r = await c.runAndReadAll(`SELECT DISTINCT ${ident(src)} AS f FROM csv_raw WHERE ${ident(col)} IS NOT NULL AND NOT (${exactText(ident(col), target)})`);
    for (const row of r.getRowObjects()) {
      paths.add(String(row.f));
      if (!why.has(String(row.f))) why.set(String(row.f), `column "${col}" holds text that is not a ${target.toLowerCase()} as written, where most records hold one`);
    }
  }
  for (const f of csvFiles(staged)) if (paths.has(f.path)) setAside(staged, f, why.get(f.path)!);
  return paths.size;
}

/**
 * The type JSON is read as: inferred, except that strings are read as the text they are (UUID,
 * TIME, dates, timestamps), and integers as BIGINT (the line pass let none past 64 bits through;
 * DuckDB infers HUGEINT for -9223372036854775808).
 */
const asReadFromJson = (t: DuckType) =>
  mapScalars(t, (name) => (/^(TIMESTAMP|DATE|TIME|UUID|INTERVAL)/.test(name) ? 'VARCHAR' : /^U?HUGEINT$|^UBIGINT$/.test(name) ? 'BIGINT' : name));

/** The DuckDB type at a field path of the JSON records (undefined past a JSON value or map). */
function typeAtPath(paths: FieldPaths, top: ReadonlyMap<string, DuckType>, path: number): DuckType | undefined {
  const chain: number[] = [];
  for (let p = path; p > 0; p = paths.parent[p]) chain.unshift(p);
  let t = top.get(paths.name[chain[0]]);
  for (const p of chain.slice(1)) {
    if (!t) return undefined;
    const n = paths.name[p];
    if (t.kind === 'list') t = n === '[]' ? t.element : undefined;
    else if (t.kind === 'struct') t = t.fields.find((f) => f.name === n)?.type;
    else if (t.kind === 'map') t = t.value;
    else return undefined;
  }
  return t;
}

/**
 * Where the staged JSON schema and the line pass disagree: a struct field no record holds, or a
 * field the records hold that the struct lacks. Undefined when they agree.
 */
function nestedMismatch(paths: FieldPaths, counts: readonly number[], id: number, t: DuckType): string | undefined {
  const live = (p: number | undefined) => p !== undefined && (counts[p] ?? 0) > 0;
  if (t.kind === 'list') {
    const e = paths.elementsIfAny(id);
    return e === undefined ? undefined : nestedMismatch(paths, counts, e, t.element);
  }
  if (t.kind !== 'struct') return undefined;
  for (const f of t.fields) {
    const child = paths.childNamed(id, f.name);
    if (!live(child)) return `the engine staged "${paths.text(id)}.${f.name}", which no record holds`;
    const inner = nestedMismatch(paths, counts, child!, f.type);
    if (inner) return inner;
  }
  for (const child of paths.childrenOf(id)) {
    if (live(child) && !t.fields.some((f) => f.name === paths.name[child])) return `records hold "${paths.text(child)}", which the engine did not stage`;
  }
  return undefined;
}

const INTEGERS = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT']);
const FLOATS = new Set(['FLOAT', 'DOUBLE']);

/** One input kind's staged columns: its source table, column types, and which ones are text that could stay text. */
interface Part {
  readonly what: string;
  readonly table: string;
  readonly types: Map<string, string>;
  /** Columns read from text (CSV values, JSON strings): kept as that text if another part disagrees. */
  readonly textual: Set<string>;
  /** Expression per column where it is converted from how it was read. */
  readonly exprs: Map<string, string>;
  /** Columns holding no value at all in this part: they take the type the other parts give. */
  readonly nullOnly: Set<string>;
}

/**
 * One type per column across the parts: equal types, integers of any width, integers with doubles
 * (only while every integer is within 2^53, so none is rounded), or text wherever one part holds
 * text that the others read from text too. Anything else cannot share a Parquet column.
 */
async function unify(c: DuckDBConnection, parts: Part[]): Promise<void> {
  const columns = new Set(parts.flatMap((p) => [...p.types.keys()]));
  for (const col of columns) {
    const all = parts.filter((p) => p.types.has(col));
    const valued = all.filter((p) => !p.nullOnly.has(col));
    const holding = valued.length ? valued : all;
    await unifyColumn(c, col, holding);
    // A part without a value there takes the type the others agreed on.
    const type = holding[0].types.get(col)!;
    for (const p of all) {
      if (holding.includes(p)) continue;
      p.types.set(col, type);
      p.exprs.set(col, `CAST(NULL AS ${type})`);
    }
  }
}

async function unifyColumn(c: DuckDBConnection, col: string, holding: readonly Part[]): Promise<void> {
  const types = new Set(holding.map((p) => p.types.get(col)!));
  if (types.size <= 1) return;
  const conflict = () =>
    new InvalidInputError(
      `column "${col}" is ${holding.map((p) => `${p.types.get(col)} in ${p.what}`).join(' but ')}: one Parquet column cannot hold them as written; nothing was written`,
    );
  // Text read from text (CSV values, JSON strings) that the parts would convert differently stays text.
  if (types.has('VARCHAR') || holding.every((p) => p.textual.has(col))) {
    for (const p of holding) {
      if (p.types.get(col) === 'VARCHAR') continue;
      if (!p.textual.has(col)) throw conflict();
      p.types.set(col, 'VARCHAR');
      p.exprs.delete(col);
    }
    return;
  }
  if (![...types].every((t) => INTEGERS.has(t) || FLOATS.has(t))) throw conflict();
  if (![...types].some((t) => FLOATS.has(t))) {
    // Integers of different widths: the widest holds them all.
    const widest = ['HUGEINT', 'UBIGINT', 'BIGINT', 'UINTEGER', 'INTEGER', 'USMALLINT', 'SMALLINT', 'UTINYINT', 'TINYINT'].find((t) => types.has(t))!;
    const to = widest === 'UBIGINT' ? 'HUGEINT' : widest.startsWith('U') ? 'BIGINT' : widest;
    for (const p of holding) {
      if (p.types.get(col) === to) continue;
      p.exprs.set(col, `CAST(${p.exprs.get(col) ?? ident(col)} AS ${to})`);
      p.types.set(col, to);
    }
    return;
  }
  for (const p of holding) {
    const t = p.types.get(col)!;
    if (t === 'DOUBLE') continue;
    const value = p.exprs.get(col) ?? ident(col);
    if (INTEGERS.has(t)) {
      const r = await c.runAndReadAll(`SELECT coalesce(bool_and(abs(${value}::HUGEINT) <= 9007199254740992), true) AS ok FROM ${p.table}`);
      if (!r.getRowObjects()[0].ok) {
        throw new InvalidInputError(`column "${col}" holds integers beyond 2^53 in ${p.what} and fractions elsewhere: a double column would round them; declare it decimal(p,s) or string. Nothing was written`);
      }
    }
    p.types.set(col, 'DOUBLE');
    p.exprs.set(col, `CAST(${value} AS DOUBLE)`);
  }
}

/** A declared column's value as text, from however a part read it: the declared cast then sees what was written. */
function asText(col: string, type: string): string {
  const c = ident(col);
  if (type === 'VARCHAR') return c;
  if (type === 'JSON') return `(${c}->>'$')`;
  if (/^(STRUCT|MAP)\(|\]$/.test(type)) return `CAST(to_json(${c}) AS VARCHAR)`;
  return `CAST(${c} AS VARCHAR)`;
}

/** Declared columns are staged as text in every part (the projection casts them, checked). */
function declareAsText(parts: readonly Part[], declared: Readonly<Record<string, string>>): void {
  for (const p of parts) {
    for (const [col, type] of p.types) {
      if (!declared[col]) continue;
      p.exprs.set(col, asText(col, type));
      p.types.set(col, 'VARCHAR');
    }
  }
}

/** A part's rows as staged: every column of the bin, converted to its one type, missing ones NULL. */
function partSelect(p: Part, src: string, order: readonly string[]): string {
  const exprs = order.map((col) => {
    if (!p.types.has(col)) return `NULL AS ${ident(col)}`;
    const e = p.exprs.get(col) ?? ident(col);
    return `${e} AS ${ident(col)}`;
  });
  return `SELECT ${[...exprs, ident(src)].join(', ')} FROM ${p.table}`;
}

/**
 * Casts a staged column to a type that Parquet readers (Athena, Spark) hold exactly:
 * 128-bit and unsigned integers become BIGINT when they fit, else DECIMAL(38,0) (DuckDB would
 * otherwise write them as DOUBLE and lose digits); naive timestamps are UTC instants; UUID and
 * time-of-day values (Parquet inputs) are written as their text, which every reader takes.
 */
async function outputExpression(c: DuckDBConnection, name: string, type: string): Promise<string> {
  const col = ident(name);
  if (type === 'HUGEINT' || type === 'UHUGEINT' || type === 'UBIGINT') {
    const r = await c.runAndReadAll(
      `SELECT coalesce(bool_and(${col} BETWEEN -9223372036854775808 AND 9223372036854775807), true) AS fits FROM staged`,
    );
    return r.getRowObjects()[0].fits ? `CAST(${col} AS BIGINT) AS ${col}` : `CAST(${col} AS DECIMAL(38,0)) AS ${col}`;
  }
  if (type === 'UINTEGER') return `CAST(${col} AS BIGINT) AS ${col}`;
  if (type === 'USMALLINT') return `CAST(${col} AS INTEGER) AS ${col}`;
  if (type === 'UTINYINT') return `CAST(${col} AS SMALLINT) AS ${col}`;
  if (/^TIMESTAMP(_S|_MS|_NS)?$/.test(type)) return `CAST(${col} AS TIMESTAMPTZ) AS ${col}`;
  // A string stays itself (not a quoted JSON string); objects and numbers become their JSON text.
  if (type === 'JSON') return `(${col}->>'$') AS ${col}`;
  if (type === 'UUID' || /^TIME( WITH TIME ZONE)?$/.test(type)) return `CAST(${col} AS VARCHAR) AS ${col}`;
  let tree: DuckType;
  try {
    tree = parseDuckType(type);
  } catch {
    return col;
  }
  if (tree.kind === 'scalar') return col;
  // Nested: the same conversions inside (a struct cast goes by field name).
  const portable = formatDuckType(
    mapScalars(tree, (t) => {
      if (t === 'HUGEINT' || t === 'UHUGEINT' || t === 'UBIGINT') return 'DECIMAL(38,0)';
      if (t === 'UINTEGER') return 'BIGINT';
      if (t === 'USMALLINT') return 'INTEGER';
      if (t === 'UTINYINT') return 'SMALLINT';
      if (/^TIMESTAMP(_S|_MS|_NS)?$/.test(t)) return 'TIMESTAMPTZ';
      if (t === 'UUID' || /^TIME( WITH TIME ZONE)?$/.test(t)) return 'VARCHAR';
      return t;
    }),
  );
  return portable === formatDuckType(tree) ? col : `CAST(${col} AS ${portable}) AS ${col}`;
}

/** The value a declared type is cast from: a field of mixed kinds is cast from its text (`"12"` is 12). */
const castSource = (d: Described) => (d.column_type === 'JSON' ? `(${ident(d.column_name)}->>'$')` : ident(d.column_name));

/**
 * The declared type cannot hold the value as written: the cast fails, or it would round (a
 * fraction into an integer, more decimals than the scale keeps).
 */
function misfit(src: string, type: string): string {
  const dec = /^DECIMAL\((\d+),\s*(\d+)\)$/i.exec(type.trim());
  const exact = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/i.test(type.trim())
    ? ` OR TRY_CAST(${src} AS DECIMAL(38,10)) <> TRY_CAST(${src} AS ${type})`
    : dec
      ? ` OR TRY_CAST(${src} AS DECIMAL(38,${Math.min(38, Number(dec[2]) + 38 - Number(dec[1]))})) <> TRY_CAST(${src} AS ${type})`
      : '';
  return `(${src} IS NOT NULL AND (TRY_CAST(${src} AS ${type}) IS NULL${exact}))`;
}

/** The staged rows as they are written: declared types applied, other types made portable. */
async function projectionOf(c: DuckDBConnection, described: readonly Described[], declared: Readonly<Record<string, string>>, src: string): Promise<string> {
  const columns = described.filter((d) => d.column_name !== src);
  if (!columns.length) throw new InvalidInputError('bin has no readable records');
  const exprs: string[] = [];
  for (const d of columns) {
    const type = declared[d.column_name];
    exprs.push(type ? `CAST(${castSource(d)} AS ${type}) AS ${ident(d.column_name)}` : await outputExpression(c, d.column_name, d.column_type));
  }
  return `SELECT ${exprs.join(', ')} FROM staged`;
}

/** Per declared column, the values (as text) that its type cannot hold exactly, and where they came from. */
async function declaredMisfits(
  c: DuckDBConnection,
  described: readonly Described[],
  declared: Readonly<Record<string, string>>,
  staged: StagedInputs,
  src: string,
): Promise<Misfit[]> {
  const out: Misfit[] = [];
  const declaredHere = described.filter((d) => declared[d.column_name]);
  if (!declaredHere.length) return out;
  // One pass tells whether any column has a misfit; the details are looked up only then.
  const any = (await c.runAndReadAll(`SELECT ${declaredHere.map((d, i) => `count(*) FILTER (WHERE ${misfit(castSource(d), declared[d.column_name])}) AS m${i}`).join(', ')} FROM staged`)).getRowObjects()[0];
  for (const [i, d] of declaredHere.entries()) {
    if (!Number(any[`m${i}`])) continue;
    const type = declared[d.column_name];
    const value = castSource(d);
    const r = await c.runAndReadAll(`SELECT DISTINCT CAST(${value} AS VARCHAR) AS v, ${ident(src)} AS f FROM staged WHERE ${misfit(value, type)} LIMIT 10000`);
    const rows = r.getRowObjects();
    const values = [...new Set(rows.map((x) => String(x.v)))];
    const files = [...new Set(rows.flatMap((x) => (x.f === null || staged.jsonChunks.includes(String(x.f)) ? [] : [named(staged, String(x.f))])))];
    out.push({
      column: d.column_name,
      type,
      values,
      examples: [...values.slice(0, 3).map((v) => JSON.stringify(v)), ...(files.length ? [`in ${files.slice(0, 3).join(', ')}`] : [])],
    });
  }
  return out;
}

/** Rows and order-independent row checksum of a query's result (what every stage verifies its files by). */
export async function checksum(c: DuckDBConnection, from: string): Promise<{ rows: number; sum: string }> {
  // Sum (not XOR) of row hashes: order-independent, yet a duplicated row changes it.
  const r = await c.runAndReadAll(`SELECT count(*) AS n, coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR AS h FROM (${from}) t`);
  const row = r.getRowObjects()[0];
  return { rows: Number(row.n), sum: String(row.h) };
}

/** Data fields named like a partition key (case-insensitively, as Athena binds them) whose value is another. */
async function partitionFields(c: DuckDBConnection, projection: string, names: readonly string[], values: Readonly<Record<string, string>>): Promise<PartitionFieldReport[]> {
  const out: PartitionFieldReport[] = [];
  for (const [key, value] of Object.entries(values)) {
    const field = names.find((n) => n.toLowerCase() === key.toLowerCase());
    if (!field) continue;
    const col = ident(field);
    const differs = `${col} IS NOT NULL AND CAST(${col} AS VARCHAR) <> ${sqlString(value)}`;
    const r = await c.runAndReadAll(`SELECT count(*) AS n FROM (${projection}) t WHERE ${differs}`);
    const records = Number(r.getRowObjects()[0].n);
    if (!records) continue;
    const ex = await c.runAndReadAll(`SELECT DISTINCT CAST(${col} AS VARCHAR) AS v FROM (${projection}) t WHERE ${differs} ORDER BY v LIMIT 3`);
    out.push({ field, partitionValue: value, records, examples: ex.getRowObjects().map((x) => String(x.v)) });
  }
  return out;
}

/** Staging state of one bin: what each part is and the table name of the bookkeeping column. */
interface Staging {
  readonly src: string;
  json?: Part;
  csv?: Part;
  parquet?: Part;
}

/** Reads the staged inputs and writes one Parquet file, verifying it against what was read. */
export async function compactToParquet(staged: StagedInputs, workDir: string, outPath: string, o: EngineOptions): Promise<EngineResult> {
  const spill = join(workDir, 'spill');
  await mkdir(spill, { recursive: true });
  const dbPath = join(workDir, 'stage.duckdb');
  await rm(dbPath, { force: true });
  await rm(`${dbPath}.wal`, { force: true });
  const instance = await DuckDBInstance.create(dbPath, {
    threads: String(o.threads),
    memory_limit: `${o.memoryLimitMb}MB`,
    temp_directory: spill,
    preserve_insertion_order: 'false',
  });
  const c = await instance.connect();
  const rejections = new Rejections();
  const nothingLeft = (): EngineResult => ({
    fileRows: new Map(),
    stagedRows: 0,
    outputRows: 0,
    inputChecksum: '0',
    outputChecksum: '0',
    outputBytes: 0,
    schema: [],
    rejected: rejections.records,
    written: false,
    partitionFields: [],
  });
  try {
    // Naive timestamps are read as UTC instants whatever the host's zone.
    await c.run(`SET TimeZone = 'UTC'`);
    const declared = o.declaredTypes ?? {};
    const json = staged.json;

    // 1. Records the fetch's own line pass found bad go before the engine reads a byte.
    await removeFlaggedRecords(staged, rejections);

    // 2. Each file's own column names, and the bookkeeping column's name: one no input has.
    for (const f of csvFiles(staged)) {
      const why = namesProblem(f.csv?.header ?? []);
      if (why) setAside(staged, f, `not readable as CSV: its header is not a set of column names (${why})`);
    }
    const pqNames = await parquetNames(c, parquetFiles(staged));
    for (const f of parquetFiles(staged)) {
      const why = namesProblem(pqNames.get(f.path) ?? []);
      if (why) setAside(staged, f, `its columns cannot be table columns as they are: ${why}`);
      else if (f.dropRows?.length && pqNames.get(f.path)!.some((n) => n.toLowerCase() === ROW)) {
        setAside(staged, f, `a column is named "${ROW}", so the duplicates it repeats cannot be left out by position`);
      }
    }
    const topNames = json ? json.paths.childrenOf(0).map((id) => json.paths.name[id]) : [];
    const src = freeName('__compactor_src', [...topNames, ...csvFiles(staged).flatMap((f) => f.csv?.header ?? []), ...[...pqNames.values()].flat()]);
    const st: Staging = { src };

    // 3. Names that differ only by case: the spelling most records use stays, the others go to quarantine.
    await removeCaseVariants(staged, pqNames, rejections);

    // 4. JSON Lines: inferred, then read with strings as text; records the engine refuses go to quarantine.
    const stageJson = async (): Promise<Described[] | undefined> => {
      const chunks = chunksWithRecords(staged);
      if (!chunks.length) return undefined;
      return describe(c, `SELECT * FROM ${jsonRead(chunks, ', union_by_name=true, sample_size=-1')}`);
    };
    let described: Described[] | undefined;
    try {
      described = await stageJson();
    } catch (e) {
      const bad = await removeBadRecords(staged, rejections);
      if (!bad) throw new InvalidInputError(`inputs could not be read: ${named(staged, (e as Error).message)}`, { cause: e });
      described = await stageJson().catch((e2: Error) => {
        throw new InvalidInputError(`inputs could not be read, even without ${bad} bad record(s): ${named(staged, e2.message)}`, { cause: e2 });
      });
    }
    // Mixed kinds in one field (an object here, a number there) come out as JSON: unless the field
    // may become a string or has a declared type (checked value by value below), the files that
    // disagree with most records are set aside whole.
    const coerce = o.coerceToString ?? [];
    const mixed = (described ?? [])
      .filter((d) => d.column_type === 'JSON' && !coerce.includes('*') && !coerce.includes(d.column_name) && !declared[d.column_name])
      .map((d) => d.column_name);
    if (mixed.length && (await removeIncompatibleObjects(staged, mixed, rejections))) described = await stageJson();
    // Integers beyond 2^53 where other records make the field a double: the double would round them.
    if (described && json?.wideInts.size) {
      const top = new Map(described.map((d) => [d.column_name, parseDuckType(d.column_type)]));
      const rounded = new Map<string, Map<number, string>>();
      for (const [key, ints] of json.wideInts) {
        for (const w of ints) {
          const t = typeAtPath(json.paths, top, w.path);
          if (t?.kind === 'scalar' && FLOATS.has(t.name)) {
            const lines = rounded.get(key) ?? rounded.set(key, new Map()).get(key)!;
            if (!lines.has(w.line)) {
              lines.set(w.line, `field "${json.paths.text(w.path)}" is ${w.text}, which its column (a double: other records hold fractions there) would round; declare it decimal(p,s), bigint or string to keep it`);
            }
          }
        }
      }
      if (rounded.size && (await removeRecordsWhere(staged, new Set(rounded.keys()), (l) => rounded.get(l.key)?.get(l.line), rejections))) described = await stageJson();
    }
    if (described) {
      const chunks = chunksWithRecords(staged);
      const columns = described.map((d) => `${sqlString(d.column_name)}: ${sqlString(formatDuckType(asReadFromJson(parseDuckType(d.column_type))))}`);
      await c.run(`CREATE TABLE json_raw AS SELECT * FROM ${jsonRead(chunks, `, columns={${columns.join(', ')}}, filename=${sqlString(src)}`)}`);
      const raw = await describe(c, 'json_raw');
      const strings = raw.filter((d) => d.column_type === 'VARCHAR' && d.column_name !== src && !declared[d.column_name]).map((d) => d.column_name);
      const converted = await textTypes(c, 'json_raw', strings, false);
      const counts = await jsonCounts(c, raw, src);
      const part: Part = { what: 'JSON Lines objects', table: 'json_raw', types: new Map(), textual: new Set(strings), exprs: new Map(), nullOnly: new Set() };
      for (const d of raw) {
        if (d.column_name === src) continue;
        if (!counts.nonNull.get(d.column_name)) part.nullOnly.add(d.column_name);
        const t = converted.get(d.column_name) ?? d.column_type;
        part.types.set(d.column_name, t);
        if (t !== d.column_type) part.exprs.set(d.column_name, `CAST(${ident(d.column_name)} AS ${t})`);
      }
      st.json = part;
      if (json) verifyJson(staged, json, raw, src, counts);
    }

    // 5. CSV: the fetch's dialect, every value read as text, converted only where every value converts exactly.
    const csvPart = async (): Promise<Part | undefined> => {
      if (!csvFiles(staged).length) return undefined;
      const cols = (await describe(c, 'csv_raw')).map((d) => d.column_name).filter((n) => n !== src);
      const types = await textTypes(c, 'csv_raw', cols.filter((n) => !declared[n]), true);
      const part: Part = { what: 'CSV objects', table: 'csv_raw', types: new Map(), textual: new Set(cols), exprs: new Map(), nullOnly: new Set() };
      const present = (await c.runAndReadAll(`SELECT ${cols.map((n, i) => `count(${ident(n)}) AS c${i}`).join(', ')} FROM csv_raw`)).getRowObjects()[0];
      cols.forEach((n, i) => Number(present[`c${i}`]) || part.nullOnly.add(n));
      for (const n of cols) {
        const t = types.get(n) ?? 'VARCHAR';
        part.types.set(n, t);
        if (t !== 'VARCHAR') part.exprs.set(n, `CAST(${ident(n)} AS ${t})`);
      }
      return part;
    };
    const stageCsv = async () => {
      await c.run('DROP TABLE IF EXISTS csv_raw');
      if (csvFiles(staged).length) await c.run(`CREATE TABLE csv_raw AS SELECT * FROM ${csvRead(csvFiles(staged).map((f) => f.path), src)}`);
    };
    if (csvFiles(staged).length) {
      await stageCsv().catch(async (e: Error) => {
        if (!(await setAsideUnreadableCsv(c, staged, src))) throw new InvalidInputError(`inputs could not be read: ${named(staged, e.message)}`, { cause: e });
        if (csvFiles(staged).length) await stageCsv();
      });
      // A file the engine read otherwise than the fetch did is set aside (then the rest is read again).
      if (csvFiles(staged).length && (await setAsideMisreadCsv(c, staged, src))) await stageCsv();
      st.csv = await csvPart();
    }
    // 6. Parquet: typed already; rows a redelivered Kafka object repeats are left out by position.
    const stageParquet = async () => {
      const files = parquetFiles(staged);
      await c.run('DROP TABLE IF EXISTS parquet_raw');
      if (!files.length) return;
      const drops = files.flatMap((f) => (f.dropRows ?? []).map(([a, b]) => `(${ident(src)} = ${sqlString(f.path)} AND ${ident(ROW)} >= ${a} AND ${ident(ROW)} < ${b})`));
      const read = `read_parquet(${list(files.map((f) => f.path))}, union_by_name=true, hive_partitioning=false, filename=${sqlString(src)}`;
      await c.run(
        drops.length
          ? `CREATE TABLE parquet_raw AS SELECT * EXCLUDE (${ident(ROW)}) FROM ${read}, file_row_number=true) WHERE NOT (${drops.join(' OR ')})`
          : `CREATE TABLE parquet_raw AS SELECT * FROM ${read})`,
      );
    };
    await stageParquet().catch(async (e: Error) => {
      if (!(await setAsideUnreadableParquet(c, staged))) throw new InvalidInputError(`inputs could not be read: ${named(staged, e.message)}`, { cause: e });
      await stageParquet().catch((e2: Error) => {
        throw new InvalidInputError(`inputs could not be read, even without the unreadable file(s): ${named(staged, e2.message)}`, { cause: e2 });
      });
    });
    if (parquetFiles(staged).length && (await setAsideNegativeZeros(c, staged, src))) await stageParquet();
    if (parquetFiles(staged).length) {
      await checkParquetTypes(c, staged);
      const part: Part = { what: 'Parquet objects', table: 'parquet_raw', types: new Map(), textual: new Set(), exprs: new Map(), nullOnly: new Set() };
      for (const d of await describe(c, 'parquet_raw')) if (d.column_name !== src) part.types.set(d.column_name, d.column_type);
      st.parquet = part;
      await verifyParquetRows(c, staged, src);
    }

    let parts = [st.json, st.csv, st.parquet].filter((p): p is Part => p !== undefined);
    if (st.csv && (await setAsideDisagreeingCsv(c, staged, parts, src))) {
      await stageCsv();
      st.csv = await csvPart();
      parts = [st.json, st.csv, st.parquet].filter((p): p is Part => p !== undefined);
    }
    if (!parts.length) return nothingLeft();
    declareAsText(parts, declared);
    await unify(c, parts);
    const order = [...new Set(parts.flatMap((p) => [...p.types.keys()]))];
    await c.run('DROP VIEW IF EXISTS staged');
    await c.run(`CREATE VIEW staged AS ${parts.map((p) => partSelect(p, src, order)).join(' UNION ALL ')}`);
    let stagedCols = await describe(c, 'staged');

    // 7. Values that do not fit a declared type exactly: the JSON records holding them are set aside.
    const misfits = await declaredMisfits(c, stagedCols, declared, staged, src);
    if (misfits.length) {
      const removed = staged.jsonChunks.length ? await removeMisfitRecords(staged, misfits, rejections) : 0;
      const what = misfits.map((m) => `column "${m.column}" (${m.type}): ${m.examples.join(', ')}`).join('; ');
      const inOther = misfits.some((m) => m.examples.some((e) => e.startsWith('in ')));
      if (!removed || inOther) throw new InvalidInputError(`inputs do not fit the declared column types: ${what}`);
      // Staged again without them (the JSON part is re-read: types may change with fewer records).
      await c.run('DROP VIEW IF EXISTS staged');
      await c.run('DROP TABLE IF EXISTS json_raw');
      return await restage();
    }
    return await write();

    async function restage(): Promise<EngineResult> {
      c.closeSync();
      instance.closeSync();
      await rm(dbPath, { force: true });
      const again = await compactToParquet(staged, workDir, outPath, o);
      return { ...again, rejected: [...rejections.records, ...again.rejected] };
    }

    async function write(): Promise<EngineResult> {
      const projection = await projectionOf(c, stagedCols, declared, src);
      const before = await checksum(c, projection).catch((e: Error) => {
        throw new InvalidInputError(`inputs do not fit the declared column types: ${e.message}`, { cause: e });
      });
      const fileRows = new Map<string, number>();
      const counts = await c.runAndReadAll(`SELECT ${ident(src)} AS p, count(*) AS n FROM staged GROUP BY ALL`);
      for (const r of counts.getRowObjects()) fileRows.set(String(r.p), Number(r.n));
      const names = stagedCols.filter((d) => d.column_name !== src).map((d) => d.column_name);
      for (const s of o.sortBy) {
        if (!names.includes(s)) throw new ConfigurationError(`sort column "${s}" is not in the data (columns: ${names.join(', ')})`);
      }
      const ordered = o.sortBy.length ? `${projection} ORDER BY ${o.sortBy.map(ident).join(', ')}` : projection;
      await c.run(`COPY (${ordered}) TO ${sqlString(outPath)} ${parquetWriteOptions(o)}`);
      const written = `SELECT * FROM read_parquet(${sqlString(outPath)})`;
      const after = await checksum(c, written);
      const schema = (await describe(c, written)).map((d) => ({ name: d.column_name, type: d.column_type }));
      if (schema.map((x) => x.name).join('\u0000') !== names.join('\u0000')) {
        throw new VerificationError(`the written file's columns (${schema.map((x) => x.name).join(', ')}) are not the staged ones (${names.join(', ')})`);
      }
      return {
        fileRows,
        stagedRows: before.rows,
        outputRows: after.rows,
        inputChecksum: before.sum,
        outputChecksum: after.sum,
        outputBytes: (await stat(outPath)).size,
        schema,
        rejected: rejections.records,
        written: true,
        partitionFields: o.partitionValues ? await partitionFields(c, projection, names, o.partitionValues) : [],
      };
    }
  } finally {
    try {
      c.closeSync();
      instance.closeSync();
    } catch {
      // Closed already by a restage.
    }
    await rm(dbPath, { force: true });
    await rm(`${dbPath}.wal`, { force: true });
  }

  async function removeCaseVariants(st: StagedInputs, pq: ReadonlyMap<string, string[]>, out: Rejections): Promise<void> {
    const j = st.json;
    // Spellings of each folded path, with the records that use them (CSV and Parquet files count their rows at the top level).
    const groups = new Map<string, Map<string, number>>();
    const add = (group: string, spelling: string, n: number) => {
      const g = groups.get(group) ?? groups.set(group, new Map()).get(group)!;
      g.set(spelling, (g.get(spelling) ?? 0) + n);
    };
    if (j) {
      for (let id = 1; id < j.paths.size; id++) {
        if ((j.pathRecords[id] ?? 0) > 0 && !j.paths.mapLike[j.paths.parent[id]]) add(`${j.paths.fold[j.paths.parent[id]]}/${j.paths.name[id].toLowerCase()}`, `${id}`, j.pathRecords[id]);
      }
    }
    const topGroup = (n: string) => `0/${n.toLowerCase()}`;
    const topSpelling = (n: string) => {
      const id = j?.paths.childNamed(0, n);
      return id !== undefined ? `${id}` : `name:${n}`;
    };
    const rows = await parquetRowCounts(c, parquetFiles(st));
    for (const f of csvFiles(st)) for (const n of f.csv?.header ?? []) add(topGroup(n), topSpelling(n), f.csv!.records);
    for (const f of parquetFiles(st)) for (const n of pq.get(f.path) ?? []) add(topGroup(n), topSpelling(n), rows.get(f.path) ?? 0);
    const nameOf = (sp: string) => (sp.startsWith('name:') ? sp.slice(5) : j!.paths.name[Number(sp)]);
    const pathOf = (sp: string) => (sp.startsWith('name:') ? sp.slice(5) : j!.paths.text(Number(sp)));
    const minority = new Map<string, string>(); // spelling -> reason
    for (const g of groups.values()) {
      if (g.size < 2) continue;
      const ranked = [...g].sort((a, b) => b[1] - a[1] || (nameOf(a[0]) < nameOf(b[0]) ? -1 : 1));
      for (const [sp] of ranked.slice(1)) {
        minority.set(sp, `field "${pathOf(sp)}" differs only by case from "${pathOf(ranked[0][0])}", which most records use: Glue and Athena cannot tell them apart`);
      }
    }
    if (!minority.size) return;
    for (const f of [...csvFiles(st), ...parquetFiles(st)]) {
      const names = f.csv ? f.csv.header : (pq.get(f.path) ?? []);
      const hit = names.map(topSpelling).find((sp) => minority.has(sp));
      if (hit) setAside(st, f, minority.get(hit)!);
    }
    if (!j) return;
    const facts = newFacts();
    await removeRecordsWhere(
      st,
      undefined,
      (l) => {
        if (l.length > MAX_RECORD_BYTES || !j.scanner.scan(l.bytes, 0, l.bytes.length, facts) || facts.problem) return undefined;
        const hit = facts.paths.find((p) => minority.has(`${p}`));
        return hit === undefined ? undefined : minority.get(`${hit}`);
      },
      out,
    );
  }
}

/** Rows per local Parquet file, from the footers. */
async function parquetRowCounts(c: DuckDBConnection, files: readonly StagedFile[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!files.length) return out;
  const r = await c.runAndReadAll(`SELECT file_name AS f, num_rows AS n FROM parquet_file_metadata(${list(files.map((f) => f.path))})`);
  for (const row of r.getRowObjects()) out.set(String(row.f), Number(row.n));
  return out;
}

/** Per chunk, the JSON rows staged, and per column its non-null values. */
async function jsonCounts(c: DuckDBConnection, raw: readonly Described[], src: string): Promise<{ perChunk: Map<string, number>; nonNull: Map<string, number> }> {
  const cols = raw.filter((d) => d.column_name !== src);
  const perChunk = new Map<string, number>();
  for (const r of (await c.runAndReadAll(`SELECT ${ident(src)} AS f, count(*) AS n FROM json_raw GROUP BY ALL`)).getRowObjects()) perChunk.set(String(r.f), Number(r.n));
  const nonNull = new Map<string, number>();
  if (cols.length) {
    const row = (await c.runAndReadAll(`SELECT ${cols.map((d, i) => `count(${ident(d.column_name)}) AS c${i}`).join(', ')} FROM json_raw`)).getRowObjects()[0];
    cols.forEach((d, i) => nonNull.set(d.column_name, Number(row[`c${i}`])));
  }
  return { perChunk, nonNull };
}

/**
 * The staged JSON rows against the line pass's own counts: records per chunk, one column per field
 * name the records hold (exactly those), as many non-null values per column as the records have,
 * and nested struct fields exactly the ones the records hold. A misread input fails here.
 */
function verifyJson(staged: StagedInputs, json: NonNullable<StagedInputs['json']>, raw: readonly Described[], src: string, counted: { perChunk: Map<string, number>; nonNull: Map<string, number> }): void {
  const fail = (why: string) => {
    throw new VerificationError(`JSON Lines of this bin were staged otherwise than the records hold: ${why}`);
  };
  for (const chunk of chunksWithRecords(staged)) {
    const expected = staged.jsonSegments.filter((g) => g.chunk === chunk).reduce((n, g) => n + (staged.jsonRows.get(g.key) ?? 0), 0);
    const got = counted.perChunk.get(chunk) ?? 0;
    if (got !== expected) fail(`${got} rows staged from a chunk holding ${expected} records`);
  }
  const top = new Map(json.paths.childrenOf(0).filter((id) => (json.pathRecords[id] ?? 0) > 0).map((id) => [json.paths.name[id], id]));
  for (const d of raw) {
    if (d.column_name === src) continue;
    const id = top.get(d.column_name);
    if (id === undefined) fail(`column "${d.column_name}" is staged, but no record has that field`);
    const expected = json.nonNull[id!] ?? 0;
    if (counted.nonNull.get(d.column_name) !== expected) fail(`column "${d.column_name}" has ${counted.nonNull.get(d.column_name)} values, the records ${expected}`);
    const nested = nestedMismatch(json.paths, json.pathRecords, id!, parseDuckType(d.column_type));
    if (nested) fail(nested);
  }
  for (const name of top.keys()) if (!raw.some((d) => d.column_name === name)) fail(`records have field "${name}", which is not staged`);
}

/** CSV files whose staged rows or values differ from what the fetch read in them: set aside. */
async function setAsideMisreadCsv(c: DuckDBConnection, staged: StagedInputs, src: string): Promise<number> {
  const cols = (await describe(c, 'csv_raw')).map((d) => d.column_name).filter((n) => n !== src);
  const r = await c.runAndReadAll(`SELECT ${ident(src)} AS f, count(*) AS n, ${cols.map((n, i) => `count(${ident(n)}) AS c${i}`).join(', ')} FROM csv_raw GROUP BY ALL`);
  const got = new Map(r.getRowObjects().map((row) => [String(row.f), row]));
  let found = 0;
  for (const f of csvFiles(staged)) {
    const row = got.get(f.path);
    const facts = f.csv!;
    let why: string | undefined;
    if (Number(row?.n ?? 0) !== facts.records) why = `the engine read ${Number(row?.n ?? 0)} records, the file holds ${facts.records}`;
    for (const [i, name] of facts.header.entries()) {
      if (why) break;
      const at = cols.indexOf(name);
      if (at < 0) why = `the engine did not read column "${name}"`;
      else if (Number(row?.[`c${at}`] ?? 0) !== facts.nonEmpty[i]) why = `the engine read ${Number(row?.[`c${at}`] ?? 0)} values of "${name}", the file holds ${facts.nonEmpty[i]}`;
    }
    if (why) {
      setAside(staged, f, `not readable as CSV as written: ${why}`);
      found++;
    }
  }
  return found;
}

/** Parquet files whose column types no other file's can be widened to (they would be cast silently): the bin fails naming them. */
async function checkParquetTypes(c: DuckDBConnection, staged: StagedInputs): Promise<void> {
  const byColumn = new Map<string, Map<string, string>>(); // column -> type -> a file
  for (const f of parquetFiles(staged)) {
    for (const d of await describe(c, `SELECT * FROM read_parquet(${sqlString(f.path)})`)) {
      const types = byColumn.get(d.column_name) ?? byColumn.set(d.column_name, new Map()).get(d.column_name)!;
      if (!types.has(d.column_type)) types.set(d.column_type, f.source.key);
    }
  }
  for (const [col, types] of byColumn) {
    if (types.size < 2 || [...types.keys()].every((t) => INTEGERS.has(t))) continue;
    throw new InvalidInputError(`column "${col}" is ${[...types].map(([t, k]) => `${t} in ${k}`).join(' but ')}: one Parquet column cannot hold them as written; nothing was written`);
  }
}

/** Parquet files holding a -0.0 in a double column: set aside, since the written file would not keep it apart from 0. */
async function setAsideNegativeZeros(c: DuckDBConnection, staged: StagedInputs, src: string): Promise<number> {
  const doubles = (await describe(c, 'parquet_raw')).filter((d) => FLOATS.has(d.column_type)).map((d) => ident(d.column_name));
  if (!doubles.length) return 0;
  const r = await c.runAndReadAll(`SELECT DISTINCT ${ident(src)} AS f FROM parquet_raw WHERE ${doubles.map((d) => `(${d} = 0 AND signbit(${d}))`).join(' OR ')}`);
  const files = new Set(r.getRowObjects().map((x) => String(x.f)));
  for (const f of parquetFiles(staged)) if (files.has(f.path)) setAside(staged, f, 'a double column holds -0.0, which the written file would not keep apart from 0');
  return files.size;
}

/** Parquet rows staged per file against the rows its footer declares (less the duplicates left out). */
async function verifyParquetRows(c: DuckDBConnection, staged: StagedInputs, src: string): Promise<void> {
  const files = parquetFiles(staged);
  const footer = await parquetRowCounts(c, files);
  const r = await c.runAndReadAll(`SELECT ${ident(src)} AS f, count(*) AS n FROM parquet_raw GROUP BY ALL`);
  const got = new Map(r.getRowObjects().map((row) => [String(row.f), Number(row.n)]));
  for (const f of files) {
    const dropped = (f.dropRows ?? []).reduce((n, [a, b]) => n + (b - a), 0);
    const expected = (footer.get(f.path) ?? 0) - dropped;
    if ((got.get(f.path) ?? 0) !== expected) {
      throw new VerificationError(`${f.source.key}: ${got.get(f.path) ?? 0} rows staged, its footer declares ${expected}`);
    }
  }
}

/** Rows of local Parquet files from their footers, and the files that are not readable Parquet (with why). */
export async function parquetFooters(paths: readonly string[]): Promise<{ rows: Map<string, number>; unreadable: Map<string, string> }> {
  const rows = new Map<string, number>();
  const unreadable = new Map<string, string>();
  if (!paths.length) return { rows, unreadable };
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await instance.connect();
  const read = async (batch: readonly string[]) => {
    const r = await c.runAndReadAll(`SELECT file_name AS f, num_rows AS n FROM parquet_file_metadata(${list(batch)})`);
    for (const row of r.getRowObjects()) rows.set(String(row.f), Number(row.n));
  };
  try {
    // One query for all; only when it fails, one per file to tell which.
    await read(paths).catch(async () => {
      for (const p of paths) await read([p]).catch((e: Error) => unreadable.set(p, e.message));
    });
    return { rows, unreadable };
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

/** Rows and row checksum of a Parquet file, computed as compactToParquet verifies its own output. */
export async function parquetChecksum(path: string): Promise<{ rows: number; checksum: string }> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await instance.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    const { rows, sum } = await checksum(c, `SELECT * FROM read_parquet(${sqlString(path)})`);
    return { rows, checksum: sum };
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}
