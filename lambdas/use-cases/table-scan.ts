import { pendingKey, statePrefix } from '../core/keys';
import { hasPendingWork } from '../core/pending';
import type { ObjectStore } from '../core/ports';
import type { TableSettings } from '../core/settings';
import type { PartitionState } from '../core/state';
import { mapLimit } from '../core/concurrency';
import { catalogStatus, syncCatalog, type CatalogDeps } from './catalog-sync';
import { markPending, readIndex } from './pending-index';

/**
 * Every committed partition state of the table, with its ETag: one LIST per 1,000 partitions and
 * one GET each. Only for explicit commands (`partitions`, `catalog status|repair`): a run reads
 * the pending index instead.
 */
export async function allStates(store: ObjectStore, s: TableSettings): Promise<Array<{ value: PartitionState; etag: string }>> {
  const keys: string[] = [];
  for await (const o of store.list(s.goldBucket, statePrefix(s.table))) if (o.key.endsWith('/state.json')) keys.push(o.key);
  const got = await mapLimit(keys, 16, (k) => store.getJsonVersioned<PartitionState>(s.goldBucket, k));
  return got.filter((x): x is { value: PartitionState; etag: string } => x !== undefined);
}

export interface TableRepair {
  readonly partitions: number;
  /** Catalog entries created or repointed. */
  readonly updated: number;
  readonly drift: readonly string[];
  /** Partitions with pending work that the index did not hold (now indexed). */
  readonly indexed: readonly string[];
}

/**
 * The full scan a run never makes: brings the catalog in line with every committed state (as swap
 * does for the partitions of its run and the indexed ones), and indexes every partition that still
 * has work pending and was not indexed (a table committed before the index existed, an index
 * entry removed by hand).
 */
export async function repairTable(deps: CatalogDeps): Promise<TableRepair> {
  const { store, settings: s } = deps;
  const before = await allStates(store, s);
  const sync = await syncCatalog(deps, before.map((x) => x.value));
  const after = await allStates(store, s);
  const standing = await catalogStatus(deps, after.map((x) => x.value));
  const held = new Set((await readIndex(store, s)).map((x) => x.key));
  const missing = after.filter((x, i) => hasPendingWork(x.value, standing[i].standing) && !held.has(pendingKey(s.table, x.value.partition)));
  const at = deps.clock.now().toISOString();
  for (const x of missing) await markPending(store, s, { partition: x.value.partition, version: x.value.version, base: x.etag, at });
  return { partitions: after.length, updated: sync.updated, drift: sync.drift, indexed: missing.map((x) => x.value.partition) };
}
