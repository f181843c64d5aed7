/**
 * The store's object bodies through the lean GET: signed as the loopback server verifies (hostile
 * keys, gzip), the exact request on the wire, where the SDK still serves, and which layer retries.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fetchInputs } from '../../lambdas/adapters/fetch-inputs';
import { makeS3Client, S3ObjectStore } from '../../lambdas/adapters/s3';
import { leanAddressable, leanGetterFor } from '../../lambdas/adapters/s3-lean-get';
import { RetryableError, SourceChangedError } from '../../lambdas/core/errors';
import type { SourceFile } from '../../lambdas/core/partitions';
import { sigv4Problem } from '../../local/sigv4-check';
import { useLoopback } from '../helpers/loopback';

const read = async (body: AsyncIterable<unknown>) => {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
};

const HOSTILE = ['dt=2024-12-19/a b+c=d.json', 'dt=2024-12-19/cr\rlf\n.json', 'dt=2024-12-19/😀 %41%2F%.json', 'dt=2024-12-19/(x)*!\'~é.jsonl.gz'];

describe('S3ObjectStore object bodies against the loopback server (SigV4 verified)', () => {
  const env = useLoopback('all', 'store-lean');
  let store: S3ObjectStore;
  let etags: Map<string, string>;
  const bodyOf = (key: string) => `{"k":${JSON.stringify(key)}}\n{"n":2}\n`;
  beforeAll(async () => {
    store = new S3ObjectStore(env.s3.client);
    etags = new Map();
    for (const key of HOSTILE) {
      const body = key.endsWith('.gz') ? gzipSync(bodyOf(key)) : bodyOf(key);
      const put = await env.s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key: key, Body: body }));
      etags.set(key, put.ETag!);
    }
  });
  afterAll(() => store.close());

  it.each(HOSTILE.filter((k) => !k.endsWith('.gz')))('reads %j with If-Match', async (key) => {
    expect(await read(await store.getStream('landing', key, etags.get(key)))).toBe(bodyOf(key));
  });

  it('fails a changed object with SourceChangedError (the server answers 412)', async () => {
    const key = HOSTILE[0];
    await expect(store.getStream('landing', key, '"ffffffffffffffffffffffffffffffff"')).rejects.toThrow(
      new SourceChangedError(`s3://landing/${key} changed after planning (ETag is no longer "ffffffffffffffffffffffffffffffff")`),
    );
  });

  it.each(HOSTILE)('reads %j whole with If-Match (the small-object path), 412 as SourceChangedError', async (key) => {
    const stored = key.endsWith('.gz') ? gzipSync(bodyOf(key)) : Buffer.from(bodyOf(key));
    const got = await store.getBytes('landing', key, etags.get(key));
    expect(got.toString('base64')).toBe(stored.toString('base64'));
    await expect(store.getBytes('landing', key, '"ffffffffffffffffffffffffffffffff"')).rejects.toThrow(
      new SourceChangedError(`s3://landing/${key} changed after planning (ETag is no longer "ffffffffffffffffffffffffffffffff")`),
    );
  });

  it('stages every hostile object of a bin, gzip included, with its records counted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'store-lean-fetch-'));
    try {
      const sources: SourceFile[] = HOSTILE.map((key) => ({ key, size: 0, etag: etags.get(key)!, format: key.endsWith('.gz') ? 'jsonl.gz' : 'jsonl' }));
      const staged = await fetchInputs(store, { landing: 'landing', gold: 'gold' }, sources, dir, { concurrency: 1 });
      expect([...staged.jsonRows.entries()]).toEqual(HOSTILE.map((k) => [k, 2]));
      expect(staged.jsonChunks).toHaveLength(1);
      expect(await readFile(staged.jsonChunks[0], 'utf8')).toBe(HOSTILE.map(bodyOf).join(''));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('S3ObjectStore object GETs on the wire', () => {
  let server: Server;
  let seen: IncomingMessage[] = [];
  let answer: (req: IncomingMessage, res: ServerResponse, n: number) => void = () => undefined;
  let endpoint = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      answer(req, res, seen.length);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    seen = [];
    answer = (_req, res) => {
      res.writeHead(200, { etag: '"e1"' });
      res.end('{"a":1}\n');
    };
  });
  const credentials = { accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' };
  const client = () => makeS3Client({ endpoint, region: 'eu-west-1', credentials, maxAttempts: 1 });
  const secret = (id: string) => (id === 'AKID' ? 'SECRET' : undefined);

  it.each([
    ['a b+c=d.json', '/landing/a%20b%2Bc%3Dd.json'],
    ['cr\rlf\n.json', '/landing/cr%0Dlf%0A.json'],
    ['😀 %41%.json', '/landing/%F0%9F%98%80%20%2541%25.json'],
    ['dt=2024/x/', '/landing/dt%3D2024/x/'],
  ])('GETs %j as exactly one signed request to %s, outside the SDK', async (key, path) => {
    const store = new S3ObjectStore(client());
    try {
      expect(await read(await store.getStream('landing', key, '"e1"'))).toBe('{"a":1}\n');
    } finally {
      await store.close();
    }
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect([req.method, req.url]).toEqual(['GET', path]);
    expect(req.headers).toMatchObject({ 'if-match': '"e1"', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-security-token': 'TOKEN' });
    // The SDK's own headers are absent: the request did not go through its middleware.
    expect([req.headers['x-amz-user-agent'], req.headers['amz-sdk-invocation-id']]).toEqual([undefined, undefined]);
    expect(req.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=host;if-match;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
    expect(sigv4Problem({ method: req.method!, url: req.url!, headers: req.headers }, secret)).toBeUndefined();
  });

  it('keeps the SDK GetObject when the lean path is turned off', async () => {
    const store = new S3ObjectStore(client(), { leanGet: false });
    expect(await read(await store.getStream('landing', 'a b.json', '"e1"'))).toBe('{"a":1}\n');
    expect(seen).toHaveLength(1);
    expect([seen[0].method, seen[0].url, seen[0].headers['if-match']]).toEqual(['GET', '/landing/a%20b.json?x-id=GetObject', '"e1"']);
    expect(seen[0].headers['amz-sdk-invocation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('retries a 503 SlowDown in the GET only: 4 requests, then RetryableError that the fetch does not retry again', async () => {
    answer = (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<Error><Code>SlowDown</Code></Error>');
    };
    const store = new S3ObjectStore(client());
    const dir = await mkdtemp(join(tmpdir(), 'store-lean-retry-'));
    try {
      const src: SourceFile = { key: 'k.json', size: 8, etag: '"e1"', format: 'jsonl' };
      await expect(fetchInputs(store, { landing: 'landing', gold: 'gold' }, [src], dir, { concurrency: 1 })).rejects.toThrow(
        new RetryableError('S3 get s3://landing/k.json failed after 4 attempts: HTTP 503 SlowDown'),
      );
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
    expect(seen).toHaveLength(4);
  });

  it('re-reads an object whose body is cut off after the headers, and stages it once', async () => {
    answer = (_req, res, n) => {
      res.writeHead(200, { etag: '"e1"', 'content-length': '16' });
      if (n === 1) {
        res.write('{"a":1}\n');
        setTimeout(() => res.socket?.destroy(), 20);
      } else res.end('{"a":1}\n{"b":2}\n');
    };
    const store = new S3ObjectStore(client());
    const dir = await mkdtemp(join(tmpdir(), 'store-lean-cut-'));
    try {
      const src: SourceFile = { key: 'k.json', size: 16, etag: '"e1"', format: 'jsonl' };
      const staged = await fetchInputs(store, { landing: 'landing', gold: 'gold' }, [src], dir, { concurrency: 1 });
      expect(staged.jsonRows.get('k.json')).toBe(2);
      expect(await readFile(staged.jsonChunks[0], 'utf8')).toBe('{"a":1}\n{"b":2}\n');
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
    expect(seen).toHaveLength(2);
  });
});

describe('where the SDK keeps the GET', () => {
  it.each([
    ['my-bucket', true],
    ['my.dotted.bucket', true],
    ['arn:aws:s3:eu-west-1:123456789012:accesspoint/ap', false],
    ['data--euw1-az1--x-s3', false],
    ['olap-alias--ol-s3', false],
  ])('bucket %s -> lean %s', (bucket, lean) => {
    expect(leanAddressable(bucket)).toBe(lean);
  });

  it.each([
    ['accelerate', { useAccelerateEndpoint: true }],
    ['FIPS', { useFipsEndpoint: true }],
    ['dual-stack', { useDualstackEndpoint: true }],
    ['a custom endpoint without path-style', { endpoint: 'https://s3.example.com', forcePathStyle: false }],
  ])('a client set up for %s', async (_what, config) => {
    expect(await leanGetterFor(new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, ...config }), 1)).toBeUndefined();
  });

  it('a plain AWS client gets the lean path, in its region', async () => {
    const lean = await leanGetterFor(new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }), 1);
    expect(lean).toBeDefined();
    await lean!.close();
  });
});
