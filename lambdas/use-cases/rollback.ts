import { InvalidInputError } from '../core/errors';
import { stateKey } from '../core/keys';
import type { Catalog, Clock, ObjectStore } from '../core/ports';
import type { TableSettings } from '../core/settings';
import { earlierVersions, supersede, type PartitionState } from '../core/state';
import { repointCatalog } from './catalog-sync';
import { markPending } from './pending-index';

export interface RollbackDeps {
  readonly store: ObjectStore;
  readonly catalog: Catalog;
  readonly settings: TableSettings;
  readonly clock: Clock;
}

/**
 * Points a partition back at an earlier committed version that has not been retired yet.
 * Landing files first committed after that version are no longer covered, so they are never
 * retired and the next run plans them again (remove or fix them first if they are the problem).
 */
export async function rollbackPartition(deps: RollbackDeps, partition: string, version: string): Promise<PartitionState> {
  const { store, settings: s } = deps;
  const current = await store.getJsonVersioned<PartitionState>(s.goldBucket, stateKey(s.table, partition));
  if (!current) throw new InvalidInputError(`partition ${partition} of ${s.table} has no committed version`);
  const st = current.value;
  if (st.version === version) return st;
  const target = earlierVersions(st).find((v) => v.version === version);
  if (!target) {
    const available = earlierVersions(st).map((v) => `${v.version} (committed ${v.committedAt})`).join(', ') || 'none';
    throw new InvalidInputError(`partition ${partition} has no earlier version ${version}; current ${st.version}, still available: ${available}`);
  }
  for (const f of target.files) {
    const head = await store.head(s.goldBucket, f.key);
    if (!head || head.bytes !== f.bytes) throw new InvalidInputError(`version ${version} of ${partition} is incomplete: s3://${s.goldBucket}/${f.key} is missing or changed`);
  }
  const now = deps.clock.now().toISOString();
  // Verified anew once the catalog shows the target; an adopted catalog location gives way to this command.
  const { verifiedAt: _unverified, catalogPin: _pin, ...rest } = st;
  const next: PartitionState = {
    ...rest,
    // The offsets the target version holds (undefined: none, dropped when stored).
    kafka: target.kafka,
    version: target.version,
    location: target.location,
    files: target.files,
    rows: target.rows,
    committedAt: now,
    planId: `rollback-from-${st.version}`,
    // States written before sources kept their commit time had it in `since`.
    sources: st.sources.filter((x) => Date.parse(x.committedAt ?? x.since) <= Date.parse(target.committedAt)),
    superseded: [...st.superseded.filter((v) => v !== target), supersede(st)],
  };
  // Indexed before the commit, as swap does: the version it replaces retires after the grace.
  await markPending(store, s, { partition, version: next.version, base: current.etag, at: now });
  await store.putJsonIf(s.goldBucket, stateKey(s.table, partition), next, current.etag);
  return repointCatalog(deps, next);
}
