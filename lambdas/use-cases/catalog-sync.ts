import { CatalogError, ConcurrentCommitError, InvalidInputError } from '../core/errors';
import { stateKey } from '../core/keys';
import type { Catalog, Clock, ObjectStore } from '../core/ports';
import type { TableSettings } from '../core/settings';
import { verified, type PartitionState } from '../core/state';
import { standingOf } from '../core/catalog-standing';
import { markPending } from './pending-index';

/** Shared by swap, rollback and the CLI's `catalog` command: the catalog against the committed states. */
export interface CatalogDeps {
  readonly store: ObjectStore;
  readonly catalog: Catalog;
  readonly settings: TableSettings;
  readonly clock: Clock;
}

export { standingOf, type CatalogStanding } from '../core/catalog-standing';

export interface CatalogSync {
  /** Entries created or repointed. */
  readonly updated: number;
  /** One line per drifted partition: where it points, what was committed, and what to do. */
  readonly drift: string[];
}

const valuesOf = (keys: readonly string[], st: PartitionState) => keys.map((k) => st.values[k]);

export const driftLine = (st: PartitionState, location: string) =>
  `${st.partition}: the catalog points at ${location}, not at a version this pipeline committed (current ${st.version} at ${st.location}); ` +
  `kept as it is: npm run compact -- catalog adopt|overrule --partition ${st.partition}`;

/**
 * Records that the catalog was read back pointing at the state's version: a compare-and-swap
 * that starts the grace of what it replaced. A state changed meanwhile is left to the next run.
 */
async function markVerified(deps: CatalogDeps, partition: string, version: string, at: string): Promise<PartitionState | undefined> {
  const { store, settings: s } = deps;
  for (let attempt = 0; attempt < 3; attempt++) {
    const got = await store.getJsonVersioned<PartitionState>(s.goldBucket, stateKey(s.table, partition));
    if (!got || got.value.version !== version) return undefined;
    if (got.value.verifiedAt) return got.value;
    const next = verified(got.value, at);
    try {
      await store.putJsonIf(s.goldBucket, stateKey(s.table, partition), next, got.etag);
      return next;
    } catch (e) {
      if (!(e instanceof ConcurrentCommitError)) throw e;
    }
  }
  return undefined;
}

/**
 * Brings the catalog in line with the committed states: creates missing entries and repoints
 * those behind, reads the catalog back to prove it, and records the verification on each state
 * it proved (the grace of replaced versions and new sources counts from that moment). Entries an
 * operator pointed elsewhere are kept and reported, never reverted silently.
 */
export async function syncCatalog(deps: CatalogDeps, states: readonly PartitionState[]): Promise<CatalogSync> {
  const { catalog, settings: s } = deps;
  if (!states.length) return { updated: 0, drift: [] };
  const current = await catalog.getPartitions(states.map((st) => valuesOf(s.partitionKeys, st)));
  const standing = states.map((st, i) => standingOf(st, current[i]?.location));
  const stale = states.filter((_, i) => standing[i] === 'missing' || standing[i] === 'behind');
  if (stale.length) await catalog.putPartitions(stale.map((st) => ({ values: valuesOf(s.partitionKeys, st), location: st.location })));

  const managed = states.filter((_, i) => standing[i] !== 'pinned' && standing[i] !== 'drift');
  const readBack = await catalog.getPartitions(managed.map((st) => valuesOf(s.partitionKeys, st)));
  const wrong = managed.filter((st, i) => readBack[i]?.location !== st.location);
  if (wrong.length) {
    throw new CatalogError(
      `catalog read-back differs for ${wrong.length} partition(s): ${wrong.slice(0, 5).map((st) => `${st.partition} -> ${st.location}`).join(', ')}`,
    );
  }
  const at = deps.clock.now().toISOString();
  for (const st of managed) if (!st.verifiedAt) await markVerified(deps, st.partition, st.version, at);
  return { updated: stale.length, drift: states.flatMap((st, i) => (standing[i] === 'drift' ? [driftLine(st, current[i]!.location)] : [])) };
}

async function stateOf(deps: CatalogDeps, partition: string) {
  const { store, settings: s } = deps;
  const got = await store.getJsonVersioned<PartitionState>(s.goldBucket, stateKey(s.table, partition));
  if (!got) throw new InvalidInputError(`partition ${partition} of ${s.table} has no committed version`);
  const [entry] = await deps.catalog.getPartitions([valuesOf(s.partitionKeys, got.value)]);
  return { ...got, location: entry?.location };
}

/** Keeps the catalog entry an operator set by hand: no longer reported as drift, never repointed, until overruled. */
export async function adoptCatalogEntry(deps: CatalogDeps, partition: string): Promise<PartitionState> {
  const { value: st, etag, location } = await stateOf(deps, partition);
  if (location === undefined) throw new InvalidInputError(`partition ${partition} has no catalog entry to adopt`);
  if (location === st.location) throw new InvalidInputError(`the catalog entry of ${partition} points at its committed version ${st.version}: nothing to adopt`);
  const next: PartitionState = { ...st, catalogPin: { location, at: deps.clock.now().toISOString() } };
  await deps.store.putJsonIf(deps.settings.goldBucket, stateKey(deps.settings.table, partition), next, etag);
  return next;
}

/** Points the catalog entry at the state's version whatever it points at now (an operator's command), and verifies it. */
export async function repointCatalog(deps: CatalogDeps, st: PartitionState): Promise<PartitionState> {
  const { store, catalog, settings: s } = deps;
  await catalog.putPartitions([{ values: valuesOf(s.partitionKeys, st), location: st.location }]);
  const { drift } = await syncCatalog(deps, [st]);
  if (drift.length) throw new CatalogError(`the catalog entry of ${st.partition} did not take ${st.location}: ${drift[0]}`);
  return (await store.getJson<PartitionState>(s.goldBucket, stateKey(s.table, st.partition))) ?? st;
}

/** Points the catalog entry back at the committed version, dropping an adopted location, and verifies it. */
export async function overruleCatalogEntry(deps: CatalogDeps, partition: string): Promise<PartitionState> {
  const { value: st, etag } = await stateOf(deps, partition);
  // Indexed, so that every swap checks the entry again until it holds.
  await markPending(deps.store, deps.settings, { partition, version: st.version, base: etag, at: deps.clock.now().toISOString() });
  if (!st.catalogPin) return repointCatalog(deps, st);
  const { catalogPin: _dropped, ...next } = st;
  await deps.store.putJsonIf(deps.settings.goldBucket, stateKey(deps.settings.table, partition), next, etag);
  return repointCatalog(deps, next);
}

/** Every committed partition with where its catalog entry stands. */
export async function catalogStatus(deps: CatalogDeps, states: readonly PartitionState[]) {
  const current = await deps.catalog.getPartitions(states.map((st) => valuesOf(deps.settings.partitionKeys, st)));
  return states.map((st, i) => ({ partition: st.partition, standing: standingOf(st, current[i]?.location), catalog: current[i]?.location, committed: st.location }));
}
