import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalCatalog } from '../../lambdas/adapters/local-catalog';
import type { GeneratedFile } from '../../local/generate';
import { MemoryStore } from '../../local/memory-store';
import { ManualClock } from './pipeline';
import { rowsFromParquetBuffers } from './rows';

export interface MemoryEnv {
  store: MemoryStore;
  clock: ManualClock;
  scratch: string;
}

/** A fresh in-memory S3 (landing and gold buckets), a manual clock and a scratch directory per test. */
export function useMemoryStore(name: string): MemoryEnv {
  const env = {} as MemoryEnv;
  beforeEach(async () => {
    env.clock = new ManualClock();
    env.store = new MemoryStore(['landing', 'gold'], env.clock);
    env.scratch = await mkdtemp(join(tmpdir(), `${name}-`));
  });
  afterEach(async () => {
    if (env.scratch) await rm(env.scratch, { recursive: true, force: true });
  });
  return env;
}

export function putAll(store: MemoryStore, bucket: string, files: readonly GeneratedFile[]): void {
  for (const f of files) store.putObject(bucket, f.key, f.body);
}

/** Rows of the Parquet files under an `s3://gold/...` location, as a reader of that location sees them. */
export function rowsAt(store: MemoryStore, location: string, dir: string): Promise<string[]> {
  const [, bucket, ...rest] = location.replace('s3://', '/').split('/');
  const keys = store.keys(bucket, rest.join('/')).filter((k) => k.endsWith('.parquet'));
  return rowsFromParquetBuffers(keys.map((k) => store.object(bucket, k)!.body), dir);
}

/** Rows a reader of the table sees for one partition: the files of the location the catalog points at. */
export async function visibleRows(store: MemoryStore, catalog: LocalCatalog, values: readonly string[], dir: string): Promise<string[]> {
  const [entry] = await catalog.getPartitions([values]);
  return entry ? rowsAt(store, entry.location, dir) : [];
}
