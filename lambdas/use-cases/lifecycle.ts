import type { LifecycleOutput } from '../core/contracts';
import { ConcurrentCommitError } from '../core/errors';
import { stateKey } from '../core/keys';
import { standingOf } from '../core/catalog-standing';
import { entryDone } from '../core/pending';
import type { Catalog, Clock, ObjectStore } from '../core/ports';
import type { TableSettings } from '../core/settings';
import type { PartitionState } from '../core/state';
import { DAY_MS } from '../core/units';
import { retireManifests } from './retired-manifests';
import { dropPending, readIndex, statesOf } from './pending-index';

export interface LifecycleDeps {
  readonly store: ObjectStore;
  readonly catalog: Catalog;
  readonly settings: TableSettings;
  readonly clock: Clock;
}

export interface LifecycleReport extends LifecycleOutput {
  /** Partitions skipped because the catalog does not point at their committed version. */
  readonly unverified: readonly string[];
  /**
   * Objects kept because they no longer had their committed ETag at the delete: landing keys
   * rewritten since their commit (planned again as new data), and `s3://` gold files changed by hand.
   */
  readonly changedAfterCommit: readonly string[];
  /** With dryRun: what would be retired. */
  readonly wouldRetire: readonly string[];
}

/**
 * Retires compacted landing sources and superseded gold versions once the catalog was verified to
 * point at the version holding their rows and the grace period has passed since then (S3
 * lifecycle days count from object creation, so the grace is decided here, not by a bucket rule).
 * Every delete is conditional on the committed ETag: a key rewritten meanwhile is kept.
 */
export async function retireCompacted(deps: LifecycleDeps, dryRun = false): Promise<LifecycleReport> {
  const { store, catalog, settings: s } = deps;
  const now = deps.clock.now().getTime();
  // How long retired objects stay readable after the catalog stopped needing them.
  const graceMs = s.graceDays * DAY_MS;
  const due = (iso: string | undefined) => iso !== undefined && Date.parse(iso) + graceMs <= now;
  let retired = 0;
  let waiting = 0;
  const unverified: string[] = [];
  const changedAfterCommit: string[] = [];
  const wouldRetire: string[] = [];

  // Only indexed partitions can have anything to retire: every commit indexes its partition first.
  const indexed = await readIndex(store, s);
  const states = await statesOf(store, s, indexed.map((x) => x.entry.partition));
  // One catalog read for all of them (batched by the adapter); none when nothing is indexed.
  const present = states.flatMap((got) => (got ? [got.value] : []));
  const found = present.length ? await catalog.getPartitions(present.map((st) => s.partitionKeys.map((k) => st.values[k]))) : [];
  const locations = new Map(present.map((st, i) => [st.partition, found[i]?.location]));

  for (const [i, ix] of indexed.entries()) {
    const got = states[i];
    // Done with the partition: the entry goes, unless it was rewritten meanwhile (a commit announced).
    const settle = async (st: PartitionState | undefined) => {
      if (!dryRun && entryDone(ix.entry, st, st && standingOf(st, locations.get(st.partition)), now)) await dropPending(store, s, ix);
    };
    if (!got) {
      await settle(undefined);
      continue;
    }
    const st = got.value;
    if (locations.get(st.partition) !== st.location) {
      unverified.push(st.partition);
      await settle(st);
      continue;
    }
    const dueSources = st.sources.filter((x) => due(x.since));
    const dueVersions = st.superseded.filter((v) => due(v.supersededAt));
    // A version that is current again (rolled back to) is never deleted.
    const current = new Set(st.files.map((f) => f.key));
    const goldFiles = dueVersions.flatMap((v) => v.files.filter((f) => !current.has(f.key)));
    waiting += st.sources.length - dueSources.length + st.superseded.filter((v) => !due(v.supersededAt)).reduce((n, v) => n + v.files.length, 0);
    if (!dueSources.length && !dueVersions.length) {
      await settle(st);
      continue;
    }
    if (dryRun) {
      wouldRetire.push(...dueSources.map((x) => `s3://${s.landingBucket}/${x.key}`), ...goldFiles.map((f) => `s3://${s.goldBucket}/${f.key}`));
      continue;
    }

    const landing = await store.deleteKeys(s.landingBucket, dueSources.map((x) => ({ key: x.key, etag: x.etag })));
    // Files recorded without an ETag (older states) are deleted by key.
    const gold = await store.deleteKeys(s.goldBucket, goldFiles.map((f) => ({ key: f.key, ...(f.etag ? { etag: f.etag } : {}) })));
    changedAfterCommit.push(...landing.changed, ...gold.changed.map((k) => `s3://${s.goldBucket}/${k}`));
    retired += dueSources.length - landing.changed.length - landing.missing.length + goldFiles.length - gold.changed.length - gold.missing.length;

    // A source that changed is done too: its committed content is gone, the new one is new data.
    const done = new Set(dueSources.map((x) => x.key));
    const keptGold = new Set(gold.changed);
    // Entries, not version ids: a version's intermediates share its id.
    const doneVersions = new Set(dueVersions.filter((v) => !v.files.some((f) => keptGold.has(f.key))));
    // Their manifests move to where a bucket rule expires them after the retention (intermediates have none of their own).
    for (const v of doneVersions) if (!v.intermediate && v.version !== st.version) await retireManifests(store, s.goldBucket, s.table, st.partition, v.version);
    const next: PartitionState = { ...st, sources: st.sources.filter((x) => !done.has(x.key)), superseded: st.superseded.filter((v) => !doneVersions.has(v)) };
    try {
      await store.putJsonIf(s.goldBucket, stateKey(s.table, st.partition), next, got.etag);
    } catch (e) {
      // A commit came in between: the next lifecycle finds these objects gone and drops them.
      if (!(e instanceof ConcurrentCommitError)) throw e;
      continue;
    }
    await settle(next);
  }
  return { retired, waiting, unverified, changedAfterCommit, wouldRetire };
}
