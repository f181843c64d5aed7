/** What the plan saw beyond its bins: the backlog the run caps left and the oldest uncompacted object. */
import type { PlanStats } from './contracts';
import type { PartitionListing } from './partitions';
import type { Plan } from './planner';
import { sizeHistogram } from './size-histogram';
import { sourceId, type CommittedBase } from './state';

/**
 * What the plan saw beyond its bins. The oldest uncompacted object is measured before the run
 * (what a stuck pipeline lets grow); the backlog is what the run caps left for later runs.
 */
export function planStats(
  partitions: readonly PartitionListing[],
  committed: ReadonlyMap<string, CommittedBase>,
  plan: Pick<Plan, 'partitions' | 'held'>,
): Omit<PlanStats, 'pendingPartitions'> {
  const capped = new Set(plan.held.filter((h) => h.reason === 'run-cap').map((h) => h.path));
  let oldest = Infinity;
  const backlog = { objects: 0, bytes: 0 };
  for (const p of partitions) {
    const base = committed.get(p.path);
    const t = p.files;
    for (let i = 0; i < t.length; i++) {
      if (base?.sourceIds.has(sourceId(t.key(i), t.etag(i)))) continue;
      if (t.modifiedMs(i) < oldest) oldest = t.modifiedMs(i);
      if (capped.has(p.path)) {
        backlog.objects++;
        backlog.bytes += t.size(i);
      }
    }
  }
  const inputSizes = sizeHistogram(plan.partitions.flatMap((p) => [...p.bins.flatMap((b) => b.sizes()), ...p.carried.map((f) => f.size)]));
  return { backlog, ...(oldest < Infinity ? { oldestUncompacted: new Date(oldest).toISOString() } : {}), inputSizes };
}
