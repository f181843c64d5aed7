/**
 * A run costs its work, not the table's age: swap and lifecycle read the pending index, never
 * every partition state. Exact request counts per step and per operation, equal for 10 and
 * 10,000 committed partitions.
 */
import { join } from 'node:path';
import { duckdbStepDeps } from '../../lambdas/adapters/duckdb-parquet-engine';
import { LocalCatalog } from '../../lambdas/adapters/local-catalog';
import { RequestCountingStore } from '../../lambdas/adapters/request-counting-store';
import type { BinItem } from '../../lambdas/core/contracts';
import { noRequests } from '../../lambdas/core/cost';
import { pendingPrefix, stateKey } from '../../lambdas/core/keys';
import { DEFAULT_ENGINE_SETTINGS } from '../../lambdas/core/settings';
import type { PartitionState } from '../../lambdas/core/state';
import { compactBin } from '../../lambdas/use-cases/compact-bin';
import { retireCompacted } from '../../lambdas/use-cases/lifecycle';
import { planRun } from '../../lambdas/use-cases/plan-run';
import { swapPlan } from '../../lambdas/use-cases/swap';
import { sensorFiles } from '../../local/generate';
import { MemoryStore } from '../../local/memory-store';
import { CountingCatalog } from '../helpers/counting-catalog';
import { putAll, useMemoryStore, visibleRows } from '../helpers/memory';
import { DAY, testSettings, usePipeline } from '../helpers/pipeline';
import { HookedStore, Script } from '../helpers/hooked-store';
import { rollbackPartition } from '../../lambdas/use-cases/rollback';
import { compareRows, rowsFromJsonLines } from '../helpers/rows';

const env = useMemoryStore('pending-index-test');
// A partition of fewer files than this waits for more: the new work is two files, the least a run compacts.
const settings = { ...testSettings, minInputFiles: 2 };

/** The i-th old partition: hours from 2020-01-01 on, far from the new file's. */
function oldPartition(i: number) {
  const dt = new Date(Date.parse('2020-01-01T00:00:00Z') + Math.floor(i / 24) * DAY).toISOString().slice(0, 10);
  const hour = String(i % 24).padStart(2, '0');
  return { path: `dt=${dt}/hour=${hour}`, values: { dt, hour } };
}

/**
 * `n` partitions committed long ago, in their stored format: verified, sources retired, nothing
 * superseded, the catalog pointing at them, and (so) no index entry.
 */
async function committedTable(store: MemoryStore, catalog: LocalCatalog, n: number) {
  const entries = [];
  for (let i = 0; i < n; i++) {
    const { path, values } = oldPartition(i);
    const location = `s3://gold/sensors/${path}/v=old${i}/`;
    const state: PartitionState = {
      table: 'sensors',
      partition: path,
      values,
      version: `old${i}`,
      location,
      planId: 'p-old',
      committedAt: '2021-01-01T00:00:00.000Z',
      verifiedAt: '2021-01-01T00:00:01.000Z',
      rows: 8,
      files: [{ key: `sensors/${path}/v=old${i}/part-b.parquet`, etag: '"e"', bytes: 1000, rows: 8 }],
      sources: [],
      superseded: [],
      schema: [{ name: 'device_id', type: 'string' }],
    };
    store.putObject('gold', stateKey('sensors', path), JSON.stringify(state));
    entries.push({ values: [values.dt, values.hour], location });
  }
  await catalog.putPartitions(entries);
}

/** plan, compact, swap and lifecycle of one run, each through its own counting store. */
async function countedRun(store: MemoryStore, catalog: CountingCatalog, graceDone = false) {
  const clock = env.clock;
  const steps = { plan: new RequestCountingStore(store), compact: new RequestCountingStore(store), swap: new RequestCountingStore(store), lifecycle: new RequestCountingStore(store) };
  const { output } = await planRun({ store: steps.plan, settings, clock }, { table: 'sensors' });
  const items = (await store.getJson<BinItem[]>('gold', output.itemsKey))!;
  const engine = { ...DEFAULT_ENGINE_SETTINGS, scratchDir: join(env.scratch, 'work'), fetchConcurrency: 4 };
  for (const item of items) await compactBin({ store: steps.compact, settings, engine, ...duckdbStepDeps(engine.scratchDir) }, item);
  const catalogBefore = catalog.snapshot();
  const swap = await swapPlan({ store: steps.swap, catalog, settings, clock }, output);
  const catalogSwap = catalog.since(catalogBefore);
  if (graceDone) clock.advance(4 * DAY);
  const lifecycleBefore = catalog.snapshot();
  const lifecycle = await retireCompacted({ store: steps.lifecycle, catalog, settings, clock });
  return {
    swap,
    lifecycle,
    bins: items.length,
    requests: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, v.counts])),
    catalog: { swap: catalogSwap, lifecycle: catalog.since(lifecycleBefore) },
  };
}

const none = noRequests();

describe('a run costs its work, not the table\'s age', () => {
  it.each([10, 10_000])('makes the same requests with %i committed partitions and one new partition of two files', async (n) => {
    const catalog = new CountingCatalog(new LocalCatalog());
    await committedTable(env.store, catalog.inner, n);
    const file = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 2, rowsPerFile: 4, seed: 5 });
    putAll(env.store, 'landing', file);

    const run = await countedRun(env.store, catalog);
    expect(run.bins).toBe(1);
    expect(run.swap).toMatchObject({ committed: 1, incomplete: 0, catalogUpdated: 1, catalogDrift: [] });
    expect(run.lifecycle).toEqual({ retired: 0, waiting: 2, unverified: [], changedAfterCommit: [], wouldRetire: [] });
    expect(run.requests).toEqual({
      // landing LIST, pending index LIST; the new partition's state (none yet), output ratios;
      // one bin spec, the plan and its items list
      plan: { ...none, LIST: 2, GET: 2, PUT: 3 },
      // as the estimate counts a bin (5 + its files): spec, earlier manifest and state, before the work and before the upload, the two inputs; output, manifest
      compact: { ...none, GET: 7, PUT: 2 },
      // plan, manifest (once), state (commit and verification), output ratios; output HEAD;
      // index entry, state, verification stamp, output ratios; one LIST of the index (the entry this run wrote is not read again)
      swap: { ...none, LIST: 1, GET: 5, HEAD: 1, PUT: 4 },
      // index LIST, the entry and its state; nothing due yet
      lifecycle: { ...none, LIST: 1, GET: 2 },
    });
    expect(run.catalog).toEqual({
      // columns; the partition's entry, created, then read back
      swap: { getColumns: 1, appendColumns: 1, getPartitions: 2, putPartitions: 1, partitionsRead: 2, partitionsWritten: 1 },
      lifecycle: { getColumns: 0, appendColumns: 0, getPartitions: 1, putPartitions: 0, partitionsRead: 1, partitionsWritten: 0 },
    });
    // The data: the new partition holds the file's records once; the old ones are untouched.
    const rows = file.flatMap((f) => rowsFromJsonLines(f.body));
    expect(compareRows(rows, await visibleRows(env.store, catalog.inner, ['2024-12-19', '14'], env.scratch))).toMatchObject({ lost: 0, extra: 0 });
    expect((await catalog.inner.getPartitions([['2020-01-01', '00']]))[0]?.location).toBe('s3://gold/sensors/dt=2020-01-01/hour=00/v=old0/');
    expect(env.store.keys('gold', pendingPrefix('sensors'))).toHaveLength(1);
  }, 120_000);
});


const P14 = 'dt=2024-12-19/hour=14';
const V14 = ['2024-12-19', '14'];
const seed = (n: number, files = 4) => sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: files, rowsPerFile: 4, seed: n });
const indexKeys = () => env.store.keys('gold', pendingPrefix('sensors'));
const crash = (what: string) => () => {
  throw new Error(`simulated crash ${what}`);
};

describe('the pending index', () => {
  it('keeps the work of a run that died between the index entry and the state commit, and retires it once after the grace', async () => {
    const script = new Script();
    const dying = usePipeline(new HookedStore(env.store, script, 'dying'), env.scratch, env.clock, settings);
    const files = seed(1);
    putAll(env.store, 'landing', files);
    script.on({ match: (c) => c.op === 'putJsonIf' && c.key === stateKey('sensors', P14), when: 'before', action: crash('before the state commit') });
    await expect(dying.run()).rejects.toThrow('simulated crash before the state commit');
    expect(indexKeys()).toHaveLength(1);
    expect(await dying.state(P14)).toBeUndefined();

    // Lifecycle keeps an entry whose commit may still be under way.
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    expect(await p.lifecycle()).toEqual({ retired: 0, waiting: 0, unverified: [], changedAfterCommit: [], wouldRetire: [] });
    expect(indexKeys()).toHaveLength(1);

    // The next run commits the same version; after the grace its sources go, exactly once, and so does the entry.
    env.clock.advance(3_600_000);
    await p.run();
    expect(await p.state(P14)).toMatchObject({ rows: 16, sources: files.map((f) => ({ key: f.key })) });
    env.clock.advance(4 * DAY);
    expect(await p.lifecycle()).toMatchObject({ retired: 4, waiting: 0 });
    expect(env.store.keys('landing', 'sensors/')).toEqual([]);
    expect(indexKeys()).toEqual([]);
    expect(await p.lifecycle()).toMatchObject({ retired: 0, waiting: 0 });
    const rows = files.flatMap((f) => rowsFromJsonLines(f.body));
    expect(compareRows(rows, await visibleRows(env.store, p.catalog, V14, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
  }, 60_000);

  it('drops an entry whose commit never happened only a day later', async () => {
    const script = new Script();
    const dying = usePipeline(new HookedStore(env.store, script, 'dying'), env.scratch, env.clock, settings);
    putAll(env.store, 'landing', seed(2));
    script.on({ match: (c) => c.op === 'putJsonIf' && c.key === stateKey('sensors', P14), when: 'before', action: crash('before the state commit') });
    await expect(dying.run()).rejects.toThrow('simulated crash');
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    env.clock.advance(DAY - 1);
    await p.lifecycle();
    expect(indexKeys()).toHaveLength(1);
    env.clock.advance(1);
    await p.lifecycle();
    expect(indexKeys()).toEqual([]);
    // The landing files are still there, and the next run plans and indexes them again.
    expect(env.store.keys('landing', 'sensors/')).toHaveLength(4);
    await p.run();
    expect(indexKeys()).toHaveLength(1);
  }, 60_000);

  it('repairs, from the index, the catalog of a partition committed by a run that died before its catalog update', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    putAll(env.store, 'landing', seed(3));
    const put = p.catalog.putPartitions.bind(p.catalog);
    p.catalog.putPartitions = crash('before the catalog update');
    await expect(p.run()).rejects.toThrow('simulated crash before the catalog update');
    p.catalog.putPartitions = put;
    expect(await p.state(P14)).toMatchObject({ rows: 16 });
    expect((await p.state(P14))!.verifiedAt).toBeUndefined();

    // A run with nothing to compact: its swap finds the partition in the index.
    const { output } = await p.plan();
    expect(output.bins).toBe(0);
    expect(await p.swap(output)).toMatchObject({ committed: 0, catalogUpdated: 1 });
    const st = (await p.state(P14))!;
    expect(st.verifiedAt).toBe(env.clock.now().toISOString());
    expect((await p.catalog.getPartitions([V14]))[0]?.location).toBe(st.location);
  }, 60_000);

  it('retires once when lifecycle dies between its state write and the entry\'s removal', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    putAll(env.store, 'landing', seed(4));
    await p.run();
    env.clock.advance(4 * DAY);
    const script = new Script();
    script.on({ match: (c) => c.op === 'deleteKeys' && c.key.startsWith(pendingPrefix('sensors')), when: 'before', action: crash('before removing the entry') });
    await expect(retireCompacted({ store: new HookedStore(env.store, script, 'dying'), catalog: p.catalog, settings, clock: env.clock })).rejects.toThrow('simulated crash before removing the entry');
    expect(env.store.keys('landing', 'sensors/')).toEqual([]);
    expect(indexKeys()).toHaveLength(1);
    const [entryKey] = indexKeys();
    const deletesBefore = env.store.events.filter((e) => e.op === 'delete').length;
    expect(await p.lifecycle()).toEqual({ retired: 0, waiting: 0, unverified: [], changedAfterCommit: [], wouldRetire: [] });
    // Only the entry went: nothing was deleted twice.
    expect(env.store.events.filter((e) => e.op === 'delete').slice(deletesBefore).map((e) => e.key)).toEqual([entryKey]);
    expect(indexKeys()).toEqual([]);
  }, 60_000);

  it('keeps the entry when a commit comes in between lifecycle\'s check and its removal', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    const first = seed(5);
    putAll(env.store, 'landing', first);
    await p.run();
    env.clock.advance(4 * DAY);
    const late = seed(6, 2).map((f) => ({ ...f, key: f.key.replace('reading-', 'late-') }));
    const script = new Script();
    // Lifecycle retired everything and is about to remove the entry: a second actor commits late files first.
    script.on({
      match: (c) => c.op === 'deleteKeys' && c.key.startsWith(pendingPrefix('sensors')),
      when: 'before',
      action: async () => {
        putAll(env.store, 'landing', late);
        await p.run();
      },
    });
    const out = await retireCompacted({ store: new HookedStore(env.store, script, 'lifecycle'), catalog: p.catalog, settings, clock: env.clock });
    expect(script.pending()).toBe(0);
    expect(out).toMatchObject({ retired: first.length, waiting: 0 });
    expect(indexKeys()).toHaveLength(1);
    const st = (await p.state(P14))!;
    expect(st.sources.map((x) => x.key).sort()).toEqual(late.map((f) => f.key).sort());
    // The late version's work is retired after its own grace, and the entry goes with it.
    env.clock.advance(4 * DAY);
    expect(await p.lifecycle()).toMatchObject({ retired: 2 + 1, waiting: 0 });
    expect(indexKeys()).toEqual([]);
    const rows = [...first, ...late].flatMap((f) => rowsFromJsonLines(f.body));
    expect(compareRows(rows, await visibleRows(env.store, p.catalog, V14, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
  }, 90_000);

  it('commits once and retires once when two runs swap the same plan at the same time', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    const files = seed(7);
    putAll(env.store, 'landing', files);
    const { output, items } = await p.plan();
    for (const item of items) await p.compact(item);
    const outcomes = await Promise.allSettled([p.swap(output), p.swap(output)]);
    const committed = outcomes.map((o) => (o.status === 'fulfilled' ? o.value.committed : o.reason.name));
    expect(committed.filter((c) => c === 1)).toHaveLength(1);
    expect(indexKeys()).toHaveLength(1);
    env.clock.advance(4 * DAY);
    expect(await p.lifecycle()).toMatchObject({ retired: 4, waiting: 0 });
    expect(await p.lifecycle()).toMatchObject({ retired: 0, waiting: 0 });
    expect(indexKeys()).toEqual([]);
  }, 60_000);

  it('keeps the index in step with a rollback: the rolled-back version retires after the grace and the entry goes with it', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    const first = seed(8);
    putAll(env.store, 'landing', first);
    await p.run();
    const v1 = (await p.state(P14))!.version;
    env.clock.advance(3_600_000);
    const late = seed(9, 2).map((f) => ({ ...f, key: f.key.replace('reading-', 'late-') }));
    putAll(env.store, 'landing', late);
    await p.run();
    const v2 = (await p.state(P14))!;
    expect(v2.version).not.toBe(v1);

    const rolled = await rollbackPartition({ store: env.store, catalog: p.catalog, settings, clock: env.clock }, P14, v1);
    expect(rolled.version).toBe(v1);
    const entry = await env.store.getJson<{ version: string }>('gold', indexKeys()[0]);
    expect(entry?.version).toBe(v1);
    env.clock.advance(4 * DAY);
    // v1's sources and the late files' version go; the late files stay in landing (v1 does not hold them).
    const out = await p.lifecycle();
    expect(out).toMatchObject({ retired: first.length + v2.files.length, waiting: 0, unverified: [] });
    expect(env.store.keys('landing', 'sensors/').sort()).toEqual(late.map((f) => f.key).sort());
    expect(indexKeys()).toEqual([]);
    expect(compareRows(first.flatMap((f) => rowsFromJsonLines(f.body)), await visibleRows(env.store, p.catalog, V14, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
  }, 90_000);
});
