import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { putFiles, sensorFiles } from '../../local/generate';
import { rollbackPartition } from '../../lambdas/use-cases/rollback';
import { DAY, ManualClock, testSettings, usePipeline } from '../helpers/pipeline';
import { useLoopback } from '../helpers/loopback';
import { allKeys, compareRows, rowsFromJsonLines, rowsFromParquetObjects } from '../helpers/rows';

const env = useLoopback('each', 'commit-test');

const P14 = 'dt=2024-12-19/hour=14';
const P15 = 'dt=2024-12-19/hour=15';
const seed = (seedNo: number, hours = ['2024-12-19/14', '2024-12-19/15'], filesPerHour = 12) =>
  sensorFiles({ prefix: 'sensors/', hours, filesPerHour, rowsPerFile: 4, seed: seedNo });

/** Rows the catalog shows for a partition, read from the files of the version it points at. */
async function visibleRows(p: ReturnType<typeof usePipeline>, values: string[]) {
  const [entry] = await p.catalog.getPartitions([values]);
  if (!entry) return [];
  const prefix = entry.location.replace('s3://gold/', '');
  const keys = (await allKeys(env.s3.client, 'gold', prefix)).map((o) => o.key).filter((k) => k.endsWith('.parquet'));
  return rowsFromParquetObjects(env.s3.client, 'gold', keys, env.scratch);
}

describe('commit protocol', () => {
  it('points the catalog at verified versions, and a rerun changes nothing', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const files = seed(1);
    await putFiles(env.s3.client, 'landing', files);
    const first = await p.run();
    expect(first.swap).toEqual({
      committed: 2,
      unchanged: 0,
      incomplete: 0,
      incompletePartitions: [],
      catalogUpdated: 2,
      // The test catalog starts without columns: the data's are appended in order.
      columnsAdded: ['device_id string', 'ts timestamp', 'temperature double', 'humidity double', 'battery bigint', 'seq bigint'],
      schemaConflicts: [],
      kafkaGaps: [],
      catalogDrift: [],
      rewrittenSources: [],
    });
    const st = (await p.state(P14))!;
    expect(st.location).toBe(`s3://gold/sensors/${P14}/v=${st.version}/`);
    expect(await p.catalog.all()).toEqual([
      { values: ['2024-12-19', '14'], location: st.location },
      { values: ['2024-12-19', '15'], location: (await p.state(P15))!.location },
    ]);
    const expected14 = files.filter((f) => f.key.includes('hour=14')).flatMap((f) => rowsFromJsonLines(f.body));
    expect(compareRows(expected14, await visibleRows(p, ['2024-12-19', '14']))).toMatchObject({ lost: 0, extra: 0 });

    // Same landing zone again: nothing to plan; swapping the old plan again is a no-op.
    const again = await p.plan();
    expect(again.items).toEqual([]);
    expect(await p.swap(first.output)).toEqual({ committed: 0, unchanged: 2, incomplete: 0, incompletePartitions: [], catalogUpdated: 0, columnsAdded: [], schemaConflicts: [], kafkaGaps: [], catalogDrift: [], rewrittenSources: [] });
    expect((await p.state(P14))!.version).toBe(st.version);
  });

  it('adds late files as a new version holding old and new rows exactly once, before and after retirement', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const files = seed(2, ['2024-12-19/14']);
    await putFiles(env.s3.client, 'landing', files);
    await p.run();
    const v1 = (await p.state(P14))!;

    const late = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 2, rowsPerFile: 3, seed: 99 }).map((f) => ({ ...f, key: f.key.replace('reading-', 'late-') }));
    await putFiles(env.s3.client, 'landing', late);
    clock.advance(3_600_000);
    const second = await p.run();
    expect(second.items.map((i) => i.inputFiles)).toEqual([3]); // v1's one gold file + two late files
    const v2 = (await p.state(P14))!;
    expect(v2.version).not.toBe(v1.version);
    expect(v2.superseded.map((s) => s.version)).toEqual([v1.version]);
    const all = [...files, ...late].flatMap((f) => rowsFromJsonLines(f.body));
    expect(compareRows(all, await visibleRows(p, ['2024-12-19', '14']))).toMatchObject({ lost: 0, extra: 0 });
    expect(v2.rows).toBe(all.length);

    // Grace over: sources and v1 retired; then more late data still lands on top of v2's rows.
    clock.advance(4 * DAY);
    const retired = await p.lifecycle();
    expect(retired.retired).toBe(files.length + late.length + v1.files.length);
    expect((await allKeys(env.s3.client, 'landing', 'sensors/')).length).toBe(0);
    const later = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 1, rowsPerFile: 2, seed: 7 }).map((f) => ({ ...f, key: f.key.replace('reading-', 'later-') }));
    await putFiles(env.s3.client, 'landing', later);
    await p.run();
    const final = [...all, ...later.flatMap((f) => rowsFromJsonLines(f.body))];
    expect(compareRows(final, await visibleRows(p, ['2024-12-19', '14']))).toMatchObject({ lost: 0, extra: 0 });
  });

  it('retires nothing before the grace period, and dry-run only lists', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const files = seed(3, ['2024-12-19/14']);
    await putFiles(env.s3.client, 'landing', files);
    await p.run();
    clock.advance(3 * DAY - 60_000);
    expect(await p.lifecycle()).toMatchObject({ retired: 0, waiting: files.length });
    clock.advance(120_000);
    const dry = await p.lifecycle(true);
    expect(dry.retired).toBe(0);
    expect(dry.wouldRetire).toHaveLength(files.length);
    expect(dry.wouldRetire[0]).toMatch(/^s3:\/\/landing\/sensors\/dt=2024-12-19\/hour=14\/reading-/);
    expect((await allKeys(env.s3.client, 'landing', 'sensors/')).length).toBe(files.length);
    expect((await p.lifecycle()).retired).toBe(files.length);
  });

  it('never retires sources of a partition whose catalog entry is not verified', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const files = seed(4, ['2024-12-19/14']);
    await putFiles(env.s3.client, 'landing', files);
    await p.run();
    await p.catalog.putPartitions([{ values: ['2024-12-19', '14'], location: 's3://landing/sensors/dt=2024-12-19/hour=14/' }]);
    clock.advance(10 * DAY);
    expect(await p.lifecycle()).toMatchObject({ retired: 0, unverified: [P14] });
    expect((await allKeys(env.s3.client, 'landing', 'sensors/')).length).toBe(files.length);
  });

  it('keeps a landing key that was rewritten after its commit', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const files = seed(5, ['2024-12-19/14'], 6);
    await putFiles(env.s3.client, 'landing', files);
    await p.run();
    await env.s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key: files[0].key, Body: '{"device_id":"x","seq":1}\n' }));
    clock.advance(4 * DAY);
    const out = await p.lifecycle();
    expect(out.changedAfterCommit).toEqual([files[0].key]);
    expect((await allKeys(env.s3.client, 'landing', 'sensors/')).map((o) => o.key)).toEqual([files[0].key]);
  });

  it('lets a stale run lose the race with a clear error and change nothing', async () => {
    const clock = new ManualClock();
    const a = usePipeline(env.store, env.scratch, clock);
    const b = usePipeline(env.store, env.scratch, clock);
    b.catalog.putPartitions = a.catalog.putPartitions.bind(a.catalog);
    b.catalog.getPartitions = a.catalog.getPartitions.bind(a.catalog);
    await putFiles(env.s3.client, 'landing', seed(6, ['2024-12-19/14']));
    const planA = await a.plan();
    await putFiles(env.s3.client, 'landing', sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 5, rowsPerFile: 1, seed: 8 }).map((f) => ({ ...f, key: f.key.replace('reading-', 'b-') })));
    const planB = await b.plan();
    expect(planB.output.planId).not.toBe(planA.output.planId);
    for (const i of planB.items) await b.compact(i);
    await b.swap(planB.output);
    const committed = await a.state(P14);
    for (const i of planA.items) await a.compact(i);
    await expect(a.swap(planA.output)).rejects.toMatchObject({
      name: 'ConcurrentCommitError',
      message: `1 partition(s) were committed by another run and left as they are: ${P14} is at version ${committed!.version}, but this plan was built on none`,
    });
    expect(await a.state(P14)).toEqual(committed);
    expect((await a.catalog.all())[0].location).toBe(committed!.location);
  });

  it('fails a bin whose source was overwritten after planning, and commits nothing for it', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const files = seed(9, ['2024-12-19/14']);
    await putFiles(env.s3.client, 'landing', files);
    const { output, items } = await p.plan();
    await env.s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key: files[3].key, Body: '{"device_id":"changed"}\n' }));
    await expect(p.compact(items[0])).rejects.toMatchObject({ name: 'SourceChangedError' });
    await expect(p.compact(items[0])).rejects.toThrow(`s3://landing/${files[3].key} changed after planning`);
    expect(await p.swap(output)).toMatchObject({ committed: 0, incomplete: 1, incompletePartitions: [`${P14}: bin ${items[0].binId} has no verified output`] });
    expect(await p.catalog.all()).toEqual([]);
    expect(await p.state(P14)).toBeUndefined();
  });

  it('never commits a version whose bins were removed between compaction and swap', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    await putFiles(env.s3.client, 'landing', seed(10, ['2024-12-19/14']));
    const { output, items } = await p.plan();
    const out = await p.compact(items[0]);
    await env.s3.client.send(new DeleteObjectCommand({ Bucket: 'gold', Key: out.outputKey }));
    expect(await p.swap(output)).toMatchObject({ committed: 0, incomplete: 1, incompletePartitions: [`${P14}: output ${out.outputKey} is missing or has the wrong size`] });
    expect(await p.catalog.all()).toEqual([]);
  });

  it('rolls a partition back to an earlier version; the newer sources are planned again, never retired', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const files = seed(12, ['2024-12-19/14'], 6);
    await putFiles(env.s3.client, 'landing', files);
    await p.run();
    const v1 = (await p.state(P14))!;
    clock.advance(3_600_000);
    const late = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 2, rowsPerFile: 3, seed: 5 }).map((f) => ({ ...f, key: f.key.replace('reading-', 'late-') }));
    await putFiles(env.s3.client, 'landing', late);
    await p.run();
    const v2 = (await p.state(P14))!;
    clock.advance(3_600_000);

    await expect(rollbackPartition({ store: env.store, catalog: p.catalog, settings: testSettings, clock }, P14, 'nope')).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: `partition ${P14} has no earlier version nope; current ${v2.version}, still available: ${v1.version} (committed ${v1.committedAt})`,
    });
    const rolled = await rollbackPartition({ store: env.store, catalog: p.catalog, settings: testSettings, clock }, P14, v1.version);
    expect(rolled.location).toBe(v1.location);
    expect((await p.catalog.all())[0].location).toBe(v1.location);
    const old = files.flatMap((f) => rowsFromJsonLines(f.body));
    expect(compareRows(old, await visibleRows(p, ['2024-12-19', '14']))).toMatchObject({ lost: 0, extra: 0 });

    // Grace over: v1's own sources may go, the late ones (not in v1) must stay.
    clock.advance(4 * DAY);
    await p.lifecycle();
    expect((await allKeys(env.s3.client, 'landing', 'sensors/')).map((o) => o.key).sort()).toEqual(late.map((f) => f.key).sort());
    // The next run adds them back on top of v1, once.
    await p.run();
    const all = [...old, ...late.flatMap((f) => rowsFromJsonLines(f.body))];
    expect(compareRows(all, await visibleRows(p, ['2024-12-19', '14']))).toMatchObject({ lost: 0, extra: 0 });
  });

  it('leaves a file that lands during compaction for the next run, uncovered and never retired meanwhile', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const files = seed(13, ['2024-12-19/14'], 6);
    await putFiles(env.s3.client, 'landing', files);
    const { output, items } = await p.plan();
    const during = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 1, rowsPerFile: 3, seed: 77 }).map((f) => ({ ...f, key: f.key.replace('reading-', 'during-') }));
    await putFiles(env.s3.client, 'landing', during);
    for (const i of items) await p.compact(i);
    await p.swap(output);
    const st = (await p.state(P14))!;
    expect(st.sources.map((x) => x.key)).not.toContain(during[0].key);
    clock.advance(4 * DAY);
    await p.lifecycle();
    expect((await allKeys(env.s3.client, 'landing', 'sensors/')).map((o) => o.key)).toEqual([during[0].key]);
    await p.run();
    const all = [...files, ...during].flatMap((f) => rowsFromJsonLines(f.body));
    expect(compareRows(all, await visibleRows(p, ['2024-12-19', '14']))).toMatchObject({ lost: 0, extra: 0 });
  });

  it('appends a new field of late data to the table schema, keeping the old columns in place', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    await putFiles(env.s3.client, 'landing', seed(14, ['2024-12-19/14'], 6));
    await p.run();
    const before = await p.catalog.getColumns();
    const late = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 2, rowsPerFile: 3, seed: 15 }).map((f) => ({
      key: f.key.replace('reading-', 'fw-'),
      body: f.body.split('\n').filter(Boolean).map((l) => JSON.stringify({ ...JSON.parse(l), firmware: 'v2.1' })).join('\n') + '\n',
    }));
    await putFiles(env.s3.client, 'landing', late);
    clock.advance(3_600_000);
    const { swap } = await p.run();
    expect(swap).toMatchObject({ committed: 1, columnsAdded: ['firmware string'], schemaConflicts: [] });
    expect(await p.catalog.getColumns()).toEqual([...before, { name: 'firmware', type: 'string' }]);
  });

  it('never commits an empty version: a partition of blank files stays as it was', async () => {
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (let i = 0; i < 5; i++) {
      await env.s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key: `sensors/dt=2024-12-19/hour=14/blank-${i}.json`, Body: Buffer.from('\n  \n\r\n') }));
    }
    const { output, items } = await p.plan();
    expect(await p.compact(items[0])).toMatchObject({ inputRows: 0, outputRows: 0 });
    expect(await p.swap(output)).toMatchObject({
      committed: 0,
      incomplete: 1,
      incompletePartitions: [`${P14}: version holds no rows; an empty version never replaces data`],
    });
    expect(await p.catalog.all()).toEqual([]);
    expect(await p.state(P14)).toBeUndefined();
  });
});
