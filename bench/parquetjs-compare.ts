/**
 * Why the engine is DuckDB: the same sensor rows (JSON Lines on local disk) written to one SNAPPY
 * Parquet file by parquetjs-lite (pure JavaScript, the writer the original design named) and by a
 * DuckDB COPY, next to the floor of reading and parsing the JSON in JavaScript, all in one run.
 *
 *   npm install --prefix /tmp/pqbench parquetjs-lite@0.8.7     # throwaway, not a project dependency
 *   PARQUETJS_DIR=/tmp/pqbench NODE_OPTIONS=--openssl-legacy-provider npx tsx bench/parquetjs-compare.ts [--rows 500000]
 *
 * Prints one line per writer (wall and CPU seconds, rows/s, MB/s of JSON in, file size) and what a
 * 512 MB output would need at each writer's speed, against Lambda's 15 minutes.
 */
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { sensorFiles } from '../local/generate';

interface Timed {
  wallS: number;
  cpuS: number;
}

async function timed(fn: () => Promise<void>): Promise<Timed> {
  const cpu = process.cpuUsage();
  const t = process.hrtime.bigint();
  await fn();
  const used = process.cpuUsage(cpu);
  return { wallS: Number(process.hrtime.bigint() - t) / 1e9, cpuS: (used.user + used.system) / 1e6 };
}

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

type Row = { device_id: string; ts: string; temperature: number; humidity: number; battery: number; seq: number };

async function main(): Promise<void> {
  const rows = arg('rows', 500_000);
  const dir = process.env.PARQUETJS_DIR;
  if (!dir) throw new Error('PARQUETJS_DIR must name a directory where parquetjs-lite is installed (see the header)');
  const parquet = createRequire(join(dir, 'package.json'))('parquetjs-lite') as {
    ParquetSchema: new (s: Record<string, unknown>) => unknown;
    ParquetWriter: { openFile(schema: unknown, path: string, opts?: Record<string, unknown>): Promise<{ appendRow(r: unknown): Promise<void>; close(): Promise<void> }> };
  };
  const work = await mkdtemp(join(tmpdir(), 'parquetjs-compare-'));
  try {
    const input = join(work, 'rows.jsonl');
    const perFile = 10_000;
    const files = sensorFiles({ prefix: 'b/', hours: ['2024-12-19/14'], filesPerHour: Math.ceil(rows / perFile), rowsPerFile: perFile, seed: 42 });
    await writeFile(input, files.map((f) => f.body).join(''));
    const inBytes = (await stat(input)).size;
    const parse = async (each: (r: Row) => Promise<void> | void) => {
      const text = await readFile(input, 'utf8');
      for (const line of text.split('\n')) if (line) await each(JSON.parse(line) as Row);
    };

    const floor = await timed(() => parse(() => undefined));

    const pjPath = join(work, 'parquetjs.parquet');
    const schema = new parquet.ParquetSchema({
      device_id: { type: 'UTF8', compression: 'SNAPPY' },
      ts: { type: 'TIMESTAMP_MILLIS', compression: 'SNAPPY' },
      temperature: { type: 'DOUBLE', compression: 'SNAPPY' },
      humidity: { type: 'DOUBLE', compression: 'SNAPPY' },
      battery: { type: 'INT64', compression: 'SNAPPY' },
      seq: { type: 'INT64', compression: 'SNAPPY' },
    });
    const pj = await timed(async () => {
      const w = await parquet.ParquetWriter.openFile(schema, pjPath);
      await parse((r) => w.appendRow({ ...r, ts: new Date(r.ts) }));
      await w.close();
    });

    const dkPath = join(work, 'duckdb.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const dk = await timed(() =>
      c.run(
        `COPY (SELECT * FROM read_json('${input}', format = 'newline_delimited', columns = {device_id: 'VARCHAR', ts: 'TIMESTAMPTZ', temperature: 'DOUBLE', humidity: 'DOUBLE', battery: 'BIGINT', seq: 'BIGINT'}))
         TO '${dkPath}' (FORMAT parquet, COMPRESSION snappy)`,
      ).then(() => undefined),
    );
    const [check] = (await c.runAndReadAll(`SELECT (SELECT count(*) FROM '${pjPath}')::INT AS pj, (SELECT count(*) FROM '${dkPath}')::INT AS dk`)).getRowObjects() as Array<{ pj: number; dk: number }>;
    c.closeSync();
    if (check.pj !== rows || check.dk !== rows) throw new Error(`row counts differ: parquetjs-lite ${check.pj}, duckdb ${check.dk}, generated ${rows}`);

    const MB = 1024 * 1024;
    const line = (name: string, t: Timed, bytes?: number) =>
      `${name}: ${rows} rows in ${t.wallS.toFixed(2)} s wall, ${t.cpuS.toFixed(2)} s CPU: ${Math.round(rows / t.wallS).toLocaleString('en-US')} rows/s, ${(inBytes / MB / t.wallS).toFixed(1)} MB/s of JSON in` +
      (bytes !== undefined ? `; ${(bytes / MB).toFixed(1)} MB Parquet (${(bytes / rows).toFixed(1)} B/row)` : '');
    const pjBytes = (await stat(pjPath)).size;
    const dkBytes = (await stat(dkPath)).size;
    console.log(`input: ${rows} sensor rows, ${(inBytes / MB).toFixed(1)} MB of JSON Lines`);
    console.log(line('floor (read + JSON.parse in JS)', floor));
    console.log(line('parquetjs-lite 0.8.7 SNAPPY', pj, pjBytes));
    console.log(line('duckdb COPY SNAPPY', dk, dkBytes));
    // A 512 MB output at each writer's own bytes per row and speed.
    for (const [name, t, bytes] of [['parquetjs-lite', pj, pjBytes], ['duckdb', dk, dkBytes]] as const) {
      const need = (512 * MB) / (bytes / rows);
      // CPU seconds too: on a shared machine wall time mostly measures the neighbours.
      console.log(`512 MB output with ${name}: ${(need / 1e6).toFixed(1)} M rows, ${Math.round((need / rows) * t.wallS)} s wall, ${Math.round((need / rows) * t.cpuS)} s CPU at this run's speed (Lambda limit 900 s)`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
