import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { ColumnSchema } from '../core/contracts';
import { ConfigurationError, InvalidInputError } from '../core/errors';
import { MAX_RECORD_BYTES } from '../core/formats';
import { isDecimalType } from '../core/schema';
import type { Compression } from '../core/settings';
import { Rejections, removeBadRecords, removeIncompatibleObjects, removeMisfitRecords, type Misfit, type RejectedRecord } from './bad-records';
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
  /** False when every record was set aside: no file was written. */
  readonly written: boolean;
}

const SRC = '__compactor_src';
/** The column DuckDB's `file_row_number` option adds. */
const ROW = 'file_row_number';

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
  const parquet = staged.files.filter((f) => f.source.format === 'parquet');
  if (parquet.length) {
    const read = `read_parquet(${list(parquet.map((f) => f.path))}, union_by_name=true, hive_partitioning=false, filename=${sqlString(SRC)}`;
    // Rows a redelivered Kafka object repeats are left out by their position in the file.
    const drops = parquet.flatMap((f) =>
      (f.dropRows ?? []).map(([a, b]) => `(${ident(SRC)} = ${sqlString(f.path)} AND ${ident(ROW)} >= ${a} AND ${ident(ROW)} < ${b})`),
    );
    parts.push(
      drops.length
        ? `SELECT * EXCLUDE (${ident(ROW)}) FROM ${read}, file_row_number=true) WHERE NOT (${drops.join(' OR ')})`
        : `SELECT * FROM ${read})`,
    );
  }
  return parts.join(' UNION ALL BY NAME ');
}

/** An engine message with local scratch paths replaced by the objects they hold. */
function named(staged: StagedInputs, message: string): string {
  let out = message;
  for (const f of staged.files) out = out.split(f.path).join(f.source.key);
  for (const chunk of staged.jsonChunks) out = out.split(chunk).join('(JSON Lines of this bin)');
  return out;
}

/**
 * Landing Parquet files whose data cannot be read (a readable footer is not enough) are taken out
 * of the bin and set aside whole, with why. Runs only after staging failed.
 */
async function setAsideUnreadableParquet(c: DuckDBConnection, staged: StagedInputs): Promise<number> {
  let found = 0;
  for (const f of [...staged.files]) {
    if (f.source.format !== 'parquet' || f.source.fromGold) continue;
    // Hashing every row reads every page (a bare count would be answered from the footer).
    const error = await c.runAndReadAll(`SELECT sum(hash(t)::HUGEINT) FROM read_parquet(${sqlString(f.path)}) t`).then(
      () => undefined,
      (e: Error) => e,
    );
    if (!error) continue;
    staged.setAside.push({ key: f.source.key, reason: `not a readable Parquet file: ${named(staged, error.message)}` });
    staged.files.splice(staged.files.indexOf(f), 1);
    found++;
  }
  return found;
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
  if (type === 'TIMESTAMP') return `CAST(${col} AS TIMESTAMPTZ) AS ${col}`;
  // A string stays itself (not a quoted JSON string); objects and numbers become their JSON text.
  if (type === 'JSON') return `(${col}->>'$') AS ${col}`;
  return col;
}

interface Described {
  readonly column_name: string;
  readonly column_type: string;
}

/** The value a declared type is cast from: a field of mixed kinds is cast from its text (`"12"` is 12). */
const castSource = (d: Described) => (d.column_type === 'JSON' ? `(${ident(d.column_name)}->>'$')` : ident(d.column_name));

/** The staged rows as they are written: declared types applied, other types made portable. */
async function projectionOf(c: DuckDBConnection, described: readonly Described[], declared: Readonly<Record<string, string>>): Promise<string> {
  const columns = described.filter((d) => d.column_name !== SRC);
  if (!columns.length) throw new InvalidInputError('bin has no readable records');
  const exprs: string[] = [];
  for (const d of columns) {
    const type = declared[d.column_name];
    exprs.push(type ? `CAST(${castSource(d)} AS ${type}) AS ${ident(d.column_name)}` : await outputExpression(c, d.column_name, d.column_type));
  }
  return `SELECT ${exprs.join(', ')} FROM staged`;
}

/** Per declared column, the values (as text) that its type cannot hold, and where they came from. */
async function declaredMisfits(
  c: DuckDBConnection,
  described: readonly Described[],
  declared: Readonly<Record<string, string>>,
  staged: StagedInputs,
): Promise<Misfit[]> {
  const out: Misfit[] = [];
  const hasSrc = described.some((d) => d.column_name === SRC);
  for (const d of described) {
    const type = declared[d.column_name];
    if (!type) continue;
    const src = castSource(d);
    const r = await c.runAndReadAll(
      `SELECT DISTINCT CAST(${src} AS VARCHAR) AS v, ${hasSrc ? ident(SRC) : 'NULL'} AS f FROM staged ` +
        `WHERE ${src} IS NOT NULL AND TRY_CAST(${src} AS ${type}) IS NULL LIMIT 10000`,
    );
    const rows = r.getRowObjects();
    if (!rows.length) continue;
    const values = [...new Set(rows.map((x) => String(x.v)))];
    const files = [...new Set(rows.flatMap((x) => (x.f === null ? [] : [named(staged, String(x.f))])))];
    out.push({
      column: d.column_name,
      type,
      values,
      examples: [...values.slice(0, 3).map((v) => JSON.stringify(v)), ...(files.length ? [`in ${files.slice(0, 3).join(', ')}`] : [])],
    });
  }
  return out;
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
    const declared = o.declaredTypes ?? {};
    const csvText = await csvDecimalColumns(c, staged, declared);
    /** Stages what is left to read; undefined when every record was set aside. */
    const stage = async (): Promise<Described[] | undefined> => {
      const source = sourceQuery(staged, csvText);
      if (!source) return undefined;
      await c.run('DROP TABLE IF EXISTS staged');
      await c.run(`CREATE TABLE staged AS ${source}`);
      return (await c.runAndReadAll('DESCRIBE staged')).getRowObjects() as unknown as Described[];
    };
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
    });
    let described: Described[] | undefined;
    try {
      described = await stage();
    } catch (e) {
      // Bad JSON records and landing files that are not readable Parquet are set aside; the rest is read again.
      const bad = staged.jsonChunks.length ? await removeBadRecords(staged, rejections) : 0;
      const broken = await setAsideUnreadableParquet(c, staged);
      if (!bad && !broken) throw new InvalidInputError(`inputs could not be read: ${named(staged, (e as Error).message)}`, { cause: e });
      described = await stage().catch((e2: Error) => {
        throw new InvalidInputError(`inputs could not be read, even without ${bad} bad record(s) and ${broken} unreadable file(s): ${named(staged, e2.message)}`, { cause: e2 });
      });
    }
    if (!described) return nothingLeft();

    // Mixed kinds in one field (an object here, a number there) come out as JSON: unless the field
    // may become a string or has a declared type (checked value by value below), the files that
    // disagree with most records are set aside whole.
    const coerce = o.coerceToString ?? [];
    const mixed = described
      .filter((d) => d.column_type === 'JSON' && !coerce.includes('*') && !coerce.includes(d.column_name) && !declared[d.column_name])
      .map((d) => d.column_name);
    if (mixed.length && staged.jsonChunks.length && (await removeIncompatibleObjects(staged, mixed, rejections))) {
      described = await stage();
      if (!described) return nothingLeft();
    }

    // Values that do not fit a declared type: the records holding them are set aside.
    let projection = await projectionOf(c, described, declared);
    // DuckDB's errors are not `instanceof Error` in every realm (jest's): keep the outcome tagged.
    const first = await checksum(c, projection).then(
      (sum) => ({ sum, error: undefined }),
      (error: Error) => ({ sum: undefined, error }),
    );
    let before = first.sum;
    if (!before) {
      const misfits = await declaredMisfits(c, described, declared, staged);
      const removed = misfits.length && staged.jsonChunks.length ? await removeMisfitRecords(staged, misfits, rejections) : 0;
      const named = misfits.map((m) => `column "${m.column}" (${m.type}): ${m.examples.join(', ')}`).join('; ');
      if (!removed) throw new InvalidInputError(`inputs do not fit the declared column types: ${named || first.error?.message}`, { cause: first.error });
      described = await stage();
      if (!described) return nothingLeft();
      projection = await projectionOf(c, described, declared);
      before = await checksum(c, projection).catch((e: Error) => {
        throw new InvalidInputError(`inputs do not fit the declared column types, even without ${removed} record(s): ${e.message}`, { cause: e });
      });
    }

    const hasSrc = described.some((d) => d.column_name === SRC);
    const fileRows = new Map<string, number>();
    if (hasSrc) {
      const counts = await c.runAndReadAll(`SELECT ${ident(SRC)} AS p, count(*) AS n FROM staged WHERE ${ident(SRC)} IS NOT NULL GROUP BY ALL`);
      for (const r of counts.getRowObjects()) fileRows.set(String(r.p), Number(r.n));
    }
    const names = new Set(described.filter((d) => d.column_name !== SRC).map((d) => d.column_name));
    for (const s of o.sortBy) {
      if (!names.has(s)) throw new ConfigurationError(`sort column "${s}" is not in the data (columns: ${[...names].join(', ')})`);
    }
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
      rejected: rejections.records,
      written: true,
    };
  } finally {
    c.closeSync();
    instance.closeSync();
    await rm(dbPath, { force: true });
    await rm(`${dbPath}.wal`, { force: true });
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
