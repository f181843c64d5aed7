import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver');
import { makeS3Client } from '../lambdas/adapters/s3';
import { sigv4Verification } from './sigv4-check';

/**
 * A real S3-compatible server (s3rver) on loopback, with its data in a temp directory, plus the
 * the conditional writes and copy-source handling that s3rver lacks (see the middlewares below).
 */
export interface LocalS3 {
  readonly endpoint: string;
  readonly client: S3Client;
  readonly directory: string;
  close(): Promise<void>;
}

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, unknown>;
  get(header: string): string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface MetadataStore {
  getMetadata(bucket: string, key: string): Promise<{ etag: string }>;
}

/**
 * S3 conditional writes, which s3rver ignores: a PUT with `If-None-Match: *` fails with 412 when
 * the key exists, one with `If-Match: <etag>` when the stored ETag differs. Checked and written
 * under a per-key lock, so of two racing writers exactly one wins, as on S3.
 */
export function conditionalWrites(store: MetadataStore): Middleware {
  const locks = new Map<string, Promise<void>>();
  return async (ctx, next) => {
    const ifNoneMatch = ctx.get('if-none-match');
    const ifMatch = ctx.get('if-match');
    if (ctx.method !== 'PUT' || (!ifNoneMatch && !ifMatch) || ctx.get('x-amz-copy-source') || 'partNumber' in ctx.query) return next();
    const [, bucket, ...rest] = ctx.path.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const id = `${bucket}/${key}`;
    const previous = locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = previous.then(() => mine);
    locks.set(id, chained);
    await previous;
    try {
      const current = await store.getMetadata(bucket, key).then((m) => m.etag, () => undefined);
      const failed = (ifNoneMatch === '*' && current !== undefined) || (ifMatch !== '' && ifMatch !== current);
      if (failed) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>${ifMatch ? 'If-Match' : 'If-None-Match'}</Condition></Error>`;
        return;
      }
      await next();
    } finally {
      release();
      if (locks.get(id) === chained) locks.delete(id);
    }
  };
}

/**
 * S3 URL-decodes `x-amz-copy-source` whole; s3rver applies `decodeURI`, which leaves `%3D` (`=`),
 * `%2B` (`+`) and the like encoded and then finds no such key. Re-encoding the decoded source with
 * `encodeURI`, which `decodeURI` reverses exactly, gives s3rver the key S3 would have read.
 */
export const copySourceEncoding: Middleware = async (ctx, next) => {
  const source = ctx.headers['x-amz-copy-source'];
  if (typeof source === 'string') ctx.headers['x-amz-copy-source'] = encodeURI(decodeURIComponent(source));
  await next();
};

/** `x-amz-copy-source-if-match`, which s3rver ignores: a copy from a source whose ETag changed fails with 412. */
export function copySourceConditions(store: MetadataStore): Middleware {
  return async (ctx, next) => {
    const source = ctx.headers['x-amz-copy-source'];
    const ifMatch = ctx.get('x-amz-copy-source-if-match');
    if (ctx.method !== 'PUT' || typeof source !== 'string' || !ifMatch) return next();
    const [bucket, ...rest] = decodeURIComponent(source).replace(/^\//, '').split('/');
    const current = await store.getMetadata(bucket, rest.join('/')).then((m) => m.etag, () => undefined);
    if (current !== undefined && current !== ifMatch) {
      ctx.status = 412;
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>x-amz-copy-source-If-Match</Condition></Error>`;
      return;
    }
    await next();
  };
}

export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startLocalS3(buckets: readonly string[]): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  // Ahead of s3rver's own router, so preconditions are checked before any write.
  server.middleware.unshift(sigv4Verification(LOCAL_CREDENTIALS), conditionalWrites(server.store), copySourceConditions(server.store), copySourceEncoding);
  const address: AddressInfo = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = makeS3Client({ endpoint, credentials: LOCAL_CREDENTIALS });
  try {
    for (const Bucket of buckets) await client.send(new CreateBucketCommand({ Bucket }));
  } catch (e) {
    client.destroy();
    await server.close();
    await rm(directory, { recursive: true, force: true });
    throw e;
  }
  return {
    endpoint,
    client,
    directory,
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
