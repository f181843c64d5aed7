import { join } from 'node:path';
import { duckdbStepDeps } from '../../lambdas/adapters/duckdb-parquet-engine';
import { LocalCatalog } from '../../lambdas/adapters/local-catalog';
import type { BinItem, PlanOutput } from '../../lambdas/core/contracts';
import { stateKey } from '../../lambdas/core/keys';
import type { Clock, ObjectStore } from '../../lambdas/core/ports';
import { DEFAULT_ENGINE_SETTINGS, type TableSettings } from '../../lambdas/core/settings';
import type { PartitionState } from '../../lambdas/core/state';
import { SENSORS_SETTINGS } from '../../local/generate';
import { compactBin } from '../../lambdas/use-cases/compact-bin';
import { mergeFiles } from '../../lambdas/use-cases/merge-files';
import type { MergeItem } from '../../lambdas/core/merge-contracts';
import { retireCompacted } from '../../lambdas/use-cases/lifecycle';
import { planRun } from '../../lambdas/use-cases/plan-run';
import { swapPlan } from '../../lambdas/use-cases/swap';
import { DAY_MS } from '../../lambdas/core/units';

export const DAY = DAY_MS;

/** Small target files, so test partitions compact into one bin each. */
export const testSettings: TableSettings = { ...SENSORS_SETTINGS, targetFileMb: 64 };

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(public t = Date.parse('2024-12-20T12:00:00Z')) {}
  now() {
    return new Date(this.t);
  }
  advance(ms: number) {
    this.t += ms;
  }
}

/** The use-cases wired to one store (loopback server or memory) and a local catalog, step by step. */
export function usePipeline(store: ObjectStore, scratch: string, clock: Clock, settings: TableSettings = testSettings) {
  const catalog = new LocalCatalog();
  const engine = { ...DEFAULT_ENGINE_SETTINGS, scratchDir: join(scratch, 'work'), fetchConcurrency: 16 };
  const p = {
    catalog,
    plan: async (): Promise<{ output: PlanOutput; items: BinItem[] }> => {
      const { output } = await planRun({ store, settings, clock }, { table: settings.table });
      return { output, items: (await store.getJson<BinItem[]>(settings.goldBucket, output.itemsKey)) ?? [] };
    },
    compact: (item: BinItem, engineOverrides: Partial<typeof engine> = {}) => compactBin({ store, settings, engine: { ...engine, ...engineOverrides }, ...duckdbStepDeps(engineOverrides.scratchDir ?? engine.scratchDir) }, item),
    merge: (item: MergeItem) => mergeFiles({ store, settings, engine, ...duckdbStepDeps(engine.scratchDir) }, item),
    mergeItems: async (output: PlanOutput) => (output.merges ? ((await store.getJson<MergeItem[]>(settings.goldBucket, output.mergeItemsKey)) ?? []) : []),
    swap: (output: PlanOutput) => swapPlan({ store, catalog, settings, clock }, output),
    lifecycle: (dryRun = false) => retireCompacted({ store, catalog, settings, clock }, dryRun),
    state: (partition: string) => store.getJson<PartitionState>(settings.goldBucket, stateKey(settings.table, partition)),
    /** plan -> compact every bin -> merge -> swap. */
    async run() {
      const { output, items } = await p.plan();
      for (const item of items) await p.compact(item);
      for (const m of await p.mergeItems(output)) await p.merge(m);
      return { output, items, swap: await p.swap(output) };
    },
  };
  return p;
}
