import type { CompactOutput, Metered, ReportInput, ReportOutput, StoredPlan } from '../core/contracts';
import type { MergeOutput } from '../core/merge-contracts';
import { mapLimit } from '../core/concurrency';
import { addRequests, type PriceTable, type StepUsage } from '../core/cost';
import { reportKey, reportTextKey, stateKey } from '../core/keys';
import type { Clock, ObjectStore } from '../core/ports';
import { buildRunReport, type FailedBin, type ReportFacts, type RunReport } from '../core/run-report';
import { renderRunReport } from '../core/run-report-text';
import type { TableSettings } from '../core/settings';
import type { PartitionState } from '../core/state';

export interface ReportDeps {
  readonly store: ObjectStore;
  readonly settings: TableSettings;
  readonly clock: Clock;
  readonly prices: PriceTable;
  /** This step's own usage so far (the handler measures it). */
  readonly usage: () => StepUsage;
}

/** The Distributed Map's ResultWriter manifest. */
interface ResultManifest {
  readonly DestinationBucket?: string;
  readonly ResultFiles?: Partial<Record<'SUCCEEDED' | 'FAILED' | 'PENDING', ReadonlyArray<{ Key: string }>>>;
}

/** A result file entry: the output itself (COMPACT), or the execution record with `Output` as JSON text (failed items, NONE). */
type ResultEntry = Record<string, unknown> & { Output?: string; Input?: string; Error?: string; Cause?: string };

const parse = <T>(text: unknown): T | undefined => {
  try {
    return typeof text === 'string' ? (JSON.parse(text) as T) : undefined;
  } catch {
    return undefined;
  }
};

const QUARANTINE_BINS_READ = 10;
const QUARANTINE_REASONS_SHOWN = 3;

async function mapResults(store: ObjectStore, bucket: string, key: string): Promise<ReportFacts['results']> {
  const manifest = await store.getJson<ResultManifest>(bucket, key);
  if (!manifest) return undefined;
  const at = manifest.DestinationBucket ?? bucket;
  const read = async (kind: 'SUCCEEDED' | 'FAILED' | 'PENDING') =>
    (await mapLimit(manifest.ResultFiles?.[kind] ?? [], 4, (f) => store.getJson<ResultEntry[]>(at, f.Key))).flat().filter((e): e is ResultEntry => !!e);
  const files = (['SUCCEEDED', 'FAILED', 'PENDING'] as const).reduce((n, k) => n + (manifest.ResultFiles?.[k]?.length ?? 0), 0);
  const succeeded = (await read('SUCCEEDED')).map((e) => (typeof e.Output === 'string' ? parse<Metered<CompactOutput>>(e.Output)! : (e as unknown as Metered<CompactOutput>)));
  const failed: FailedBin[] = [...(await read('FAILED')), ...(await read('PENDING'))].map((e) => {
    const item = parse<{ binId?: string; partition?: string }>(e.Input);
    const cause = parse<{ errorMessage?: string }>(e.Cause)?.errorMessage ?? e.Cause;
    return { ...(item?.binId ? { binId: item.binId } : {}), ...(item?.partition ? { partition: item.partition } : {}), error: `${e.Error ?? 'failed'}${cause ? `: ${cause}` : ''}` };
  });
  return { succeeded: succeeded.filter((r) => r?.binId), failed, files };
}

/** The merge Map's results: read as the bins' are, each entry a merge. */
async function mergeResults(store: ObjectStore, bucket: string, key: string): Promise<ReportFacts['merges']> {
  const read = await mapResults(store, bucket, key).catch(() => undefined);
  const manifest = read && (await store.getJson<ResultManifest>(bucket, key));
  if (!manifest) return undefined;
  const at = manifest.DestinationBucket ?? bucket;
  const ok = (await mapLimit(manifest.ResultFiles?.SUCCEEDED ?? [], 4, (f) => store.getJson<ResultEntry[]>(at, f.Key))).flat().filter((e): e is ResultEntry => !!e);
  const succeeded = ok.map((e) => (typeof e.Output === 'string' ? parse<Metered<MergeOutput>>(e.Output)! : (e as unknown as Metered<MergeOutput>))).filter((r) => r?.mergeId);
  return { succeeded, failed: read.failed.length, files: read.files };
}

/**
 * Writes the execution's run report (JSON and text) next to the table's other system objects:
 * read from the stored plan, the Map's per-bin results and the partition states, never from the
 * payload (which carries locations and counts only).
 */
export async function writeRunReport(deps: ReportDeps, input: ReportInput): Promise<{ output: ReportOutput; report: RunReport }> {
  const { store, settings: s } = deps;
  const state = input.state;
  const planned = state.plan && !('skipped' in state.plan) ? state.plan : undefined;
  const plan = planned ? await store.getJson<StoredPlan>(planned.planBucket, planned.planKey) : undefined;
  const details = state.compaction?.ResultWriterDetails;
  const results = details ? await mapResults(store, details.Bucket, details.Key) : undefined;
  const mergeDetails = state.merging?.ResultWriterDetails;
  const merges = mergeDetails ? await mergeResults(store, mergeDetails.Bucket, mergeDetails.Key) : undefined;
  const paths = (plan?.partitions ?? []).map((p) => p.path);
  const states = new Map<string, PartitionState | undefined>();
  await mapLimit(paths, 16, async (p) => states.set(p, await store.getJson<PartitionState>(s.goldBucket, stateKey(s.table, p))));

  const quarantineReasons = new Map<string, { reportKey: string; first: string[] }>();
  const rejected = (results?.succeeded ?? []).filter((r) => r.rejectedRecords || r.rejectedObjects).slice(0, QUARANTINE_BINS_READ);
  await mapLimit(rejected, 4, async (r) => {
    const manifest = await store.getJson<{ quarantine?: { reportKey: string } }>(s.goldBucket, r.manifestKey);
    if (!manifest?.quarantine) return;
    const q = await store.getJson<{ rejected?: Array<{ file: string; line?: number; reason: string }> }>(s.goldBucket, manifest.quarantine.reportKey);
    const first = (q?.rejected ?? []).slice(0, QUARANTINE_REASONS_SHOWN).map((x) => `${x.file}${x.line !== undefined ? ` line ${x.line}` : ''}: ${x.reason}`);
    quarantineReasons.set(r.binId, { reportKey: manifest.quarantine.reportKey, first });
  });

  const own = deps.usage();
  const report = buildRunReport({
    table: s.table,
    executionId: input.executionId,
    startedAt: input.startedAt,
    finishedAt: deps.clock.now().toISOString(),
    state,
    ...(plan ? { plan } : {}),
    ...(results ? { results } : {}),
    ...(merges ? { merges } : {}),
    states,
    quarantineReasons,
    // The two report writes below are this step's too.
    reportUsage: { ...own, requests: addRequests(own.requests, { PUT: 2 }) },
    prices: deps.prices,
  });
  const key = reportKey(s.table, input.executionId);
  const textKey = reportTextKey(s.table, input.executionId);
  await store.putJson(s.goldBucket, key, report);
  await store.putText(s.goldBucket, textKey, renderRunReport(report), 'text/markdown; charset=utf-8');
  return {
    output: {
      outcome: report.outcome,
      reportBucket: s.goldBucket,
      reportKey: key,
      textKey,
      costUsd: report.cost.totalUsd,
      ...(report.cost.perMillionObjectsUsd !== undefined ? { perMillionObjectsUsd: report.cost.perMillionObjectsUsd } : {}),
    },
    report,
  };
}
