import { createDecipheriv } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { makeS3Client } from '../lambdas/adapters/s3';
import { mapLimit } from '../lambdas/core/concurrency';
import { sigv4Verification } from './sigv4-check';

/**
 * A real S3-compatible server (s3rver) on loopback, with its data in a temp directory, plus the
 * conditional writes and deletes and the copy-source handling that s3rver lacks (see the
 * middlewares below).
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

/** Per-key locks: of two requests changing one key, the second waits until the first is done, as on S3. */
export class KeyLocks {
  private readonly locks = new Map<string, Promise<void>>();

  async with<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = previous.then(() => mine);
    this.locks.set(id, chained);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(id) === chained) this.locks.delete(id);
    }
  }
}

const PRECONDITION_FAILED = 'At least one of the pre-conditions you specified did not hold';

function preconditionFailed(ctx: KoaContext, condition: string): void {
  ctx.status = 412;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>${PRECONDITION_FAILED}</Message><Condition>${condition}</Condition></Error>`;
}

const etagOf = (store: MetadataStore, bucket: string, key: string) => store.getMetadata(bucket, key).then((m) => m.etag, () => undefined);

function objectOf(ctx: KoaContext): { bucket: string; key: string } {
  const [, bucket, ...rest] = ctx.path.split('/');
  return { bucket, key: rest.map(decodeURIComponent).join('/') };
}

/**
 * S3 conditional writes, which s3rver ignores: a PUT (plain or copy) or a CompleteMultipartUpload
 * with `If-None-Match: *` fails with 412 when the key exists, one with `If-Match: <etag>` when the
 * stored ETag differs. Every write of an object (conditional or not) and every single-object
 * DELETE holds the key's lock, so a condition is checked and acted on with no other change of
 * that key in between, and of two racing writers exactly one wins, as on S3.
 */
export function conditionalWrites(store: MetadataStore, locks: KeyLocks): Middleware {
  return async (ctx, next) => {
    const [, bucket, ...rest] = ctx.path.split('/');
    const write = (ctx.method === 'PUT' && !('partNumber' in ctx.query)) || (ctx.method === 'POST' && 'uploadId' in ctx.query);
    if (!bucket || !rest.length || (!write && ctx.method !== 'DELETE')) return next();
    const { key } = objectOf(ctx);
    const ifNoneMatch = ctx.get('if-none-match');
    const ifMatch = ctx.get('if-match');
    await locks.with(`${bucket}/${key}`, async () => {
      if (ifNoneMatch || ifMatch) {
        const current = await etagOf(store, bucket, key);
        if ((ifNoneMatch === '*' && current !== undefined) || (ifMatch !== '' && ifMatch !== current)) {
          return preconditionFailed(ctx, ifMatch ? 'If-Match' : 'If-None-Match');
        }
      }
      await next();
    });
  };
}

/** `If-Match` on GET, which s3rver ignores: a read of an object whose ETag changed fails with 412, as on S3. */
export function conditionalReads(store: MetadataStore): Middleware {
  return async (ctx, next) => {
    const ifMatch = ctx.get('if-match');
    const [, bucket, ...rest] = ctx.path.split('/');
    if (ctx.method !== 'GET' || !ifMatch || !bucket || !rest.length) return next();
    const { key } = objectOf(ctx);
    const current = await etagOf(store, bucket, key);
    if (current !== undefined && current !== ifMatch) return preconditionFailed(ctx, 'If-Match');
    await next();
  };
}

const xmlText = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e.toLowerCase()],
  );
const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const element = (xml: string, name: string) => new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)?.[1];

/**
 * DeleteObjects as S3 answers it, conditional deletes included (s3rver ignores the ETag and
 * deletes every key): an object given with an `ETag` is deleted only while it has that ETag,
 * otherwise reported in `Errors` as `PreconditionFailed` (`NoSuchKey` when it is gone); each
 * key is checked and deleted under its lock. Handled here whole: s3rver never sees the request.
 */
export function conditionalDeletes(store: MetadataStore & { deleteObject(bucket: string, key: string): Promise<void> }, locks: KeyLocks): Middleware {
  return async (ctx, next) => {
    const [, bucket, ...rest] = ctx.path.split('/');
    if (ctx.method !== 'POST' || !('delete' in ctx.query) || !bucket || rest.some(Boolean)) return next();
    const chunks: Buffer[] = [];
    for await (const c of (ctx as unknown as { req: AsyncIterable<Buffer> }).req) chunks.push(Buffer.from(c));
    const xml = chunks.length ? Buffer.concat(chunks).toString('utf8') : '';
    const objects = [...xml.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((m) => ({ key: xmlText(element(m[1], 'Key') ?? ''), etag: element(m[1], 'ETag') }));
    const quiet = element(xml, 'Quiet') === 'true';
    // Keys in parallel (each under its own lock), as s3rver deletes them.
    const results = await mapLimit(objects, 64, (o) =>
      locks.with(`${bucket}/${o.key}`, async () => {
        const key = `<Key>${xmlEscape(o.key)}</Key>`;
        const current = await etagOf(store, bucket, o.key);
        const expected = o.etag === undefined ? undefined : xmlText(o.etag);
        if (expected !== undefined && current === undefined) return `<Error>${key}<Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`;
        if (expected !== undefined && expected !== current) return `<Error>${key}<Code>PreconditionFailed</Code><Message>${PRECONDITION_FAILED}</Message></Error>`;
        // s3rver removes emptied folders after a delete and trips over a parallel delete that removed
        // them first (ENOENT): the object itself is gone by then.
        if (current !== undefined) await store.deleteObject(bucket, o.key).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
        return quiet ? '' : `<Deleted>${key}</Deleted>`;
      }),
    );
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${results.join('')}</DeleteResult>`;
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

/** S3's `EncodingType=url` encoding of a key: UTF-8 percent-encoded, `/` kept, a space as `+`. */
export const encodeListedKey = (key: string) => encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');

interface ListBody {
  ListBucketResult?: {
    Prefix?: string;
    StartAfter?: string;
    Delimiter?: string;
    EncodingType?: string;
    Contents?: Array<{ Key: string }>;
    CommonPrefixes?: Array<{ Prefix: string }>;
  };
}

/**
 * `encoding-type=url` on a listing, which s3rver ignores: S3 then encodes Key, Prefix, StartAfter,
 * Delimiter and CommonPrefixes (and says so in EncodingType). Without it a key holding `\r` is
 * returned raw and comes out of any XML parser as `\n`. Runs after s3rver's router, before its XML
 * rendering.
 */
export const listEncoding: Middleware = async (ctx, next) => {
  await next();
  const result = (ctx.body as ListBody | undefined)?.ListBucketResult;
  if (ctx.method !== 'GET' || ctx.query['encoding-type'] !== 'url' || !result) return;
  for (const field of ['Prefix', 'StartAfter', 'Delimiter'] as const) if (result[field]) result[field] = encodeListedKey(result[field]);
  for (const o of result.Contents ?? []) o.Key = encodeListedKey(o.Key);
  for (const p of result.CommonPrefixes ?? []) p.Prefix = encodeListedKey(p.Prefix);
  result.EncodingType = 'url';
};

/**
 * Continuation tokens for keys holding a line break: s3rver reads the key back out of its token
 * with a `.+` that stops at `\r` or `\n`, so the next page starts at a prefix of the key and lists
 * keys again. The token (DES over `region/bucket/key`, s3rver's own scheme) is read here instead
 * and given to s3rver as the `start-after` it stands for.
 */
export const continuationTokens: Middleware = async (ctx, next) => {
  const token = ctx.query['continuation-token'];
  if (ctx.method === 'GET' && ctx.query['list-type'] === '2' && typeof token === 'string' && token) {
    const buf = Buffer.from(token, 'base64');
    if (buf.length > 8) {
      const decipher = createDecipheriv('des', Buffer.alloc(8, 'S3RVER', 'utf8'), buf.subarray(0, 8));
      const text = Buffer.concat([decipher.update(buf.subarray(8)), decipher.final()]).toString('utf8');
      const m = /^[\w.-]+\/[\w.-]+\/([\s\S]+)$/.exec(text);
      if (m) {
        const { 'continuation-token': _token, ...rest } = ctx.query;
        (ctx as { query: Record<string, unknown> }).query = { ...rest, 'start-after': m[1] };
      }
    }
  }
  await next();
};

export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startLocalS3(buckets: readonly string[]): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  // Ahead of s3rver's own router, so preconditions are checked before any write or delete.
  const locks = new KeyLocks();
  server.middleware.unshift(
    sigv4Verification(LOCAL_CREDENTIALS),
    conditionalDeletes(server.store, locks),
    conditionalWrites(server.store, locks),
    conditionalReads(server.store),
    copySourceConditions(server.store),
    copySourceEncoding,
  );
  // Just before the router, so it edits the listing before it is rendered as XML.
  server.middleware.splice(server.middleware.length - 1, 0, continuationTokens, listEncoding);
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
