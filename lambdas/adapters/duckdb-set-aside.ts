/** Inputs the engine cannot take as written: set aside whole (or the bin fails), with why. */
import type { DuckDBConnection } from '@duckdb/node-api';
import { InvalidInputError } from '../core/errors';
import { MAX_RECORD_BYTES } from '../core/formats';
import { newFacts } from '../core/json-records';
import { unreadableParquetReason } from '../core/input-rules';
import { csvRead, describe, ident, sqlString } from './duckdb-sql';
import { exactText, FLOATS, INTEGERS, TEXT_TYPES, type Part } from './duckdb-types';
import { removeRecordsWhere, type Rejections } from './bad-records';
import { parquetRowCounts } from './duckdb-footers';
import type { StagedInputs } from './fetch-inputs';

/** An engine message with local scratch paths replaced by the objects they hold. */
export function named(staged: StagedInputs, message: string): string {
  let out = message;
  for (const f of staged.files) out = out.split(f.path).join(f.source.key);
  for (const chunk of staged.jsonChunks) out = out.split(chunk).join('(JSON Lines of this bin)');
  return out;
}

export const csvFiles = (staged: StagedInputs) => staged.files.filter((f) => f.source.format.startsWith('csv'));

export const parquetFiles = (staged: StagedInputs) => staged.files.filter((f) => f.source.format === 'parquet');

/** JSON chunks holding at least one record: an empty one would add a column named `json`. */
export function chunksWithRecords(staged: StagedInputs): string[] {
  const live = new Set(staged.jsonSegments.filter((g) => (staged.jsonRows.get(g.key) ?? 0) > 0).map((g) => g.chunk));
  return staged.jsonChunks.filter((c) => live.has(c));
}

/**
 * Landing Parquet files whose data cannot be read (a readable footer is not enough) are taken out
 * of the bin and set aside whole, with why. Runs only after staging failed.
 */
export async function setAsideUnreadableParquet(c: DuckDBConnection, staged: StagedInputs): Promise<number> {
  let found = 0;
  for (const f of parquetFiles(staged)) {
    if (f.source.fromGold) continue;
    // Hashing every row reads every page (a bare count would be answered from the footer).
    const error = await c.runAndReadAll(`SELECT sum(hash(t)::HUGEINT) FROM read_parquet(${sqlString(f.path)}) t`).then(
      () => undefined,
      (e: Error) => e,
    );
    if (!error) continue;
    staged.setFileAside(f, unreadableParquetReason(named(staged, error.message)));
    found++;
  }
  return found;
}

/** CSV objects the engine refuses in the fetch's dialect: each set aside whole, with the engine's words. */
export async function setAsideUnreadableCsv(c: DuckDBConnection, staged: StagedInputs, src: string): Promise<number> {
  let found = 0;
  for (const f of csvFiles(staged)) {
    const error = await c.runAndReadAll(`SELECT count(*) FROM ${csvRead([f.path], src)}`).then(
      () => undefined,
      (e: Error) => e,
    );
    if (error) {
      staged.setFileAside(f, `not readable as CSV: ${named(staged, error.message.split('\n')[0])}`);
      found++;
    }
  }
  return found;
}

/**
 * CSV objects whose text in a column does not convert to the type another input kind holds there
 * exactly (`abc` where JSON has numbers): set aside whole, as JSON objects of another kind are.
 */
export async function setAsideDisagreeingCsv(c: DuckDBConnection, staged: StagedInputs, parts: readonly Part[], src: string): Promise<number> {
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
  for (const f of csvFiles(staged)) if (paths.has(f.path)) staged.setFileAside(f, why.get(f.path)!);
  return paths.size;
}

/** CSV files whose staged rows or values differ from what the fetch read in them: set aside. */
export async function setAsideMisreadCsv(c: DuckDBConnection, staged: StagedInputs, src: string): Promise<number> {
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
      staged.setFileAside(f, `not readable as CSV as written: ${why}`);
      found++;
    }
  }
  return found;
}

/** Parquet files holding a -0.0 in a double column: set aside, since the written file would not keep it apart from 0. */
export async function setAsideNegativeZeros(c: DuckDBConnection, staged: StagedInputs, src: string): Promise<number> {
  const doubles = (await describe(c, 'parquet_raw')).filter((d) => FLOATS.has(d.column_type)).map((d) => ident(d.column_name));
  if (!doubles.length) return 0;
  const r = await c.runAndReadAll(`SELECT DISTINCT ${ident(src)} AS f FROM parquet_raw WHERE ${doubles.map((d) => `(${d} = 0 AND signbit(${d}))`).join(' OR ')}`);
  const files = new Set(r.getRowObjects().map((x) => String(x.f)));
  for (const f of parquetFiles(staged)) if (files.has(f.path)) staged.setFileAside(f, 'a double column holds -0.0, which the written file would not keep apart from 0');
  return files.size;
}

/** Parquet files whose column types no other file's can be widened to (they would be cast silently): the bin fails naming them. */
export async function checkParquetTypes(c: DuckDBConnection, staged: StagedInputs): Promise<void> {
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
export async function removeCaseVariants(c: DuckDBConnection, st: StagedInputs, pq: ReadonlyMap<string, string[]>, out: Rejections): Promise<void> {
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
    if (hit) st.setFileAside(f, minority.get(hit)!);
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
