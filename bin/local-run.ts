/**
 * A run in this process (the CLI's), under the same table lease as the workflow: plan, compact
 * every bin, swap. The lease is renewed while the run works and checked before it commits; a run
 * that lost it (held up past its expiry) stops before swapping. Used by bin/cli.ts and the race tests.
 */
import { duckdbStepDeps } from '../lambdas/adapters/duckdb-parquet-engine';
import type { BinItem, CompactOutput, RunRequest, SwapOutput } from '../lambdas/core/contracts';
import { CLI_LEASE_RENEW_MS, CLI_LEASE_TTL_MS } from '../lambdas/core/lease';
import type { Catalog, Clock, ExecutionStatus, ObjectStore } from '../lambdas/core/ports';
import type { EngineSettings, TableSettings } from '../lambdas/core/settings';
import { compactBin, type CompactDeps } from '../lambdas/use-cases/compact-bin';
import { acquireLease, releaseLease, renewLease, type LeaseDeps } from '../lambdas/use-cases/lease';
import { planRun, type PlanRunResult } from '../lambdas/use-cases/plan-run';
import { swapPlan } from '../lambdas/use-cases/swap';
import { mergeFiles } from '../lambdas/use-cases/merge-files';
import type { MergeItem } from '../lambdas/core/merge-contracts';

export interface LocalRunDeps {
  readonly store: ObjectStore;
  readonly catalog: Catalog;
  readonly settings: TableSettings;
  readonly engine: EngineSettings;
  readonly clock: Clock;
  /** Status of workflow executions holding the lease. */
  readonly executions: ExecutionStatus;
  /** Status of CLI processes holding the lease (this host's). */
  readonly processes?: ExecutionStatus;
  /** This run as a lease holder (see cliHolder). */
  readonly holder: string;
  /** Renewal period of the lease in wall-clock ms; 0: renewed only at step boundaries (tests with a manual clock). */
  readonly renewEveryMs?: number;
  readonly declaredTypes?: CompactDeps['declaredTypes'];
}

/** Holds the table's lease for one run: renews it in the background and on demand. */
export class LeaseKeeper {
  private timer?: NodeJS.Timeout;
  private lost?: Error;

  constructor(private readonly deps: LeaseDeps, private readonly holder: string, private readonly renewEveryMs: number) {}

  async take(): Promise<void> {
    await acquireLease(this.deps, this.holder, CLI_LEASE_TTL_MS);
    if (this.renewEveryMs > 0) {
      this.timer = setInterval(() => void this.renew().catch((e: Error) => (this.lost ??= e)), this.renewEveryMs);
      this.timer.unref();
    }
  }

  private async renew(): Promise<void> {
    await renewLease(this.deps, this.holder, CLI_LEASE_TTL_MS);
  }

  /** Renews now; fails when the lease was lost (then this run must not commit). */
  async check(): Promise<void> {
    if (this.lost) throw this.lost;
    await this.renew();
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await releaseLease(this.deps, this.holder);
  }
}

/** Runs `fn` holding the table's lease; a run refused the lease changes nothing. */
export async function underLease<T>(deps: LocalRunDeps, fn: (lease: LeaseKeeper) => Promise<T>): Promise<T> {
  const s = deps.settings;
  const keeper = new LeaseKeeper(
    { store: deps.store, executions: deps.executions, processes: deps.processes, clock: deps.clock, bucket: s.goldBucket, table: s.table },
    deps.holder,
    deps.renewEveryMs ?? CLI_LEASE_RENEW_MS,
  );
  await keeper.take();
  try {
    return await fn(keeper);
  } finally {
    await keeper.release();
  }
}

export interface LocalRunResult {
  readonly plan: PlanRunResult;
  readonly compacted: CompactOutput[];
  /** Absent for a dry run. */
  readonly swap?: SwapOutput;
}

/** Progress of a local run, for people watching it. */
export interface LocalRunEvents {
  readonly onPlan?: (plan: PlanRunResult) => void;
  readonly onBin?: (out: CompactOutput, i: number, of: number) => void;
}

/** plan -> compact every bin -> merge intermediates (if the plan has merges) -> swap, under the lease. */
export async function runLocally(deps: LocalRunDeps, request: RunRequest, events: LocalRunEvents = {}): Promise<LocalRunResult> {
  const { store, settings } = deps;
  return underLease(deps, async (lease) => {
    const plan = await planRun({ store, settings, clock: deps.clock }, request);
    events.onPlan?.(plan);
    if (request.dryRun) return { plan, compacted: [] };
    const items = (await store.getJson<BinItem[]>(plan.output.planBucket, plan.output.itemsKey)) ?? [];
    const compacted: CompactOutput[] = [];
    for (const [i, item] of items.entries()) {
      await lease.check();
      const out = await compactBin({ store, settings, engine: deps.engine, ...duckdbStepDeps(deps.engine.scratchDir), declaredTypes: deps.declaredTypes }, item);
      compacted.push(out);
      events.onBin?.(out, i, items.length);
    }
    const merges = plan.output.merges ? ((await store.getJson<MergeItem[]>(plan.output.planBucket, plan.output.mergeItemsKey)) ?? []) : [];
    for (const item of merges) {
      await lease.check();
      await mergeFiles({ store, settings, engine: deps.engine, ...duckdbStepDeps(deps.engine.scratchDir) }, item);
    }
    await lease.check();
    return { plan, compacted, swap: await swapPlan({ store, catalog: deps.catalog, settings, clock: deps.clock }, plan.output) };
  });
}
