import type { LifecycleOutput } from '../core/contracts';
import { statePrefix, stateKey } from '../core/keys';
import type { Catalog, Clock, ObjectStore } from '../core/ports';
import type { TableSettings } from '../core/settings';
import type { PartitionState } from '../core/state';
import { retireManifests } from './retired-manifests';

export interface LifecycleDeps {
  readonly store: ObjectStore;
  readonly catalog: Catalog;
  readonly settings: TableSettings;
  readonly clock: Clock;
  /** How long retired objects stay readable after the catalog stopped needing them. */
  readonly graceMs: number;
}

export interface LifecycleReport extends LifecycleOutput {
  /** Partitions skipped because the catalog does not point at their committed version. */
  readonly unverified: readonly string[];
  /** Landing keys rewritten after they were committed: kept, and planned again as new data. */
  readonly changedAfterCommit: readonly string[];
  /** With dryRun: what would be retired. */
  readonly wouldRetire: readonly string[];
}

const dirOf = (key: string) => key.slice(0, key.lastIndexOf('/') + 1);

/**
 * Retires compacted landing sources and superseded gold versions once the catalog is verified to
 * point at the version holding their rows and the grace period has passed since then. S3
 * lifecycle days count from object creation, so the grace is decided here, not by a bucket rule.
 */
export async function retireCompacted(deps: LifecycleDeps, dryRun = false): Promise<LifecycleReport> {
  const { store, catalog, settings: s } = deps;
  const now = deps.clock.now().getTime();
  const due = (iso: string) => Date.parse(iso) + deps.graceMs <= now;
  let retired = 0;
  let waiting = 0;
  const unverified: string[] = [];
  const changedAfterCommit: string[] = [];
  const wouldRetire: string[] = [];

  const stateKeys: string[] = [];
  for await (const o of store.list(s.goldBucket, statePrefix(s.table))) if (o.key.endsWith('/state.json')) stateKeys.push(o.key);

  for (const key of stateKeys) {
    const got = await store.getJsonVersioned<PartitionState>(s.goldBucket, key);
    if (!got) continue;
    const st = got.value;
    const [entry] = await catalog.getPartitions([s.partitionKeys.map((k) => st.values[k])]);
    if (entry?.location !== st.location) {
      unverified.push(st.partition);
      continue;
    }
    const dueSources = st.sources.filter((x) => due(x.since));
    const dueVersions = st.superseded.filter((v) => due(v.supersededAt));
    waiting += st.sources.length - dueSources.length + st.superseded.filter((v) => !due(v.supersededAt)).reduce((n, v) => n + v.files.length, 0);
    if (!dueSources.length && !dueVersions.length) continue;
    if (dryRun) {
      wouldRetire.push(...dueSources.map((x) => `s3://${s.landingBucket}/${x.key}`), ...dueVersions.flatMap((v) => v.files.map((f) => `s3://${s.goldBucket}/${f.key}`)));
      continue;
    }

    // Delete a landing key only if it still is the object that was committed.
    const etags = new Map<string, string>();
    for (const dir of new Set(dueSources.map((x) => dirOf(x.key)))) {
      for await (const o of store.list(s.landingBucket, dir)) etags.set(o.key, o.etag);
    }
    const deletable: string[] = [];
    const gone = new Set<string>();
    for (const x of dueSources) {
      const etag = etags.get(x.key);
      if (etag === undefined) gone.add(x.key);
      else if (etag === x.etag) deletable.push(x.key);
      else changedAfterCommit.push(x.key);
    }
    await store.deleteKeys(s.landingBucket, deletable);
    // A version that is current again (rolled back to) is never deleted.
    const goldFiles = dueVersions.flatMap((v) => v.files.map((f) => f.key)).filter((k) => !st.files.some((f) => f.key === k));
    await store.deleteKeys(s.goldBucket, goldFiles);
    retired += deletable.length + goldFiles.length;
    // Their manifests move to where a bucket rule expires them after the retention.
    for (const v of dueVersions) if (v.version !== st.version) await retireManifests(store, s.goldBucket, s.table, st.partition, v.version);

    const done = new Set([...deletable, ...gone]);
    const doneVersions = new Set(dueVersions.map((v) => v.version));
    await store.putJsonIf(
      s.goldBucket,
      stateKey(s.table, st.partition),
      { ...st, sources: st.sources.filter((x) => !done.has(x.key)), superseded: st.superseded.filter((v) => !doneVersions.has(v.version)) },
      got.etag,
    );
  }
  return { retired, waiting, unverified, changedAfterCommit, wouldRetire };
}
