import { pendingKey, pendingPrefix } from '../core/keys';
import type { PendingEntry } from '../core/pending';
import type { ObjectStore } from '../core/ports';
import type { TableSettings } from '../core/settings';
import type { PartitionState } from '../core/state';
import { mapLimit } from '../core/concurrency';
import { stateKey } from '../core/keys';

/** An entry as read, with the ETag its removal is conditional on. */
export interface IndexedPartition {
  readonly key: string;
  readonly etag: string;
  readonly entry: PendingEntry;
}

/**
 * Records that `partition` may have pending work. Written before the state commit it announces:
 * a run that dies between the two leaves an entry without a commit (harmless, removed later),
 * never a commit without an entry. The write replaces any entry there, and its bytes always differ
 * (the base ETag and the time), so a lifecycle that read the old entry cannot remove the new one.
 */
export async function markPending(store: ObjectStore, s: TableSettings, entry: PendingEntry): Promise<void> {
  await store.putJson(s.goldBucket, pendingKey(s.table, entry.partition), entry);
}

/** The index: one LIST per 1,000 entries, and one GET per entry not in `known` (partitions the caller already has). */
export async function readIndex(store: ObjectStore, s: TableSettings, known: ReadonlySet<string> = new Set()): Promise<IndexedPartition[]> {
  const skip = new Set([...known].map((p) => pendingKey(s.table, p)));
  const keys: string[] = [];
  for await (const o of store.list(s.goldBucket, pendingPrefix(s.table))) if (!skip.has(o.key)) keys.push(o.key);
  const read = await mapLimit(keys, 16, async (key) => {
    const got = await store.getJsonVersioned<PendingEntry>(s.goldBucket, key);
    return got && { key, etag: got.etag, entry: got.value };
  });
  return read.filter((x): x is IndexedPartition => x !== undefined);
}

/** The committed state of each indexed partition (undefined where its first commit never happened), with its ETag. */
export async function statesOf(store: ObjectStore, s: TableSettings, partitions: readonly string[]) {
  return mapLimit(partitions, 16, (p) => store.getJsonVersioned<PartitionState>(s.goldBucket, stateKey(s.table, p)));
}

/**
 * Removes an entry only while it is the one read: an entry rewritten since (a commit announced
 * meanwhile) is kept. Returns whether it was removed.
 */
export async function dropPending(store: ObjectStore, s: TableSettings, indexed: IndexedPartition): Promise<boolean> {
  const out = await store.deleteKeys(s.goldBucket, [{ key: indexed.key, etag: indexed.etag }]);
  return out.changed.length === 0 && out.missing.length === 0;
}
