import type { BinManifest } from '../core/contracts';
import type { MergeManifest } from '../core/merge-contracts';
import type { ObjectStore } from '../core/ports';

// Manifest reads shared by compact, merge and swap, kept free of the engine so swap bundles without DuckDB.

/** True when the object is still the file a manifest verified: same size, and the same ETag when one was recorded. */
export async function stillWritten(store: ObjectStore, bucket: string, file: { key: string; bytes: number; etag?: string }): Promise<boolean> {
  const head = await store.head(bucket, file.key);
  return !!head && head.bytes === file.bytes && (!file.etag || head.etag === file.etag);
}

/** The bin's verified manifest, if one exists and its file is still the one it verified. */
export async function verifiedManifest(store: ObjectStore, bucket: string, key: string): Promise<BinManifest | undefined> {
  const m = await store.getJson<BinManifest>(bucket, key);
  if (!m || m.output.empty) return m;
  return (await stillWritten(store, bucket, m.output)) ? m : undefined;
}

/** The merge's manifest, if one exists and every file it lists is still the one it verified. */
export async function verifiedMergeManifest(store: ObjectStore, bucket: string, key: string): Promise<MergeManifest | undefined> {
  const m = await store.getJson<MergeManifest>(bucket, key);
  if (!m) return undefined;
  for (const f of m.outputs) if (!(await stillWritten(store, bucket, f))) return undefined;
  return m;
}
