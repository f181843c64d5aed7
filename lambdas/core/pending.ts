import type { CatalogStanding } from './catalog-standing';
import type { PartitionState } from './state';

/**
 * One partition with work that may still be pending (retirements after the grace period, a
 * catalog entry still to verify): written before every state commit, so a commit is never
 * without one, and removed by lifecycle once nothing is left for the partition.
 */
export interface PendingEntry {
  readonly partition: string;
  /** The version whose commit wrote the entry (it may not be committed: a run that died in between). */
  readonly version: string;
  /** ETag of the state that commit replaces (none for a first commit): no two writes of an entry are the same bytes. */
  readonly base?: string;
  /** When the entry was written (ISO-8601). */
  readonly at: string;
}

/**
 * How long an entry whose version was never committed is kept: no commit is in flight longer
 * than a run (stopped after 24 h), so by then its writer died before committing.
 */
export const UNCOMMITTED_ENTRY_MS = 24 * 3_600_000;

/** True while lifecycle or the catalog still have something to do for the partition. */
export function hasPendingWork(st: PartitionState, standing: CatalogStanding | undefined): boolean {
  if (!st.verifiedAt || st.sources.length > 0 || st.superseded.length > 0) return true;
  // Drift stays indexed, so that every swap reports it until an operator adopts or overrules it.
  return standing !== 'current' && standing !== 'pinned';
}

/**
 * Whether the entry may be removed: the state it names is committed and has nothing left, or
 * the commit that wrote it never happened and cannot happen any more. An entry written for a
 * version the state does not hold yet belongs to a commit that may still be under way.
 */
export function entryDone(entry: PendingEntry, st: PartitionState | undefined, standing: CatalogStanding | undefined, nowMs: number): boolean {
  const uncommittedFor = nowMs - Date.parse(entry.at);
  if (!st || st.version !== entry.version) return uncommittedFor >= UNCOMMITTED_ENTRY_MS && (!st || !hasPendingWork(st, standing));
  return !hasPendingWork(st, standing);
}
