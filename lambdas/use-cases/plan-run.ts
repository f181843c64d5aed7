import type { BinIdentity, BinItem, BinSpec, PlanOutput, PlanReport, RunRequest, StoredPlan } from '../core/contracts';
import type { MergeItem, MergeSpec } from '../core/merge-contracts';
import { addRequests, DEFAULT_COST_MODEL, listPages, type CostModel, type RequestCounts } from '../core/cost';
import { estimateRun, type RunEstimate } from '../core/run-estimate';
import { binKey, carriedKey, itemsKey, manifestKey, MAX_KEY_BYTES, mergedOutputKey, mergeItemsKey, mergeManifestKey, mergeSpecKey, outputKey, stageOutputKey, planKey, QUARANTINE_FILES, quarantineObjectKey, quarantinePrefix, pendingKey, pendingPrefix, stateKey } from '../core/keys';
import { planStats } from '../core/plan-stats';
import { baseOf, type CommittedBase, type PartitionState } from '../core/state';
import { parseKafkaName, topicPartitionId, type KafkaOffsets } from '../core/kafka';
import { Discoverer, type SourceFile } from '../core/partitions';
import { DEFAULT_PLANNER_OPTIONS, MB, planCompaction, totalsOf, type Plan } from '../core/planner';
import type { Clock, ExecutionStatus, ObjectStore } from '../core/ports';
import type { TableSettings } from '../core/settings';
import { mapLimit } from '../core/concurrency';
import { effectiveRatios } from '../core/output-ratios';
import { readOutputRatios } from './output-ratios';
import { AlreadyRunningError } from '../core/errors';
import { acquireLease } from './lease';

export interface PlanDeps {
  readonly store: ObjectStore;
  readonly settings: TableSettings;
  readonly clock: Clock;
  /** Prices and function memory for the run's estimate. @default us-east-1 list prices, the construct's default memory */
  readonly costModel?: CostModel;
}

export interface PlanRunResult {
  readonly output: PlanOutput;
  readonly plan: Plan;
  readonly report: PlanReport;
  readonly estimate: RunEstimate;
  /** What was ignored and why (an unreadable output ratios file), for the log. */
  readonly warnings: readonly string[];
}

/** True when `path` is `filter` or lies below it (segment-wise: `hour=1` does not match `hour=10`). */
export function matchesFilter(path: string, filters: readonly string[] | undefined): boolean {
  if (!filters?.length) return true;
  return filters.some((f) => path === f || path.startsWith(f.endsWith('/') ? f : `${f}/`));
}

/** The committed offsets of the Kafka topic-partitions a bin's files belong to, if any. */
function heldFor(held: KafkaOffsets, files: readonly SourceFile[]): KafkaOffsets | undefined {
  const out: Record<string, KafkaOffsets[string]> = {};
  for (const f of files) {
    const k = f.fromGold ? undefined : parseKafkaName(f.key);
    const tp = k && topicPartitionId(k);
    if (tp && held[tp]) out[tp] = held[tp];
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The longest key the pipeline writes for a planned partition: its output files and their
 * manifests, its state, carried files, and every quarantine key of every bin (the report, the
 * rejected records, and a copy of any of its objects).
 */
export function longestKeyBytes(s: TableSettings, p: Plan['partitions'][number]): number {
  // A running maximum: a partition of a million objects must not hold a million keys at once.
  let longest = 0;
  const consider = (k: string) => (longest = Math.max(longest, Buffer.byteLength(k)));
  consider(stateKey(s.table, p.path));
  for (const f of p.carried) consider(carriedKey(s.goldPrefix, p.path, p.version, f.key));
  for (const m of p.merges) {
    // A merge writes at most one file per bin it reads.
    consider(mergedOutputKey(s.goldPrefix, p.path, p.version, m.mergeId, m.binIds.length));
    consider(mergeManifestKey(s.table, p.path, p.version, m.mergeId));
  }
  for (const b of p.bins) {
    const prefix = quarantinePrefix(s.table, p.path, b.binId);
    consider(binOutputKey(s, p, b.binId));
    consider(manifestKey(s.table, p.path, p.version, b.binId));
    for (const f of QUARANTINE_FILES) consider(prefix + f);
    // `files` is made from the file table on each read: read it once per bin.
    for (const f of b.files) consider(quarantineObjectKey(prefix, b.fileCount - 1, f.key));
  }
  return longest;
}

/** A bin of a partition that is merged writes to a stage key, else straight into the version. */
const binOutputKey = (s: TableSettings, p: Plan['partitions'][number], binId: string) =>
  p.merges.length ? stageOutputKey(s.table, p.path, p.version, binId) : outputKey(s.goldPrefix, p.path, p.version, binId);

/** Lists the landing table, plans the bins, and stores the plan and one spec per bin. */
export async function planRun(deps: PlanDeps, request: RunRequest): Promise<PlanRunResult> {
  const { store, settings: s } = deps;
  const prefixes = request.partitions?.length ? request.partitions.map((p) => `${s.landingPrefix}${p}`) : [s.landingPrefix];
  // Each key once: a prefix inside another is listed once, and the discovery drops a key a server
  // lists again (an input planned twice would be written twice).
  const discoverer = new Discoverer({ prefix: s.landingPrefix, partitionKeys: s.partitionKeys, kind: s.layout });
  let listRequests = 0;
  for (const prefix of prefixes.filter((p, i) => !prefixes.some((q, j) => j !== i && p.startsWith(q) && (p !== q || j < i)))) {
    let returned = 0;
    for await (const o of store.list(s.landingBucket, prefix)) {
      returned++;
      discoverer.add(o);
    }
    listRequests += listPages(returned);
  }
  // Partitions with pending work: what the swap and lifecycle steps read back (never every state).
  const pending = new Set<string>();
  for await (const o of store.list(s.goldBucket, pendingPrefix(s.table))) pending.add(o.key);
  listRequests += listPages(pending.size);

  const discovery = discoverer.result();
  const filtered = { ...discovery, partitions: discovery.partitions.filter((p) => matchesFilter(p.path, request.partitions)) };
  const committed = new Map<string, CommittedBase>();
  await mapLimit(filtered.partitions, 16, async (p) => {
    const base = baseOf(await store.getJson<PartitionState>(s.goldBucket, stateKey(s.table, p.path)));
    if (base) committed.set(p.path, base);
  });
  const ratios = await readOutputRatios(store, s);
  let plan = planCompaction(filtered, {
    ...DEFAULT_PLANNER_OPTIONS,
    targetBytes: (request.targetFileMb ?? s.targetFileMb) * MB,
    minInputFiles: s.minInputFiles,
    maxBinsPerRun: s.maxBinsPerRun,
    maxBinObjects: s.maxBinObjects,
    outputRatios: effectiveRatios(ratios.measured),
    quietPeriodMs: s.quietPeriodMinutes * 60_000,
    now: deps.clock.now().toISOString(),
  }, committed);
  // S3 keys hold at most 1,024 bytes: a partition any of whose keys would not fit is reported, and nothing of it is written.
  const tooLong = plan.partitions.filter((p) => longestKeyBytes(s, p) > MAX_KEY_BYTES);
  if (tooLong.length) {
    plan = { ...plan, partitions: plan.partitions.filter((p) => !tooLong.includes(p)), held: [...plan.held, ...tooLong.map((p) => ({ path: p.path, reason: 'key-too-long' as const, smallFiles: p.bins.reduce((n, b) => n + b.fileCount, 0) }))] };
    plan = { ...plan, totals: totalsOf(plan.partitions) };
  }
  const report: PlanReport = {
    skipped: discovery.skipped,
    skippedExamples: discovery.skippedExamples,
    held: plan.held,
    stats: { ...planStats(filtered.partitions, committed, plan), pendingPartitions: pending.size },
  };
  const estimate = estimateRun(
    {
      planListRequests: listRequests,
      statesRead: filtered.partitions.length,
      leaseWrites: 1,
      pendingAfter: pending.size + plan.partitions.filter((p) => !pending.has(pendingKey(s.table, p.path))).length,
      bins: plan.partitions.flatMap((p) => p.bins.map((b) => ({ files: b.files.length, inputBytes: b.inputBytes, estimatedOutputBytes: b.estimatedOutputBytes }))),
      partitions: plan.partitions.map((p) => ({ bins: p.bins.length, carried: p.carried.length })),
      merges: plan.partitions.flatMap((p) => p.merges.map((m) => ({ bins: m.binIds.length, estimatedInputBytes: m.estimatedInputBytes }))),
    },
    plan.partitions.reduce((n, p) => n + p.newFiles, 0),
    deps.costModel ?? DEFAULT_COST_MODEL,
  );

  // Specs are made one bin at a time and written as they are made: a plan's inputs are in memory
  // once, in the planner's file tables, never as a second copy of objects.
  const items: BinItem[] = [];
  const bins = plan.partitions.flatMap((p) => p.bins.map((b, i) => ({ p, b, next: p.bins[i + 1] })));
  const identity = (p: Plan['partitions'][number], b: Plan['partitions'][number]['bins'][number]): BinIdentity =>
    ({ table: s.table, planId: plan.planId, binId: b.binId, partition: p.path, version: p.version });
  await mapLimit(bins, 16, async ({ p, b, next }) => {
    const files = b.files;
    const kafkaHeld = committed.get(p.path)?.kafka && heldFor(committed.get(p.path)!.kafka!, files);
    const spec: BinSpec = {
      ...identity(p, b),
      partitionValues: p.values,
      files,
      outputKey: binOutputKey(s, p, b.binId),
      manifestKey: manifestKey(s.table, p.path, p.version, b.binId),
      estimatedOutputBytes: b.estimatedOutputBytes,
      estimatedSeconds: b.estimatedSeconds,
      ...(next ? { nextBinKey: binKey(s.table, plan.planId, next.binId) } : {}),
      ...(kafkaHeld ? { kafkaHeld } : {}),
    };
    await store.putJson(s.goldBucket, binKey(s.table, plan.planId, b.binId), spec);
  });
  for (const { p, b } of bins) {
    items.push({
      ...identity(p, b),
      binKey: binKey(s.table, plan.planId, b.binId),
      inputFiles: b.fileCount,
      inputBytes: b.inputBytes,
    });
  }
  // Merge specs, then their items list (only when there is anything to merge).
  const targetBytes = (request.targetFileMb ?? s.targetFileMb) * MB;
  const merges = plan.partitions.flatMap((p) => p.merges.map((m) => ({ p, m })));
  await mapLimit(merges, 16, async ({ p, m }) => {
    const spec: MergeSpec = {
      table: s.table,
      planId: plan.planId,
      mergeId: m.mergeId,
      partition: p.path,
      version: p.version,
      bins: m.binIds.map((binId) => ({ binId, manifestKey: manifestKey(s.table, p.path, p.version, binId), outputKey: binOutputKey(s, p, binId) })),
      manifestKey: mergeManifestKey(s.table, p.path, p.version, m.mergeId),
      targetBytes,
    };
    await store.putJson(s.goldBucket, mergeSpecKey(s.table, plan.planId, m.mergeId), spec);
  });
  const mergeItems: MergeItem[] = merges.map(({ p, m }) => ({
    table: s.table,
    planId: plan.planId,
    mergeId: m.mergeId,
    partition: p.path,
    version: p.version,
    mergeKey: mergeSpecKey(s.table, plan.planId, m.mergeId),
    bins: m.binIds.length,
    estimatedInputBytes: m.estimatedInputBytes,
  }));
  if (mergeItems.length) await store.putJson(s.goldBucket, mergeItemsKey(s.table, plan.planId), mergeItems);
  const stored: StoredPlan = {
    table: s.table,
    planId: plan.planId,
    request,
    partitions: plan.partitions.map((p) => ({
      path: p.path,
      values: p.values,
      version: p.version,
      bins: p.bins.map((b) => ({ binId: b.binId, files: b.fileCount, inputBytes: b.inputBytes, estimatedOutputBytes: b.estimatedOutputBytes, estimatedSeconds: b.estimatedSeconds })),
      carried: p.carried,
      ...(p.merges.length ? { merges: p.merges.map((m) => ({ mergeId: m.mergeId, binIds: m.binIds })) } : {}),
      ...(p.baseVersion ? { baseVersion: p.baseVersion } : {}),
      newFiles: p.newFiles,
    })),
    totals: plan.totals,
    report,
    estimate: { cost: estimate.cost, requestsByStep: requestsByStep(estimate) },
  };
  // The items list goes last: a plan is usable only once everything it points to exists.
  await store.putJson(s.goldBucket, planKey(s.table, plan.planId), stored);
  await store.putJson(s.goldBucket, itemsKey(s.table, plan.planId), items);

  return {
    output: {
      table: s.table,
      planId: plan.planId,
      dryRun: request.dryRun ?? false,
      planBucket: s.goldBucket,
      itemsKey: itemsKey(s.table, plan.planId),
      planKey: planKey(s.table, plan.planId),
      bins: plan.totals.bins,
      merges: mergeItems.length,
      mergeItemsKey: mergeItemsKey(s.table, plan.planId),
      partitions: plan.partitions.length,
      inputFiles: plan.totals.inputFiles,
      inputBytes: plan.totals.inputBytes,
      estimatedCostUsd: estimate.cost.totalUsd,
    },
    plan,
    report,
    estimate,
    warnings: ratios.warning ? [ratios.warning] : [],
  };
}

/** The estimate's requests summed per step (the stored plan stays small however many bins). */
function requestsByStep(e: RunEstimate): StoredPlan['estimate']['requestsByStep'] {
  const out: Record<string, RequestCounts> = {};
  for (const u of e.usage) out[u.step] = addRequests(out[u.step] ?? {}, u.requests);
  return out;
}

export interface PlanExecutionDeps extends PlanDeps {
  /** Whether a workflow execution holding the table's lease still runs. */
  readonly executions: ExecutionStatus;
}

export type PlanExecutionResult = ({ readonly kind: 'planned' } & PlanRunResult) | { readonly kind: 'skipped'; readonly skipped: string };

/**
 * The workflow's plan step: takes the table's lease for the execution, then plans. Another run
 * holding the table fails it with AlreadyRunningError, unless the request says `ifRunning: skip`.
 */
export async function planExecution(deps: PlanExecutionDeps, executionId: string, request: RunRequest): Promise<PlanExecutionResult> {
  const s = deps.settings;
  try {
    await acquireLease({ store: deps.store, executions: deps.executions, clock: deps.clock, bucket: s.goldBucket, table: s.table }, executionId);
  } catch (e) {
    if (!(e instanceof AlreadyRunningError) || request.ifRunning !== 'skip') throw e;
    return { kind: 'skipped', skipped: `run ${e.holder ?? 'another run'} is in progress` };
  }
  return { kind: 'planned', ...(await planRun(deps, request)) };
}
