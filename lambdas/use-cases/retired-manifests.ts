import { retiredManifestKey, versionManifestsPrefix } from '../core/keys';
import type { ObjectStore } from '../core/ports';

/**
 * Moves the manifests of a retired version (its files are deleted) under the table's retired
 * prefix, where a bucket lifecycle rule expires them after the retention, counted from this copy.
 * Copy first, delete after: a run that dies in between moves the rest the next time, and a copy
 * made twice is the same manifest. Returns how many manifests moved.
 */
export async function retireManifests(store: ObjectStore, bucket: string, table: string, partition: string, version: string): Promise<number> {
  const found: Array<{ key: string; etag: string }> = [];
  for await (const o of store.list(bucket, versionManifestsPrefix(table, partition, version))) found.push(o);
  for (const o of found) await store.copy({ bucket, key: o.key }, { bucket, key: retiredManifestKey(table, o.key) }, o.etag);
  await store.deleteKeys(bucket, found.map((o) => ({ key: o.key, etag: o.etag })));
  return found.length;
}
