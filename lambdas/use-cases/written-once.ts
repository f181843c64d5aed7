import { ConcurrentCommitError, VerificationError } from '../core/errors';
import { stateKey } from '../core/keys';
import type { Clock, ObjectStore, ParquetEngine, Scratch, Workspace } from '../core/ports';
import type { EngineSettings, TableSettings } from '../core/settings';
import type { PartitionState } from '../core/state';

/** What the compact and merge steps both run with. */
export interface ParquetStepDeps {
  readonly store: ObjectStore;
  readonly settings: TableSettings;
  readonly engine: EngineSettings;
  /** Reads the inputs and writes the Parquet files (DuckDB in production). */
  readonly parquet: ParquetEngine;
  readonly scratch: Scratch;
  readonly clock: Clock;
}

/** What writing a local Parquet file once needs: the store, the engine to read a file already there, and scratch. */
export interface WriteOnceDeps {
  readonly store: ObjectStore;
  readonly parquet: ParquetEngine;
  readonly ws: Workspace;
}

/**
 * A committed version's objects are never written again: its bins and merges have verified
 * manifests (a rerun reuses them), and if they are gone (the version was retired) nothing is brought back.
 */
export async function refuseCommitted(store: ObjectStore, s: TableSettings, at: { partition: string; version: string }, where: string): Promise<void> {
  const st = await store.getJson<PartitionState>(s.goldBucket, stateKey(s.table, at.partition));
  if (st && (st.version === at.version || st.superseded.some((v) => v.version === at.version))) {
    throw new ConcurrentCommitError(`${where}: version ${at.version} was committed and its files are gone or changed; a committed version's objects are never written again`);
  }
}

/**
 * The file at the output key when this attempt's create-only upload found one: another attempt's
 * (a run that died before its manifest, or one racing this one). Kept if it holds exactly these
 * rows (same count and checksum), never replaced.
 */
export async function adoptExisting(
  { store, parquet, ws }: WriteOnceDeps,
  bucket: string,
  key: string,
  expected: { rows: number; checksum: string },
  where: string,
  what = 'bin',
): Promise<{ bytes: number; etag: string }> {
  const head = await store.head(bucket, key);
  if (!head) throw new VerificationError(`${where}: s3://${bucket}/${key} was there at the upload and is gone now`);
  const path = await ws.save('existing.parquet', await store.getStream(bucket, key, head.etag));
  const found = await parquet.checksum(path).catch((e: Error) => ({ rows: -1, checksum: `unreadable: ${e.message}` }));
  if (found.rows !== expected.rows || found.checksum !== expected.checksum) {
    throw new VerificationError(
      `${where}: s3://${bucket}/${key} already exists with other rows (${found.rows} rows, checksum ${found.checksum}) than this ${what} ` +
        `(${expected.rows} rows, checksum ${expected.checksum}); it is never replaced: remove it if no committed version lists it, then rerun`,
    );
  }
  return head;
}

/**
 * Uploads a verified local Parquet file create-only; a file already there is adopted if it holds
 * exactly these rows (see {@link adoptExisting}), else the upload fails. Returns what the key holds.
 */
export async function uploadOnce(
  deps: WriteOnceDeps,
  bucket: string,
  key: string,
  path: string,
  expected: { rows: number; checksum: string; bytes: number },
  where: string,
  what = 'bin',
): Promise<{ bytes: number; etag: string; adopted: boolean }> {
  try {
    const up = await deps.store.uploadFile(bucket, key, path, 'application/vnd.apache.parquet', { createOnly: true });
    if (up.bytes !== expected.bytes) throw new VerificationError(`${where}: uploaded s3://${bucket}/${key} has ${up.bytes} bytes, wrote ${expected.bytes}`);
    return { ...up, adopted: false };
  } catch (err) {
    if (!(err instanceof ConcurrentCommitError)) throw err;
    return { ...(await adoptExisting(deps, bucket, key, expected, where, what)), adopted: true };
  }
}

/**
 * Writes a step's manifest create-only. When a racing attempt wrote it first, its manifest stands
 * if `verified` (read back and its files still as written) proves the same files; else the step fails.
 */
export async function writeManifestOnce<M>(
  store: ObjectStore,
  bucket: string,
  key: string,
  manifest: M,
  verified: () => Promise<M | undefined>,
  same: (theirs: M) => boolean,
  where: string,
): Promise<M> {
  try {
    await store.putJsonIf(bucket, key, manifest, undefined);
    return manifest;
  } catch (err) {
    if (!(err instanceof ConcurrentCommitError)) throw err;
    const theirs = await verified();
    if (!theirs || !same(theirs)) throw new VerificationError(`${where}: s3://${bucket}/${key} was written by another attempt for other files`, { cause: err });
    return theirs;
  }
}
