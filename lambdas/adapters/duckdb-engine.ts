import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { ColumnSchema } from '../core/contracts';
import { ConfigurationError, InvalidInputError } from '../core/errors';
import { isDecimalType } from '../core/schema';
import type { Compression } from '../core/settings';
import { MAX_RECORD_BYTES, removeBadRecords, removeIncompatibleObjects, type RejectedRecord } from './bad-records';
import type { StagedInputs } from './fetch-inputs';

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
}

const SRC = '__compactor_src';

export const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
export const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const list = (paths: readonly string[]) => `[${paths.map(sqlString).join(', ')}]`;

/** JSON chunks holding at least one record: an empty one would add a column named `json`. */
function chunksWithRecords(staged: StagedInputs): string[] {
  const live = new Set(staged.jsonSegments.filter((g) => (staged.jsonRows.get(g.key) ?? 0) > 0).map((g) => g.chunk));
  // Segments are not tracked by every caller (the benchmark stages chunks itself): keep those as given.
  return staged.jsonSegments.length ? staged.jsonChunks.filter((c) => live.has(c)) : staged.jsonChunks;
}

/** The union of every input, by column name, with the source path of CSV/Parquet rows. */
function sourceQuery(staged: StagedInputs, csvText: readonly string[] = []): string {
  const parts: string[] = [];
  const chunks = chunksWithRecords(staged);
  if (chunks.length) {
    // sample_size=-1: the schema comes from every record, so no column seen late is dropped.
    parts.push(
      `SELECT * FROM read_json(${list(chunks)}, format='newline_delimited', union_by_name=true, ` +
        `sample_size=-1, hive_partitioning=false, maximum_object_size=${MAX_RECORD_BYTES})`,
    );
  }
  const csv = staged.files.filter((f) => f.source.format.startsWith('csv')).map((f) => f.path);
  if (csv.length) {
    // Declared decimals are read as their text, so the CAST to DECIMAL is exact.
    const types = csvText.length ? `, types={${csvText.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(', ')}}` : '';
    parts.push(`SELECT * FROM read_csv(${list(csv)}, union_by_name=true, header=true, hive_partitioning=false, filename=${sqlString(SRC)}${types})`);
  }
  const parquet = staged.files.filter((f) => f.source.format === 'parquet').map((f) => f.path);
  if (parquet.length) {
    parts.push(`SELECT * FROM read_parquet(${list(parquet)}, union_by_name=true, hive_partitioning=false, filename=${sqlString(SRC)})`);
  }
  return parts.join(' UNION ALL BY NAME ');
}

/** Declared decimal columns that the CSV inputs have (naming an absent one is an error in DuckDB). */
async function csvDecimalColumns(c: DuckDBConnection, staged: StagedInputs, declared: Readonly<Record<string, string>>): Promise<string[]> {
  const decimals = Object.keys(declared).filter((k) => isDecimalType(declared[k]));
  const csv = staged.files.filter((f) => f.source.format.startsWith('csv')).map((f) => f.path);
  if (!decimals.length || !csv.length) return [];
  const r = await c.runAndReadAll(`DESCRIBE SELECT * FROM read_csv(${list(csv)}, union_by_name=true, header=true, hive_partitioning=false)`);
  const present = new Set(r.getRowObjects().map((d) => String(d.column_name)));
  return decimals.filter((d) => present.has(d));
}

/**
 * Casts a staged column to a type that Parquet readers (Athena, Spark) hold exactly:
 * 128-bit and unsigned integers become BIGINT when they fit, else DECIMAL(38,0) (DuckDB would
 * otherwise write them as DOUBLE and lose digits); naive timestamps are UTC instants.
 */
async function outputExpression(c: DuckDBConnection, name: string, type: string, declared?: string): Promise<string> {
  const col = ident(name);
  if (declared) return `CAST(${col} AS ${declared}) AS ${col}`;
  if (type === 'HUGEINT' || type === 'UHUGEINT' || type === 'UBIGINT') {
    const r = await c.runAndReadAll(
      `SELECT coalesce(bool_and(${col} BETWEEN -9223372036854775808 AND 9223372036854775807), true) AS fits FROM staged`,
    );
    return r.getRowObjects()[0].fits ? `CAST(${col} AS BIGINT) AS ${col}` : `CAST(${col} AS DECIMAL(38,0)) AS ${col}`;
  }
  if (type === 'UINTEGER') return `CAST(${col} AS BIGINT) AS ${col}`;
  if (type === 'USMALLINT') return `CAST(${col} AS INTEGER) AS ${col}`;
  if (type === 'UTINYINT') return `CAST(${col} AS SMALLINT) AS ${col}`;
  if (type === 'TIMESTAMP') return `CAST(${col} AS TIMESTAMPTZ) AS ${col}`;
  if (type === 'JSON') return `CAST(${col} AS VARCHAR) AS ${col}`;
  return col;
}

async function checksum(c: DuckDBConnection, from: string): Promise<{ rows: number; sum: string }> {
  // Sum (not XOR) of row hashes: order-independent, yet a duplicated row changes it.
  const r = await c.runAndReadAll(`SELECT count(*) AS n, coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR AS h FROM (${from}) t`);
  const row = r.getRowObjects()[0];
  return { rows: Number(row.n), sum: String(row.h) };
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
  try {
    // Naive timestamps are read as UTC instants whatever the host's zone.
    await c.run(`SET TimeZone = 'UTC'`);
    const csvText = await csvDecimalColumns(c, staged, o.declaredTypes ?? {});
    const source = sourceQuery(staged, csvText);
    if (!source) throw new InvalidInputError('bin has no readable inputs');
    let rejected: RejectedRecord[] = [];
    try {
      await c.run(`CREATE TABLE staged AS ${source}`);
    } catch (e) {
      // Bad JSON records: find them, set them aside, and read the rest again.
      rejected = staged.jsonChunks.length ? await removeBadRecords(staged) : [];
      if (!rejected.length) throw new InvalidInputError(`inputs could not be read: ${(e as Error).message}`, { cause: e });
      await c.run('DROP TABLE IF EXISTS staged');
      try {
        await c.run(`CREATE TABLE staged AS ${sourceQuery(staged, csvText)}`);
      } catch (e2) {
        throw new InvalidInputError(`inputs could not be read, even without ${rejected.length} bad record(s): ${(e2 as Error).message}`, { cause: e2 });
      }
    }

    let described = (await c.runAndReadAll('DESCRIBE staged')).getRowObjects() as Array<{ column_name: string; column_type: string }>;
    // Mixed kinds in one field (an object here, a number there) come out as JSON: unless the field
    // may become a string, the files that disagree with most records are set aside whole.
    const coerce = o.coerceToString ?? [];
    const mixed = described.filter((d) => d.column_type === 'JSON' && !coerce.includes('*') && !coerce.includes(d.column_name)).map((d) => d.column_name);
    if (mixed.length && staged.jsonChunks.length) {
      const setAside = await removeIncompatibleObjects(staged, mixed);
      if (setAside.length) {
        rejected = [...rejected, ...setAside];
        await c.run('DROP TABLE staged');
        await c.run(`CREATE TABLE staged AS ${sourceQuery(staged, csvText)}`);
        described = (await c.runAndReadAll('DESCRIBE staged')).getRowObjects() as Array<{ column_name: string; column_type: string }>;
      }
    }
    const hasSrc = described.some((d) => d.column_name === SRC);
    const fileRows = new Map<string, number>();
    if (hasSrc) {
      const counts = await c.runAndReadAll(`SELECT ${ident(SRC)} AS p, count(*) AS n FROM staged WHERE ${ident(SRC)} IS NOT NULL GROUP BY ALL`);
      for (const r of counts.getRowObjects()) fileRows.set(String(r.p), Number(r.n));
    }
    const columns = described.filter((d) => d.column_name !== SRC);
    if (!columns.length) throw new InvalidInputError('bin has no readable records');
    const names = new Set(columns.map((d) => d.column_name));
    for (const s of o.sortBy) {
      if (!names.has(s)) throw new ConfigurationError(`sort column "${s}" is not in the data (columns: ${[...names].join(', ')})`);
    }
    const exprs: string[] = [];
    for (const d of columns) exprs.push(await outputExpression(c, d.column_name, d.column_type, o.declaredTypes?.[d.column_name]));
    const projection = `SELECT ${exprs.join(', ')} FROM staged`;

    const before = await checksum(c, projection).catch((e) => {
      throw new InvalidInputError(`inputs do not fit the declared column types: ${(e as Error).message}`, { cause: e });
    });
    const ordered = o.sortBy.length ? `${projection} ORDER BY ${o.sortBy.map(ident).join(', ')}` : projection;
    await c.run(
      `COPY (${ordered}) TO ${sqlString(outPath)} (FORMAT parquet, COMPRESSION ${o.compression}, ` +
        `ROW_GROUP_SIZE 10000000, ROW_GROUP_SIZE_BYTES ${o.rowGroupBytes})`,
    );
    const written = `SELECT * FROM read_parquet(${sqlString(outPath)})`;
    const after = await checksum(c, written);
    const schema = ((await c.runAndReadAll(`DESCRIBE ${written}`)).getRowObjects() as Array<{ column_name: string; column_type: string }>).map(
      (d) => ({ name: d.column_name, type: d.column_type }),
    );
    return {
      fileRows,
      stagedRows: before.rows,
      outputRows: after.rows,
      inputChecksum: before.sum,
      outputChecksum: after.sum,
      outputBytes: (await stat(outPath)).size,
      schema,
      rejected,
    };
  } finally {
    c.closeSync();
    instance.closeSync();
    await rm(dbPath, { force: true });
    await rm(`${dbPath}.wal`, { force: true });
  }
}
