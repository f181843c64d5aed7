/** Parquet footers and checksums of local files: row counts, column names, a file's rows and checksum. */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { checksum, list, sqlString } from './duckdb-sql';
import type { StagedFile } from './fetch-inputs';

/** Top-level column names of each local Parquet file as its footer spells them (DuckDB renames clashing ones). */
export async function parquetNames(c: DuckDBConnection, files: readonly StagedFile[]): Promise<Map<string, string[]>> {
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

/** Rows per local Parquet file, from the footers. */
export async function parquetRowCounts(c: DuckDBConnection, files: readonly StagedFile[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!files.length) return out;
  const r = await c.runAndReadAll(`SELECT file_name AS f, num_rows AS n FROM parquet_file_metadata(${list(files.map((f) => f.path))})`);
  for (const row of r.getRowObjects()) out.set(String(row.f), Number(row.n));
  return out;
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
