import type { PartitionState } from './state';

/**
 * Where a partition's catalog entry stands against its committed state:
 * - `current`: points at the committed version;
 * - `missing`: no entry (a first commit, or a catalog that was lost): created;
 * - `behind`: points at an earlier version of this partition (a run died between its commit and
 *   the catalog update, or a rollback): repointed;
 * - `pinned`: points where an operator set it and the pipeline was told to keep it;
 * - `drift`: points anywhere else, set by hand: kept, and reported until adopted or overruled.
 */
export type CatalogStanding = 'current' | 'missing' | 'behind' | 'pinned' | 'drift';

export function standingOf(st: PartitionState, location: string | undefined): CatalogStanding {
  if (location === st.location) return 'current';
  if (location === undefined) return 'missing';
  if (st.catalogPin?.location === location) return 'pinned';
  if (st.superseded.some((v) => v.location === location)) return 'behind';
  return 'drift';
}
