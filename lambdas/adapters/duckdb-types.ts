/** Column types across a bin's inputs: text converted only where exact, one type per column, the written projection. */
import type { DuckDBConnection } from '@duckdb/node-api';
import { InvalidInputError } from '../core/errors';
import { formatDuckType, mapScalars, parseDuckType, type DuckType } from '../core/schema';
import { describe, ident, type Described } from './duckdb-sql';

/** Text that is an ISO 8601 instant or date: the only strings converted to a timestamp or date (see README). */
export const TIMESTAMP_TEXT = '\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])[T ]([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d{1,6})?(Z|[+-]([01]\\d|2[0-3])(:?[0-5]\\d)?)?';

export const DATE_TEXT = '\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])';

/** CSV text read as numbers: JSON's number grammar. */
export const INT_TEXT = '-?(0|[1-9]\\d*)';

export const NUMBER_TEXT = '-?(0|[1-9]\\d*)(\\.\\d+)?([eE][+-]?\\d+)?';

/** SQL: the text column's value converts to `type` exactly (the rules of {@link textTypes}). */
export function exactText(col: string, type: string): string {
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

export const TEXT_TYPES = ['BIGINT', 'DOUBLE', 'BOOLEAN', 'TIMESTAMP WITH TIME ZONE', 'DATE'] as const;

/**
 * The type text columns are written as: a timestamp when every value is an ISO 8601 instant, a
 * date when every value is a date, and (CSV only: JSON has its own numbers) an integer, a double
 * or a boolean when every value is one exactly. Anything else stays text, as written.
 */
export async function textTypes(c: DuckDBConnection, table: string, columns: readonly string[], csv: boolean): Promise<Map<string, string>> {
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
 * The type JSON is read as: inferred, except that strings are read as the text they are (UUID,
 * TIME, dates, timestamps), and integers as BIGINT (the line pass let none past 64 bits through;
 * DuckDB infers HUGEINT for -9223372036854775808).
 */
export const asReadFromJson = (t: DuckType) =>
  mapScalars(t, (name) => (/^(TIMESTAMP|DATE|TIME|UUID|INTERVAL)/.test(name) ? 'VARCHAR' : /^U?HUGEINT$|^UBIGINT$/.test(name) ? 'BIGINT' : name));

export const INTEGERS = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT']);

export const FLOATS = new Set(['FLOAT', 'DOUBLE']);

/** One input kind's staged columns: its source table, column types, and which ones are text that could stay text. */
export interface Part {
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
export async function unify(c: DuckDBConnection, parts: Part[]): Promise<void> {
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

export async function unifyColumn(c: DuckDBConnection, col: string, holding: readonly Part[]): Promise<void> {
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
export function asText(col: string, type: string): string {
  const c = ident(col);
  if (type === 'VARCHAR') return c;
  if (type === 'JSON') return `(${c}->>'$')`;
  if (/^(STRUCT|MAP)\(|\]$/.test(type)) return `CAST(to_json(${c}) AS VARCHAR)`;
  return `CAST(${c} AS VARCHAR)`;
}

/** Declared columns are staged as text in every part (the projection casts them, checked). */
export function declareAsText(parts: readonly Part[], declared: Readonly<Record<string, string>>): void {
  for (const p of parts) {
    for (const [col, type] of p.types) {
      if (!declared[col]) continue;
      p.exprs.set(col, asText(col, type));
      p.types.set(col, 'VARCHAR');
    }
  }
}

/** A part's rows as staged: every column of the bin, converted to its one type, missing ones NULL. */
export function partSelect(p: Part, src: string, order: readonly string[]): string {
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
export async function outputExpression(c: DuckDBConnection, name: string, type: string): Promise<string> {
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
export const castSource = (d: Described) => (d.column_type === 'JSON' ? `(${ident(d.column_name)}->>'$')` : ident(d.column_name));

/**
 * The declared type cannot hold the value as written: the cast fails, or it would round (a
 * fraction into an integer, more decimals than the scale keeps).
 */
export function misfit(src: string, type: string): string {
  const dec = /^DECIMAL\((\d+),\s*(\d+)\)$/i.exec(type.trim());
  const exact = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/i.test(type.trim())
    ? ` OR TRY_CAST(${src} AS DECIMAL(38,10)) <> TRY_CAST(${src} AS ${type})`
    : dec
      ? ` OR TRY_CAST(${src} AS DECIMAL(38,${Math.min(38, Number(dec[2]) + 38 - Number(dec[1]))})) <> TRY_CAST(${src} AS ${type})`
      : '';
  return `(${src} IS NOT NULL AND (TRY_CAST(${src} AS ${type}) IS NULL${exact}))`;
}

/** The staged rows as they are written: declared types applied, other types made portable. */
export async function projectionOf(c: DuckDBConnection, described: readonly Described[], declared: Readonly<Record<string, string>>, src: string): Promise<string> {
  const columns = described.filter((d) => d.column_name !== src);
  if (!columns.length) throw new InvalidInputError('bin has no readable records');
  const exprs: string[] = [];
  for (const d of columns) {
    const type = declared[d.column_name];
    exprs.push(type ? `CAST(${castSource(d)} AS ${type}) AS ${ident(d.column_name)}` : await outputExpression(c, d.column_name, d.column_type));
  }
  return `SELECT ${exprs.join(', ')} FROM staged`;
}

/** The CSV part as staged in `csv_raw`: every value read as text, converted only where every value converts exactly. */
export async function csvPartOf(c: DuckDBConnection, src: string, declared: Readonly<Record<string, string>>): Promise<Part> {
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
}
