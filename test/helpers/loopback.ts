import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3ObjectStore } from '../../lambdas/adapters/s3';
import { startLocalS3, type LocalS3 } from '../../local/s3-server';

export interface Loopback {
  s3: LocalS3;
  store: S3ObjectStore;
  scratch: string;
}

/**
 * A fresh loopback S3 server with the landing and gold buckets and a scratch directory, for
 * each test (`each`) or the whole file (`all`); read the fields inside tests only.
 */
export function useLoopback(scope: 'each' | 'all', name: string): Loopback {
  const env = {} as Loopback;
  const [before, after] = scope === 'each' ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    env.s3 = await startLocalS3(['landing', 'gold']);
    env.store = new S3ObjectStore(env.s3.client);
    env.scratch = await mkdtemp(join(tmpdir(), `${name}-`));
  });
  after(async () => {
    await env.s3?.close();
    if (env.scratch) await rm(env.scratch, { recursive: true, force: true });
  });
  return env;
}
