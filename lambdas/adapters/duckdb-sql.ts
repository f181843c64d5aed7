/** SQL text for DuckDB: quoting, the readers in the fetch's dialects, DESCRIBE, the row checksum. */
import type { DuckDBConnection } from '@duckdb/node-api';
import { MAX_RECORD_BYTES } from '../core/formats';

/** The column DuckDB's `file_row_number` option adds (its name cannot be chosen). */
export const ROW = 'file_row_number';

export const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

export const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

export const list = (paths: readonly string[]) => `[${paths.map(sqlString).join(', ')}]`;

/** The bookkeeping column's name: one no input has, compared as DuckDB binds names (case-insensitively). */
export function freeName(base: string, taken: Iterable<string>): string {
  const lower = new Set([...taken].map((n) => n.toLowerCase()));
  let name = base;
  for (let n = 1; lower.has(name.toLowerCase()); n++) name = `${base}_${n}`;
  return name;
}

export const jsonRead = (chunks: readonly string[], extra: string) =>
  `read_json(${list(chunks)}, format='newline_delimited', hive_partitioning=false, maximum_object_size=${MAX_RECORD_BYTES}${extra})`;

/** The dialect the fetch's CSV reader reads (RFC 4180, a header line), forced: nothing is sniffed. */
export const csvRead = (paths: readonly string[], src: string) =>
  `read_csv(${list(paths)}, header=true, delim=',', quote='"', escape='"', skip=0, all_varchar=true, allow_quoted_nulls=false, ` +
  `strict_mode=true, null_padding=false, max_line_size=${MAX_RECORD_BYTES + 1024}, union_by_name=true, hive_partitioning=false, filename=${sqlString(src)})`;

export interface Described {
  readonly column_name: string;
  readonly column_type: string;
}

export const describe = async (c: DuckDBConnection, from: string) => (await c.runAndReadAll(`DESCRIBE ${from}`)).getRowObjects() as unknown as Described[];

export async function checksum(c: DuckDBConnection, from: string): Promise<{ rows: number; sum: string }> {
  // Sum (not XOR) of row hashes: order-independent, yet a duplicated row changes it.
  const r = await c.runAndReadAll(`SELECT count(*) AS n, coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR AS h FROM (${from}) t`);
  const row = r.getRowObjects()[0];
  return { rows: Number(row.n), sum: String(row.h) };
}

/** The Parquet writer settings of every file the pipeline writes (row groups bounded by bytes). */
export const parquetWriteOptions = (o: { readonly compression: string; readonly rowGroupBytes: number }) =>
  `(FORMAT parquet, COMPRESSION ${o.compression}, ROW_GROUP_SIZE 10000000, ROW_GROUP_SIZE_BYTES ${o.rowGroupBytes})`;
