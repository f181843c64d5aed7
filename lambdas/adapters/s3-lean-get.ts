import { createHash, createHmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';
import type { S3Client } from '@aws-sdk/client-s3';
import { Pool } from 'undici';
import { RetryableError, SourceChangedError } from '../core/errors';

/**
 * GetObject without the SDK's per-request machinery (middleware stack, XML protocol layer):
 * undici's keep-alive pool and the SDK's own SigV4 signer. A tiny-file bin is bounded by the CPU
 * each GET costs, not by the network; this path costs a third of the SDK's (`npm run bench`).
 */
export interface LeanGetOptions {
  /** S3-compatible endpoint (path-style); unset: AWS S3 in `region` (virtual-hosted). */
  readonly endpoint?: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider;
  /** Connections per host, as many as the requests a caller keeps in flight. */
  readonly connections: number;
  /**
   * Attempts per object on a refused or dropped connection, a timeout before the headers,
   * 500/502/503/504 or SlowDown. Retry layers, one per concern: this one retries the request;
   * fetch-inputs' withRetries re-reads an object whose body was cut off after the headers; the
   * state machine retries the whole step on RetryableError (what is left after both).
   * @default 4
   */
  readonly attempts?: number;
  /** Milliseconds to wait for the response headers, and between two body chunks. @default 30000 */
  readonly timeoutMs?: number;
}

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the signer takes. */
class NodeSha256 implements Checksum {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(this.secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function toBytes(d: SourceData): Buffer {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

const UNRESERVED = /[A-Za-z0-9\-._~/]/;

/** A key as SigV4 and S3 expect it in the path: every byte but unreserved ones and `/` percent-encoded. */
export function encodeKeyPath(key: string): string {
  try {
    // encodeURIComponent leaves only !'()* of what SigV4 escapes: one native pass per key.
    return encodeURIComponent(key).replace(/%2F/g, '/').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  } catch {
    // A lone surrogate: encoded as Buffer.from encodes it.
  }
  let out = '';
  for (const ch of key) {
    if (UNRESERVED.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Origin and path of an object: path-style on a custom endpoint (or a bucket name with dots), else virtual-hosted. */
export function objectAddress(endpoint: URL | undefined, region: string, bucket: string, key: string): { origin: URL; path: string } {
  if (endpoint) return { origin: endpoint, path: `${endpoint.pathname.replace(/\/$/, '')}/${bucket}/${encodeKeyPath(key)}` };
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  if (bucket.includes('.')) return { origin: new URL(`https://s3.${region}.${suffix}`), path: `/${bucket}/${encodeKeyPath(key)}` };
  return { origin: new URL(`https://${bucket}.s3.${region}.${suffix}`), path: `/${encodeKeyPath(key)}` };
}

export interface LeanObject {
  readonly etag: string;
  readonly body: Readable & { arrayBuffer(): Promise<ArrayBuffer> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The S3 error code of an XML error body, when there is one. */
async function errorCode(body: Readable): Promise<string> {
  let text = '';
  for await (const c of body) {
    if (text.length < 4096) text += String(c);
  }
  return /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? '';
}

/** Connection-level failures worth another attempt (undici's socket/timeout errors, resets, DNS hiccups). */
const isTransient = (code: string | undefined) =>
  !!code && (/^UND_ERR_(SOCKET|CLOSED|CONNECT_TIMEOUT|HEADERS_TIMEOUT|BODY_TIMEOUT|ABORTED)$/.test(code) || code.startsWith('ECONN') || ['EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code));

export class LeanS3Getter {
  private readonly pools = new Map<string, Pool>();
  private readonly signer: SignatureV4;
  private readonly attempts: number;
  private readonly endpoint?: URL;

  constructor(private readonly o: LeanGetOptions) {
    this.signer = new SignatureV4({ credentials: o.credentials, region: o.region, service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
    this.attempts = o.attempts ?? 4;
    this.endpoint = o.endpoint ? new URL(o.endpoint) : undefined;
  }


  private pool(origin: URL): Pool {
    let p = this.pools.get(origin.origin);
    if (!p) {
      const timeout = this.o.timeoutMs ?? 30_000;
      p = new Pool(origin.origin, { connections: this.o.connections, keepAliveTimeout: 30_000, headersTimeout: timeout, bodyTimeout: timeout, connect: { timeout: 10_000 } });
      this.pools.set(origin.origin, p);
    }
    return p;
  }

  /** The object's body; SourceChangedError when its ETag is no longer `ifMatch` or it is gone. */
  async get(bucket: string, key: string, ifMatch?: string): Promise<LeanObject> {
    const { origin, path } = objectAddress(this.endpoint, this.o.region, bucket, key);
    const where = `s3://${bucket}/${key}`;
    for (let attempt = 1; ; attempt++) {
      let failure: string;
      try {
        const signed = await this.signer.sign({
          method: 'GET',
          protocol: origin.protocol,
          hostname: origin.hostname,
          port: origin.port ? Number(origin.port) : undefined,
          path,
          query: {},
          headers: { host: origin.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(ifMatch ? { 'if-match': ifMatch } : {}) },
        });
        const res = await this.pool(origin).request({ method: 'GET', path, headers: signed.headers as Record<string, string> });
        const etag = String(res.headers.etag ?? '');
        if (res.statusCode === 200) {
          // Servers that ignore If-Match still return the ETag: compare it ourselves too.
          if (ifMatch && etag && etag !== ifMatch) {
            await res.body.dump().catch(() => undefined);
            throw new SourceChangedError(`${where} changed after planning: ETag ${etag}, planned ${ifMatch}`);
          }
          return { etag, body: res.body };
        }
        const code = await errorCode(res.body).catch(() => '');
        if (res.statusCode === 412) throw new SourceChangedError(`${where} changed after planning (ETag is no longer ${ifMatch})`);
        if (res.statusCode === 404) throw new SourceChangedError(`${where} vanished after planning`);
        if (![500, 502, 503, 504].includes(res.statusCode) && code !== 'SlowDown') {
          throw new Error(`S3 get ${where}: HTTP ${res.statusCode}${code ? ` ${code}` : ''}`);
        }
        failure = `HTTP ${res.statusCode}${code ? ` ${code}` : ''}`;
      } catch (e) {
        const io = (e as NodeJS.ErrnoException).code;
        if (e instanceof SourceChangedError || !isTransient(io)) throw e;
        failure = (e as Error).message;
      }
      if (attempt >= this.attempts) throw new RetryableError(`S3 get ${where} failed after ${attempt} attempts: ${failure}`);
      await sleep(50 * 2 ** attempt * Math.random());
    }
  }

  /** The whole body in one buffer (no stream consumer per object); fails as {@link get} does, or when the body is cut off. */
  async getBytes(bucket: string, key: string, ifMatch?: string): Promise<Buffer> {
    return Buffer.from(await (await this.get(bucket, key, ifMatch)).body.arrayBuffer());
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}

/**
 * Buckets the lean path cannot address and that keep the SDK's GetObject: access point and
 * Outposts ARNs and multi-region access points (SigV4A), S3 Express directory buckets (session
 * auth) and Object Lambda access points.
 */
export const leanAddressable = (bucket: string): boolean => !bucket.startsWith('arn:') && !bucket.endsWith('--x-s3') && !bucket.endsWith('--ol-s3');

const flag = async (v: unknown): Promise<boolean> => Boolean(typeof v === 'function' ? await (v as () => Promise<unknown>)() : v);

/**
 * A lean getter that signs with the client's own credentials (the SDK's default provider chain,
 * session token included) for the client's region and endpoint; undefined where the client is
 * set up for endpoints the lean path does not build (accelerate, FIPS, dual-stack, or a custom
 * endpoint without path-style), which then keep the SDK.
 */
export async function leanGetterFor(client: S3Client, connections: number): Promise<LeanS3Getter | undefined> {
  const c = client.config;
  if ((await flag(c.useAccelerateEndpoint)) || (await flag(c.useFipsEndpoint)) || (await flag(c.useDualstackEndpoint))) return undefined;
  let endpoint: string | undefined;
  if (c.isCustomEndpoint) {
    if (!c.forcePathStyle || !c.endpoint) return undefined;
    const e = await c.endpoint();
    endpoint = `${e.protocol}//${e.hostname}${e.port ? `:${e.port}` : ''}${e.path ?? ''}`;
  }
  return new LeanS3Getter({ endpoint, region: await c.region(), credentials: c.credentials, connections });
}
