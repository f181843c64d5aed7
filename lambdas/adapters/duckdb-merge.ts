import { stat } from 'node:fs/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { MergedLocalFile, ParquetFacts, ParquetWriteOptions as MergeOptions } from '../core/engine-contracts';
import { ConfigurationError } from '../core/errors';
import { checksum, ident, parquetWriteOptions, sqlString } from './duckdb-sql';

const read = (path: string) => `SELECT * FROM read_parquet(${sqlString(path)})`;

async function facts(c: DuckDBConnection, path: string): Promise<ParquetFacts> {
  const { rows, sum } = await checksum(c, read(path));
  const described = (await c.runAndReadAll(`DESCRIBE ${read(path)}`)).getRowObjects();
  return { rows, checksum: sum, schema: described.map((d) => ({ name: String(d.column_name), type: String(d.column_type) })) };
}

async function withDuckDb<T>(o: Pick<MergeOptions, 'memoryLimitMb' | 'threads'>, spill: string | undefined, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(o.threads),
    memory_limit: `${o.memoryLimitMb}MB`,
    ...(spill ? { temp_directory: spill } : {}),
    preserve_insertion_order: 'false',
  });
  const c = await instance.connect();
  try {
    // Checksums hash timestamps as instants whatever the host's zone, as the compact step does.
    await c.run(`SET TimeZone = 'UTC'`);
    return await fn(c);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

/** Rows, row checksum and columns of each local Parquet file. */
export function parquetFacts(paths: readonly string[], o: Pick<MergeOptions, 'memoryLimitMb' | 'threads'>): Promise<ParquetFacts[]> {
  return withDuckDb(o, undefined, async (c) => {
    const out: ParquetFacts[] = [];
    for (const p of paths) out.push(await facts(c, p));
    return out;
  });
}

/**
 * Merges Parquet files of one schema into `outPaths.length` files, Parquet to Parquet. The rows
 * are split by their position in the inputs as given (file order, then row order in the file):
 * output i takes rows [i*N/k, (i+1)*N/k), so a retry writes the same rows to the same file.
 * Columns stay as the inputs have them (names, types, order); the writer settings are the
 * compact step's. Returns what each written file holds, read back from it.
 */
export async function mergeParquet(
  inputs: ReadonlyArray<{ readonly path: string; readonly rows: number }>,
  outPaths: readonly string[],
  spill: string,
  o: MergeOptions,
): Promise<MergedLocalFile[]> {
  const total = inputs.reduce((n, f) => n + f.rows, 0);
  const k = outPaths.length;
  return withDuckDb(o, spill, async (c) => {
    const out: MergedLocalFile[] = [];
    // DuckDB cannot add its row-number column to files holding a field of that name: those are
    // split at whole-file boundaries only (file j goes to the output its first row falls in).
    const names = (await c.runAndReadAll(`DESCRIBE ${read(inputs[0].path)}`)).getRowObjects().map((d) => String(d.column_name));
    const wholeFiles = names.some((n) => n.toLowerCase() === 'file_row_number');
    for (let i = 0; i < k; i++) {
      const from = Math.floor((i * total) / k);
      const to = Math.floor(((i + 1) * total) / k);
      const parts: string[] = [];
      let offset = 0;
      for (const f of inputs) {
        const start = offset;
        const a = Math.max(from, offset) - offset;
        const b = Math.min(to, offset + f.rows) - offset;
        offset += f.rows;
        if (wholeFiles) {
          if (f.rows > 0 && start >= from && start < to) parts.push(read(f.path));
          continue;
        }
        if (b <= a) continue;
        const all = a === 0 && b === f.rows;
        parts.push(
          all
            ? read(f.path)
            : `SELECT * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(f.path)}, file_row_number = true) WHERE file_row_number >= ${a} AND file_row_number < ${b}`,
        );
      }
      const rows = parts.length ? parts.join(' UNION ALL ') : `${read(inputs[0].path)} LIMIT 0`;
      if (o.sortBy.length) {
        const missing = o.sortBy.filter((s) => !names.includes(s));
        if (missing.length) throw new ConfigurationError(`sort column "${missing[0]}" is not in the data (columns: ${names.join(', ')})`);
      }
      const ordered = o.sortBy.length ? `SELECT * FROM (${rows}) ORDER BY ${o.sortBy.map(ident).join(', ')}` : rows;
      await c.run(`COPY (${ordered}) TO ${sqlString(outPaths[i])} ${parquetWriteOptions(o)}`);
      out.push({ path: outPaths[i], bytes: (await stat(outPaths[i])).size, ...(await facts(c, outPaths[i])) });
    }
    return out;
  });
}
