import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { EngineOptions, EngineResult } from '../core/engine-contracts';
import { ConfigurationError, InvalidInputError, VerificationError } from '../core/errors';
import { namesProblem } from '../core/input-rules';
import { formatDuckType, parseDuckType } from '../core/schema';
import { Rejections, removeBadRecords, removeFlaggedRecords, removeIncompatibleObjects, removeMisfitRecords, removeRecordsWhere } from './bad-records';
import { parquetNames } from './duckdb-footers';
import {
  checkParquetTypes,
  chunksWithRecords,
  csvFiles,
  named,
  parquetFiles,
  removeCaseVariants,
  setAsideDisagreeingCsv,
  setAsideMisreadCsv,
  setAsideNegativeZeros,
  setAsideUnreadableCsv,
  setAsideUnreadableParquet,
} from './duckdb-set-aside';
import { checksum, csvRead, describe, freeName, ident, jsonRead, list, parquetWriteOptions, ROW, sqlString, type Described } from './duckdb-sql';
import { asReadFromJson, csvPartOf, declareAsText, partSelect, projectionOf, textTypes, unify, type Part } from './duckdb-types';
import { declaredMisfits, jsonCounts, partitionFields, roundedWideInts, verifyJson, verifyParquetRows } from './duckdb-verify';
import type { StagedInputs } from './fetch-inputs';

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
  // In memory, spilling to the scratch directory past the limit: a database file would compress
  // every staged block on write and decompress it on each read.
  const instance = await DuckDBInstance.create(':memory:', {
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
      if (why) staged.setFileAside(f, `not readable as CSV: its header is not a set of column names (${why})`);
    }
    const pqNames = await parquetNames(c, parquetFiles(staged));
    for (const f of parquetFiles(staged)) {
      const why = namesProblem(pqNames.get(f.path) ?? []);
      if (why) staged.setFileAside(f, `its columns cannot be table columns as they are: ${why}`);
      else if (o.dropRows?.get(f.source.key)?.length && pqNames.get(f.path)!.some((n) => n.toLowerCase() === ROW)) {
        staged.setFileAside(f, `a column is named "${ROW}", so the duplicates it repeats cannot be left out by position`);
      }
    }
    const topNames = json ? json.paths.childrenOf(0).map((id) => json.paths.name[id]) : [];
    const src = freeName('__compactor_src', [...topNames, ...csvFiles(staged).flatMap((f) => f.csv?.header ?? []), ...[...pqNames.values()].flat()]);
    const st: Staging = { src };

    // 3. Names that differ only by case: the spelling most records use stays, the others go to quarantine.
    await removeCaseVariants(c, staged, pqNames, rejections);

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
      const rounded = roundedWideInts(json, described);
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
    const csvPart = async () => (csvFiles(staged).length ? csvPartOf(c, src, declared) : undefined);
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
      const drops = files.flatMap((f) => (o.dropRows?.get(f.source.key) ?? []).map(([a, b]) => `(${ident(src)} = ${sqlString(f.path)} AND ${ident(ROW)} >= ${a} AND ${ident(ROW)} < ${b})`));
      const read = (fs: typeof files) => `read_parquet(${list(fs.map((f) => f.path))}, union_by_name=true, hive_partitioning=false, filename=${sqlString(src)}`;
      if (!drops.length) return void (await c.run(`CREATE TABLE parquet_raw AS SELECT * FROM ${read(files)})`));
      // DuckDB cannot add its row number to a file holding a column of that name: those files (never
      // trimmed ones, see step 2) are read on their own, so a neighbour's column does not fail the bin.
      const apart = files.filter((f) => pqNames.get(f.path)?.some((n) => n.toLowerCase() === ROW));
      const trimmed = `SELECT * EXCLUDE (${ident(ROW)}) FROM ${read(files.filter((f) => !apart.includes(f)))}, file_row_number=true) WHERE NOT (${drops.join(' OR ')})`;
      await c.run(`CREATE TABLE parquet_raw AS ${trimmed}${apart.length ? ` UNION ALL BY NAME SELECT * FROM ${read(apart)})` : ''}`);
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
      await verifyParquetRows(c, staged, src, o.dropRows);
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
    const stagedCols = await describe(c, 'staged');

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
    await rm(spill, { recursive: true, force: true });
  }
}
