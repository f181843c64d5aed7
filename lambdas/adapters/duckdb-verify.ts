/** The staged table against the fetch's own counts, and the values declared types cannot hold. */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PartitionFieldReport } from '../core/engine-contracts';
import { VerificationError } from '../core/errors';
import { size, type Intervals } from '../core/intervals';
import type { FieldPaths } from '../core/json-field-paths';
import { parseDuckType, type DuckType } from '../core/schema';
import type { Misfit } from './bad-records';
import { ident, sqlString, type Described } from './duckdb-sql';
import { parquetRowCounts } from './duckdb-footers';
import { castSource, FLOATS, misfit } from './duckdb-types';
import { chunksWithRecords, named, parquetFiles } from './duckdb-set-aside';
import type { JsonFacts, StagedInputs } from './fetch-inputs';

/** The DuckDB type at a field path of the JSON records (undefined past a JSON value or map). */
export function typeAtPath(paths: FieldPaths, top: ReadonlyMap<string, DuckType>, path: number): DuckType | undefined {
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
export function nestedMismatch(paths: FieldPaths, counts: readonly number[], id: number, t: DuckType): string | undefined {
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

/** Per declared column, the values (as text) that its type cannot hold exactly, and where they came from. */
export async function declaredMisfits(
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

/** Data fields named like a partition key (case-insensitively, as Athena binds them) whose value is another. */
export async function partitionFields(c: DuckDBConnection, projection: string, names: readonly string[], values: Readonly<Record<string, string>>): Promise<PartitionFieldReport[]> {
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

/** Per chunk, the JSON rows staged, and per column its non-null values. */
export async function jsonCounts(c: DuckDBConnection, raw: readonly Described[], src: string): Promise<{ perChunk: Map<string, number>; nonNull: Map<string, number> }> {
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
export function verifyJson(staged: StagedInputs, json: NonNullable<StagedInputs['json']>, raw: readonly Described[], src: string, counted: { perChunk: Map<string, number>; nonNull: Map<string, number> }): void {
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

/** Parquet rows staged per file against the rows its footer declares (less the duplicates left out). */
export async function verifyParquetRows(c: DuckDBConnection, staged: StagedInputs, src: string, dropRows?: ReadonlyMap<string, Intervals>): Promise<void> {
  const files = parquetFiles(staged);
  const footer = await parquetRowCounts(c, files);
  const r = await c.runAndReadAll(`SELECT ${ident(src)} AS f, count(*) AS n FROM parquet_raw GROUP BY ALL`);
  const got = new Map(r.getRowObjects().map((row) => [String(row.f), Number(row.n)]));
  for (const f of files) {
    const dropped = size(dropRows?.get(f.source.key) ?? []);
    const expected = (footer.get(f.path) ?? 0) - dropped;
    if ((got.get(f.path) ?? 0) !== expected) {
      throw new VerificationError(`${f.source.key}: ${got.get(f.path) ?? 0} rows staged, its footer declares ${expected}`);
    }
  }
}

/**
 * Integers beyond 2^53 where other records make the field a double (the double would round them):
 * by object key and line, why the record goes to quarantine.
 */
export function roundedWideInts(json: JsonFacts, described: readonly Described[]): Map<string, Map<number, string>> {
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
  return rounded;
}
