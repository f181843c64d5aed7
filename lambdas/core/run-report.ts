/**
 * The run report: what one execution did to each partition, the file sizes before and after, what
 * it held back and set aside, and what it cost. Built from the stored plan, the Map's per-bin
 * results and the partition states after the run; rendered as JSON here and as short text in run-report-text.
 */
import type { CompactOutput, Metered, PlanOutput, PlanStats, RunState, SizeHistogram, SkippedRun, StoredPlan } from './contracts';
import type { MergeOutput } from './merge-contracts';
import { addRequests, costOf, mapRequests, transitionsOf, type PriceTable, type RunCost, type StepUsage } from './cost';
import type { HeldPartition, HoldReason } from './planner';
import { sizeHistogram } from './size-histogram';
import type { PartitionState } from './state';

export type PartitionStatus = 'committed' | 'incomplete' | 'not committed';

export interface PartitionReport {
  readonly path: string;
  readonly version: string;
  readonly status: PartitionStatus;
  readonly before: { readonly objects: number; readonly bytes: number; readonly rows?: number };
  readonly after?: { readonly objects: number; readonly bytes: number; readonly rows: number };
}

export interface QuarantinedBin {
  readonly partition: string;
  readonly binId: string;
  readonly records: number;
  readonly objects: number;
  readonly reportKey?: string;
  /** The first reasons in its report (file, line, reason). */
  readonly first?: readonly string[];
}

export interface RunReport {
  readonly table: string;
  readonly executionId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** `succeeded`, `dry run`, `skipped: ...`, `failed: ...` */
  readonly outcome: string;
  readonly planId?: string;
  readonly bins: { readonly planned: number; readonly succeeded: number; readonly failed: number; readonly unknown: number };
  /** Merges of intermediate files into target-size files (absent when the plan had none). */
  readonly merges?: { readonly planned: number; readonly succeeded: number; readonly failed: number; readonly filesIn: number; readonly filesOut: number };
  readonly partitions: readonly PartitionReport[];
  readonly sizes: { readonly before: SizeHistogram; readonly after: SizeHistogram };
  readonly held: { readonly byReason: Readonly<Partial<Record<HoldReason, number>>>; readonly partitions: readonly HeldPartition[] };
  readonly backlog?: PlanStats['backlog'] & { readonly oldestUncompacted?: string; readonly oldestUncompactedAgeSeconds?: number };
  readonly quarantine: { readonly records: number; readonly objects: number; readonly bins: readonly QuarantinedBin[] };
  readonly cost: RunCost;
  /** The plan's estimate of this run, made before anything ran. */
  readonly estimate?: RunCost;
  /** What the cost leaves out because it could not be measured. */
  readonly unmeasured: readonly string[];
  readonly prices: PriceTable;
  readonly failedBins: ReadonlyArray<{ readonly binId?: string; readonly partition?: string; readonly error: string }>;
}

/** One failed Map item as the ResultWriter keeps it. */
export interface FailedBin {
  readonly binId?: string;
  readonly partition?: string;
  readonly error: string;
  readonly cause?: string;
}

export interface ReportFacts {
  readonly table: string;
  readonly executionId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly state: RunState;
  readonly plan?: StoredPlan;
  /** The Map's per-bin results, when it returned them. */
  readonly results?: { readonly succeeded: ReadonlyArray<Metered<CompactOutput>>; readonly failed: readonly FailedBin[]; readonly files: number };
  /** The merge Map's per-merge results, when it ran and returned them. */
  readonly merges?: { readonly succeeded: ReadonlyArray<Metered<MergeOutput>>; readonly failed: number; readonly files: number };
  /** Each planned partition's state after the run (undefined: none). */
  readonly states: ReadonlyMap<string, PartitionState | undefined>;
  readonly quarantineReasons: ReadonlyMap<string, { reportKey: string; first: string[] }>;
  /** The report step's own usage, its report writes included. */
  readonly reportUsage: StepUsage;
  readonly prices: PriceTable;
}

/** Held partitions listed one by one (the others are counted): the ones an operator may act on. */
const LISTED_HOLDS: readonly HoldReason[] = ['run-cap', 'below-min-input-files', 'key-too-long', 'file-too-large'];
const MAX_LISTED = 1000;

const isSkipped = (p: RunState['plan']): p is Metered<SkippedRun> => !!p && 'skipped' in p;
const asPlan = (p: RunState['plan']): Metered<PlanOutput> | undefined => (p && !isSkipped(p) ? p : undefined);

/** A caught error's message: Lambda errors carry `{errorType, errorMessage}` JSON as their cause. */
export function errorMessage(e: { Error: string; Cause?: string }): string {
  try {
    const c = JSON.parse(e.Cause ?? '') as { errorMessage?: unknown } | null;
    if (typeof c?.errorMessage === 'string') return c.errorMessage;
  } catch {
    // a plain-text cause
  }
  return e.Cause ?? '';
}

export function outcomeOf(state: RunState): string {
  if (state.error) return `failed: ${state.error.Error}: ${errorMessage(state.error)}`.trim();
  if (isSkipped(state.plan)) return `skipped: ${state.plan.skipped}`;
  if (state.swap && state.swap.incomplete > 0) return `failed: ${state.swap.incomplete} partition(s) left at their previous version`;
  if (asPlan(state.plan)?.dryRun) return 'dry run';
  return 'succeeded';
}

export function buildRunReport(f: ReportFacts): RunReport {
  const { state, plan } = f;
  const planned = asPlan(state.plan);
  const succeeded = new Map((f.results?.succeeded ?? []).map((r) => [r.binId, r]));
  const failed = f.results?.failed.length ?? 0;
  // Which states the execution entered: a step that failed was entered too.
  const dry = planned?.dryRun ?? false;
  const bins = planned?.bins ?? 0;
  const mapRan = !!planned && !dry && bins > 0;
  const swapRan = !!state.swap || (!!state.error && !!planned && !dry && (bins === 0 || !!state.compaction));
  const lifecycleRan = !!state.lifecycle || (!!state.error && !!planned && (dry || !!state.swap));

  const partitions: PartitionReport[] = (plan?.partitions ?? []).map((p) => {
    const st = f.states.get(p.path);
    const committed = st?.version === p.version;
    const results = p.bins.map((b) => succeeded.get(b.binId));
    const outputKeys = new Set(results.map((r) => r?.outputKey));
    // A merged partition's files are the merges' (`part-<mergeId>-<n>`), not carried files.
    const merged = (k: string) => (p.merges ?? []).some((m) => k.includes(`/part-${m.mergeId}-`));
    const carriedRows = committed ? st.files.filter((g) => !outputKeys.has(g.key) && !merged(g.key)).reduce((n, g) => n + g.rows, 0) : undefined;
    const rowsIn = results.every((r) => r) && (carriedRows !== undefined || !p.carried.length) ? results.reduce((n, r) => n + r!.inputRows, 0) + (carriedRows ?? 0) : undefined;
    return {
      path: p.path,
      version: p.version,
      status: committed ? 'committed' : state.swap ? 'incomplete' : 'not committed',
      before: {
        objects: p.bins.reduce((n, b) => n + b.files, 0) + p.carried.length,
        bytes: p.bins.reduce((n, b) => n + b.inputBytes, 0) + p.carried.reduce((n, c) => n + c.size, 0),
        ...(rowsIn !== undefined ? { rows: rowsIn } : {}),
      },
      ...(committed ? { after: { objects: st.files.length, bytes: st.files.reduce((n, g) => n + g.bytes, 0), rows: st.rows } } : {}),
    };
  });
  const done = (plan?.partitions ?? []).filter((_, i) => partitions[i].status === 'committed');

  const byReason: Partial<Record<HoldReason, number>> = {};
  for (const h of plan?.report.held ?? []) byReason[h.reason] = (byReason[h.reason] ?? 0) + 1;
  const stats = plan?.report.stats;

  const quarantined: QuarantinedBin[] = [...succeeded.values()]
    .filter((r) => r.rejectedRecords || r.rejectedObjects)
    .map((r) => {
      const q = f.quarantineReasons.get(r.binId);
      return { partition: r.partition, binId: r.binId, records: r.rejectedRecords, objects: r.rejectedObjects, ...(q ? { reportKey: q.reportKey, first: q.first } : {}) };
    });

  const usage: StepUsage[] = [
    ...(state.plan ? [state.plan.usage] : []),
    ...[...succeeded.values()].map((r) => r.usage),
    ...(f.merges?.succeeded ?? []).map((r) => r.usage),
    ...(state.swap ? [state.swap.usage] : []),
    ...(state.lifecycle ? [state.lifecycle.usage] : []),
    f.reportUsage,
  ];
  const unmeasured: string[] = [];
  if (state.error) unmeasured.push(`the step that failed (${state.error.Error}): its invocation returned no usage`);
  if (f.results?.failed.length) unmeasured.push(`${f.results.failed.length} failed bin(s): their invocations returned no usage`);
  if (f.merges?.failed) unmeasured.push(`${f.merges.failed} failed merge(s): their invocations returned no usage`);
  if (mapRan && !f.results) unmeasured.push('the Compact step: the Map ended without returning its results');
  unmeasured.push('Lambda retries and Step Functions retries (each attempt is billed)');

  const transitions = transitionsOf({
    planned: !!state.plan,
    skipped: isSkipped(state.plan),
    nothingToCompact: !!planned && (dry || bins === 0),
    mapItems: f.results ? f.results.succeeded.length + f.results.failed.length : 0,
    mapRan,
    mergeItems: f.merges ? f.merges.succeeded.length + f.merges.failed : 0,
    mergeRan: !!state.merging,
    swapRan,
    lifecycleRan,
    incomplete: !state.error && (state.swap?.incomplete ?? 0) > 0,
  });
  const work = {
    objects: done.reduce((n, p) => n + p.newFiles, 0),
    bytes: done.reduce((n, p) => n + p.bins.reduce((m, b) => m + b.inputBytes, 0), 0),
  };
  const cost = costOf(usage, addRequests(f.results ? mapRequests(f.results.files) : {}, f.merges ? mapRequests(f.merges.files) : {}), transitions, work, f.prices);

  return {
    table: f.table,
    executionId: f.executionId,
    startedAt: f.startedAt,
    finishedAt: f.finishedAt,
    outcome: outcomeOf(state),
    ...(plan ? { planId: plan.planId } : {}),
    bins: {
      planned: planned?.bins ?? 0,
      succeeded: succeeded.size,
      failed,
      unknown: planned && !planned.dryRun ? Math.max(0, planned.bins - succeeded.size - failed) : 0,
    },
    ...(planned?.merges
      ? {
          merges: {
            planned: planned.merges,
            succeeded: f.merges?.succeeded.length ?? 0,
            failed: f.merges?.failed ?? 0,
            filesIn: (f.merges?.succeeded ?? []).reduce((n, r) => n + r.inputFiles, 0),
            filesOut: (f.merges?.succeeded ?? []).reduce((n, r) => n + r.outputFiles, 0),
          },
        }
      : {}),
    partitions,
    sizes: {
      before: stats?.inputSizes ?? sizeHistogram([]),
      after: sizeHistogram(done.flatMap((p) => f.states.get(p.path)!.files.map((g) => g.bytes))),
    },
    held: {
      byReason,
      partitions: (plan?.report.held ?? []).filter((h) => LISTED_HOLDS.includes(h.reason)).slice(0, MAX_LISTED),
    },
    ...(stats
      ? {
          backlog: {
            ...stats.backlog,
            ...(stats.oldestUncompacted
              ? { oldestUncompacted: stats.oldestUncompacted, oldestUncompactedAgeSeconds: Math.max(0, Math.round((Date.parse(f.startedAt) - Date.parse(stats.oldestUncompacted)) / 1000)) }
              : {}),
          },
        }
      : {}),
    quarantine: {
      records: quarantined.reduce((n, q) => n + q.records, 0),
      objects: quarantined.reduce((n, q) => n + q.objects, 0),
      bins: quarantined,
    },
    cost,
    ...(plan ? { estimate: plan.estimate.cost } : {}),
    unmeasured,
    prices: f.prices,
    failedBins: (f.results?.failed ?? []).map((r) => ({ ...(r.binId ? { binId: r.binId } : {}), ...(r.partition ? { partition: r.partition } : {}), error: r.error })),
  };
}
