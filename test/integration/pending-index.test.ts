/**
 * A run costs its work, not the table's age: swap and lifecycle read the pending index, never
 * every partition state. Exact request counts per step and per operation, equal for 10 and
 * 10,000 committed partitions.
 */
import { join } from 'node:path';
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
import { DAY, testSettings } from '../helpers/pipeline';
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
  for (const item of items) await compactBin({ store: steps.compact, settings, engine }, item);
  const catalogBefore = catalog.snapshot();
  const swap = await swapPlan({ store: steps.swap, catalog, settings, clock }, output);
  const catalogSwap = catalog.since(catalogBefore);
  if (graceDone) clock.advance(4 * DAY);
  const lifecycleBefore = catalog.snapshot();
  const lifecycle = await retireCompacted({ store: steps.lifecycle, catalog, settings, clock, graceMs: 3 * DAY });
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
      // as the estimate counts a bin (5 + its files): spec, earlier manifest and state, before the work and before the upload, the two inputs; output, manifest, the upload's size
      compact: { ...none, GET: 7, PUT: 2, HEAD: 1 },
      // plan, manifest (commit and schema), state (commit and verification); output HEAD;
      // index entry, state, verification stamp; one LIST of the index (the entry this run wrote is not read again)
      swap: { ...none, LIST: 1, GET: 5, HEAD: 1, PUT: 3 },
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

