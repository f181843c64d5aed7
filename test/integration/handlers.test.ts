/**
 * The swap, lifecycle and report handlers called through `makeHandler` with fakes (the in-memory
 * S3, a local catalog, a manual clock): input checks at the edge, one use-case, a metered result.
 */
import { duckdbStepDeps } from '../../lambdas/adapters/duckdb-parquet-engine';
import { join } from 'node:path';
import { LocalCatalog } from '../../lambdas/adapters/local-catalog';
import { RequestCountingStore } from '../../lambdas/adapters/request-counting-store';
import type { ObjectStore } from '../../lambdas/core/ports';
import { logger } from '../../lambdas/adapters/logger';
import type { BinItem, Metered, PlanOutput } from '../../lambdas/core/contracts';
import { US_EAST_1_PRICES } from '../../lambdas/core/cost';
import { reportKey } from '../../lambdas/core/keys';
import { DEFAULT_ENGINE_SETTINGS } from '../../lambdas/core/settings';
import { makeHandler as compactHandler } from '../../lambdas/handlers/compact';
import { makeHandler as lifecycleHandler } from '../../lambdas/handlers/lifecycle';
import { makeHandler as planHandler } from '../../lambdas/handlers/plan';
import { makeHandler as reportHandler } from '../../lambdas/handlers/report';
import { makeHandler as swapHandler } from '../../lambdas/handlers/swap';
import { sensorFiles } from '../../local/generate';
import { putAll, useMemoryStore } from '../helpers/memory';
import { testSettings } from '../helpers/pipeline';

logger.setLogLevel('ERROR');

const env = useMemoryStore('handlers-test');
const settings = testSettings;
const none = { LIST: 0, GET: 0, PUT: 0, COPY: 0, DELETE: 0, HEAD: 0 };
const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:sm:run-1';

function handlers(store: ObjectStore = env.store, catalog = new LocalCatalog()) {
  const emf = (d: string) => void docs.push(JSON.parse(d) as Record<string, unknown>);
  const docs: Array<Record<string, unknown>> = [];
  const base = { store, settings, clock: env.clock, emf };
  return {
    docs,
    catalog,
    plan: planHandler({ ...base, executions: { isRunning: async () => false }, fn: { step: 'plan', memoryMb: 1024 } }),
    compact: compactHandler({ ...base, engine: { ...DEFAULT_ENGINE_SETTINGS, scratchDir: join(env.scratch, 'work') }, ...duckdbStepDeps(join(env.scratch, 'work'), env.clock), fn: { step: 'compact', memoryMb: 4096 } }),
    swap: swapHandler({ ...base, catalog, fn: { step: 'swap', memoryMb: 512 } }),
    lifecycle: lifecycleHandler({ ...base, catalog, fn: { step: 'lifecycle', memoryMb: 512 } }),
    report: reportHandler({ ...base, prices: US_EAST_1_PRICES, fn: { step: 'report', memoryMb: 512 } }),
  };
}

describe('handlers with fakes', () => {
  it('swaps a compacted plan, retires nothing inside the grace, and reports the run', async () => {
    const h = handlers();
    putAll(env.store, 'landing', sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 6, rowsPerFile: 4, seed: 8 }));
    const plan = (await h.plan({ request: { table: 'sensors' }, executionId: EXECUTION })) as Metered<PlanOutput>;
    const [item] = (await env.store.getJson<BinItem[]>('gold', plan.itemsKey))!;
    await h.compact(item);

    const swap = await h.swap({ plan });
    expect(swap).toMatchObject({ committed: 1, unchanged: 0, incomplete: 0, catalogUpdated: 1, catalogDrift: [] });
    // GET: the plan, the manifest, the state at its commit, the state again to stamp it, the ratios;
    // PUT: the pending index entry, the state, its stamp, the ratios; LIST: the pending index
    expect(swap.usage.requests).toEqual({ ...none, LIST: 1, GET: 5, HEAD: 1, PUT: 4 });
    expect((await h.catalog.all()).map((e) => e.location)).toEqual([`s3://gold/sensors/dt=2024-12-19/hour=14/v=${item.version}/`]);

    const lifecycle = await h.lifecycle({ table: 'sensors' });
    expect(lifecycle).toMatchObject({ retired: 0, waiting: 6 });
    expect(env.store.keys('landing', 'sensors/')).toHaveLength(6);

    const report = await h.report({ state: { plan, swap, lifecycle }, executionId: EXECUTION, startedAt: env.clock.now().toISOString() });
    expect(report).toMatchObject({ reportBucket: 'gold', reportKey: reportKey('sensors', EXECUTION) });
    expect(await env.store.getJson(report.reportBucket, report.reportKey)).toMatchObject({ table: 'sensors', executionId: EXECUTION });
    expect(h.docs.find((d) => 'PartitionsCommitted' in d)).toMatchObject({ table: 'sensors', PartitionsCommitted: 1 });
  });

  it.each<[string, 'swap' | 'lifecycle' | 'report', unknown, string]>([
    ['swap without a plan', 'swap', {}, 'swap input field "plan" must be an object, got undefined'],
    ['swap with a plan without its key', 'swap', { plan: { planId: 'p', planBucket: 'gold' } }, 'swap input field "plan" field "planKey" must be a string, got undefined'],
    ['lifecycle of another table', 'lifecycle', { table: 'orders' }, 'lifecycle input table "orders" is not this pipeline\'s table "sensors"'],
    ['lifecycle that is not an object', 'lifecycle', 'sensors', 'lifecycle input must be an object, got "sensors"'],
    ['report without its execution', 'report', { state: {}, startedAt: '2024-12-20T12:00:00Z' }, 'report input field "executionId" must be a string, got undefined'],
  ])('refuses %s before any request', async (_, step, event, message) => {
    const store = new RequestCountingStore(env.store);
    const h = handlers(store);
    await expect(h[step](event)).rejects.toMatchObject({ name: 'InvalidInputError', message });
    expect(store.counts).toEqual(none);
  });
});
