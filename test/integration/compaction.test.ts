import { join } from 'node:path';
import { duckdbStepDeps } from '../../lambdas/adapters/duckdb-parquet-engine';
import type { BinItem, BinManifest } from '../../lambdas/core/contracts';
import { SYSTEM_PREFIX } from '../../lambdas/core/keys';
import { DEFAULT_ENGINE_SETTINGS } from '../../lambdas/core/settings';
import { compactBin } from '../../lambdas/use-cases/compact-bin';
import { planRun } from '../../lambdas/use-cases/plan-run';
import { putFiles, sensorFiles } from '../../local/generate';
import { useLoopback } from '../helpers/loopback';
import { testSettings } from '../helpers/pipeline';
import { allKeys, compareRows, rowsFromJsonLines, rowsFromParquetObjects } from '../helpers/rows';

const settings = testSettings;

const env = useLoopback('all', 'compact-test');

const engine = () => ({ ...DEFAULT_ENGINE_SETTINGS, scratchDir: join(env.scratch, 'work'), fetchConcurrency: 16 });
const deps = () => ({ store: env.store, settings, engine: engine(), ...duckdbStepDeps(engine().scratchDir) });

async function compactAll(items: BinItem[]) {
  const out = [];
  for (const item of items) out.push(await compactBin(deps(), item));
  return out;
}

describe('plan and compact against a loopback S3 server', () => {
  // 1,200 files in one partition (past the 1,000-key listing page) and two smaller partitions.
  const files = [
    ...sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 1200, rowsPerFile: 3, seed: 1 }),
    ...sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/15', '2024-12-20/00'], filesPerHour: 40, rowsPerFile: 5, seed: 2 }),
  ];
  const noise = [
    { key: 'sensors/dt=2024-12-19/hour=14/_SUCCESS', body: '' },
    { key: 'sensors/dt=2024-12-19/hour=14/part.json.crc', body: 'crc' },
    { key: 'sensors/dt=2024-12-19/hour=14/_temporary/0/x.json', body: '{"a":1}\n' },
    { key: 'sensors/dt=2024-12-19/hour=14/empty.json', body: '' },
  ];
  const expected = files.flatMap((f) => rowsFromJsonLines(f.body));
  let items: BinItem[];

  beforeAll(async () => {
    await putFiles(env.s3.client, 'landing', [...files, ...noise]);
    const { output, report } = await planRun({ store: env.store, settings, clock: { now: () => new Date() } }, { table: 'sensors' });
    expect(output.inputFiles).toBe(files.length);
    expect(report.skipped['marker-file']).toBe(1);
    expect(report.skipped['checksum-file']).toBe(1);
    expect(report.skipped['temporary-file']).toBe(1);
    expect(report.skipped['empty-object']).toBe(1);
    items = (await env.store.getJson<BinItem[]>('gold', output.itemsKey))!;
  });

  it('writes every input row exactly once, one Parquet file per partition', async () => {
    expect(items.map((i) => [i.partition, i.inputFiles])).toEqual([
      ['dt=2024-12-19/hour=14', 1200],
      ['dt=2024-12-19/hour=15', 40],
      ['dt=2024-12-20/hour=00', 40],
    ]);
    const results = await compactAll(items);
    expect(results.map((r) => r.outputRows)).toEqual([3600, 200, 200]);

    const outputs = (await allKeys(env.s3.client, 'gold', 'sensors/')).map((o) => o.key);
    expect(outputs).toHaveLength(3);
    for (const r of results) expect(outputs).toContain(r.outputKey);
    expect(results[0].outputKey).toMatch(/^sensors\/dt=2024-12-19\/hour=14\/v=[0-9a-f]{16}\/part-[0-9a-f]{16}\.parquet$/);

    const actual = await rowsFromParquetObjects(env.s3.client, 'gold', outputs, env.scratch);
    expect(compareRows(expected, actual)).toMatchObject({ lost: 0, extra: 0 });
    expect(actual).toHaveLength(expected.length);
  });

  it('records a manifest with per-input rows, output schema and a matching checksum', async () => {
    const m = (await env.store.getJson<BinManifest>('gold', (await compactBin(deps(), items[1])).manifestKey))!;
    expect(m.inputs).toHaveLength(40);
    expect(m.inputs.every((i) => i.rows === 5 && i.etag.length > 0)).toBe(true);
    expect(m.output.rows).toBe(200);
    expect(m.output.schema).toEqual([
      { name: 'device_id', type: 'VARCHAR' },
      { name: 'ts', type: 'TIMESTAMP WITH TIME ZONE' },
      { name: 'temperature', type: 'DOUBLE' },
      { name: 'humidity', type: 'DOUBLE' },
      { name: 'battery', type: 'BIGINT' },
      { name: 'seq', type: 'BIGINT' },
    ]);
    expect(m.output.checksum).toMatch(/^-?\d+$/);
  });

  it('keeps the same file when a bin is compacted again after its manifest was lost, never duplicating rows', async () => {
    // This test compacts its own bin: it passes alone and after the others.
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    const first = await compactBin(deps(), items[2]);
    const before = (await allKeys(env.s3.client, 'gold', 'sensors/dt=2024-12-20/')).map((o) => o.key);
    expect(before).toEqual([first.outputKey]);
    const etag = (await env.store.head('gold', first.outputKey))!.etag;
    // Drop the manifest so the rerun really recompacts rather than reusing the verified output.
    await env.s3.client.send(new DeleteObjectCommand({ Bucket: 'gold', Key: first.manifestKey }));
    const again = await compactBin(deps(), items[2]);
    expect(again).toEqual(first);
    expect((await env.store.getJson<BinManifest>('gold', first.manifestKey))!.output).toMatchObject({ key: first.outputKey, rows: 200, etag });
    expect((await allKeys(env.s3.client, 'gold', 'sensors/dt=2024-12-20/')).map((o) => o.key)).toEqual(before);
    expect((await env.store.head('gold', first.outputKey))!.etag).toBe(etag);
    const bin = files.filter((f) => f.key.startsWith('sensors/dt=2024-12-20/hour=00/')).flatMap((f) => rowsFromJsonLines(f.body));
    const actual = await rowsFromParquetObjects(env.s3.client, 'gold', before, env.scratch);
    expect(bin).toHaveLength(200);
    expect(compareRows(bin, actual)).toMatchObject({ lost: 0, extra: 0 });
    expect(actual).toHaveLength(200);
  });

  it('plans the same listing into the same plan id and bin ids', async () => {
    const again = await planRun({ store: env.store, settings, clock: { now: () => new Date() } }, { table: 'sensors' });
    const items2 = (await env.store.getJson<BinItem[]>('gold', again.output.itemsKey))!;
    expect(items2.map((i) => i.binId)).toEqual(items.map((i) => i.binId));
    expect(again.output.planId).toBe(items[0].planId);
    expect((await allKeys(env.s3.client, 'gold', SYSTEM_PREFIX)).length).toBeGreaterThan(0);
  });
});
