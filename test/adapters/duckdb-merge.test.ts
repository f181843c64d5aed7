import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { mergeParquet } from '../../lambdas/adapters/duckdb-merge';

const options = { compression: 'snappy' as const, rowGroupBytes: 64 * 1024 * 1024, memoryLimitMb: 512, threads: 1, sortBy: [] };

describe('mergeParquet', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'merge-adapter-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  async function writeInputs(column: string): Promise<Array<{ path: string; rows: number }>> {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const inputs = [];
    for (let f = 0; f < 3; f++) {
      const path = join(dir, `${column}-${f}.parquet`);
      await c.run(`COPY (SELECT ${f} * 100 + i AS id, i AS "${column}" FROM range(10) t(i)) TO '${path}' (FORMAT parquet)`);
      inputs.push({ path, rows: 10 });
    }
    c.closeSync();
    return inputs;
  }

  async function idsOf(paths: readonly string[]): Promise<number[][]> {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const out = [];
    for (const p of paths) out.push((await c.runAndReadAll(`SELECT id FROM read_parquet('${p}') ORDER BY id`)).getRowObjects().map((r) => Number(r.id)));
    c.closeSync();
    return out;
  }

  const every = [...[0, 1, 2].flatMap((f) => Array.from({ length: 10 }, (_, i) => f * 100 + i))];

  it('splits rows by position across the outputs, each row once', async () => {
    const outs = [join(dir, 'plain-0.parquet'), join(dir, 'plain-1.parquet')];
    const merged = await mergeParquet(await writeInputs('reading'), outs, dir, options);
    expect(merged.map((m) => m.rows)).toEqual([15, 15]);
    expect((await idsOf(outs)).flat().sort((a, b) => a - b)).toEqual(every);
  });

  it('keeps whole files together when a field is named like the row-number column, each row once', async () => {
    const outs = [join(dir, 'frn-0.parquet'), join(dir, 'frn-1.parquet')];
    const merged = await mergeParquet(await writeInputs('file_row_number'), outs, dir, options);
    // Files start at rows 0, 10 and 20: the first two start in output 0's half, the third in output 1's.
    expect(merged.map((m) => m.rows)).toEqual([20, 10]);
    const ids = await idsOf(outs);
    expect(ids.flat().sort((a, b) => a - b)).toEqual(every);
    expect(merged.every((m) => m.schema.some((col) => col.name === 'file_row_number'))).toBe(true);
  });
});
