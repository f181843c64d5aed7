import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { encodeKeyPath, LeanS3Getter, objectAddress } from '../../lambdas/adapters/s3-lean-get';
import { RetryableError, SourceChangedError } from '../../lambdas/core/errors';
import { LOCAL_CREDENTIALS } from '../../local/s3-server';
import { sigv4Problem } from '../../local/sigv4-check';
import { useLoopback } from '../helpers/loopback';

const read = async (body: AsyncIterable<unknown>) => {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
};

describe('SigV4 verification of the loopback server', () => {
  it('accepts the signature of the AWS documentation example (GET /test.txt) and refuses a changed request', () => {
    const headers = {
      host: 'examplebucket.s3.amazonaws.com',
      range: 'bytes=0-9',
      'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'x-amz-date': '20130524T000000Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,' +
        'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    };
    const secret = (id: string) => (id === 'AKIAIOSFODNN7EXAMPLE' ? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' : undefined);
    expect(sigv4Problem({ method: 'GET', url: '/test.txt', headers }, secret)).toBeUndefined();
    expect(sigv4Problem({ method: 'GET', url: '/test.txt', headers: { ...headers, range: 'bytes=0-10' } }, secret)).toBe('the signature does not match the request');
    expect(sigv4Problem({ method: 'GET', url: '/test.txt', headers: { ...headers, authorization: undefined } }, secret)).toBe('the request is not signed (no Authorization header)');
  });
});

describe('objectAddress', () => {
  it.each([
    [undefined, 'eu-west-1', 'my-bucket', 'a/b c.json', 'https://my-bucket.s3.eu-west-1.amazonaws.com', '/a/b%20c.json'],
    [undefined, 'us-east-1', 'my.dotted.bucket', 'k', 'https://s3.us-east-1.amazonaws.com', '/my.dotted.bucket/k'],
    ['http://127.0.0.1:9000', 'us-east-1', 'landing', "dt=2024 x/(1)*'!+é😀.json", 'http://127.0.0.1:9000', "/landing/dt%3D2024%20x/%281%29%2A%27%21%2B%C3%A9%F0%9F%98%80.json"],
  ])('%s %s s3://%s/%s -> %s%s', (endpoint, region, bucket, key, origin, path) => {
    const a = objectAddress(endpoint ? new URL(endpoint) : undefined, region, bucket, key);
    expect([a.origin.origin, a.path]).toEqual([origin, path]);
  });

  it('encodes every byte but unreserved ones and the slash', () => {
    expect(encodeKeyPath('a-b_c.d~e/f g')).toBe('a-b_c.d~e/f%20g');
    expect(encodeKeyPath("dt=2024/r (1)*'!+%é😀?#&")).toBe('dt%3D2024/r%20%281%29%2A%27%21%2B%25%C3%A9%F0%9F%98%80%3F%23%26');
    // A lone surrogate (never in a listed key) is encoded as UTF-8 encodes it: the replacement character.
    expect(encodeKeyPath('a\ud800b')).toBe('a%EF%BF%BDb');
  });
});

describe('LeanS3Getter against the loopback server', () => {
  const env = useLoopback('all', 'lean-get');
  const key = "sensors/dt=2024-12-19/hour=14/r (1)*'!+é.json";

  it('reads an object with If-Match, signed as the server verifies', async () => {
    const put = await env.s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key: key, Body: '{"a":1}\n' }));
    const lean = new LeanS3Getter({ endpoint: env.s3.endpoint, region: 'us-east-1', credentials: env.s3.client.config.credentials, connections: 2 });
    try {
      const got = await lean.get('landing', key, put.ETag);
      expect([got.etag, await read(got.body)]).toEqual([put.ETag, '{"a":1}\n']);
      // The server refuses the GET (412), as S3 does.
      await expect(lean.get('landing', key, '"0123456789abcdef0123456789abcdef"')).rejects.toThrow(
        new SourceChangedError(`s3://landing/${key} changed after planning (ETag is no longer "0123456789abcdef0123456789abcdef")`),
      );
      await expect(lean.get('landing', 'sensors/missing.json')).rejects.toThrow(new SourceChangedError('s3://landing/sensors/missing.json vanished after planning'));
    } finally {
      await lean.close();
    }
  });

  it('is refused when its signature is wrong, and does not retry that', async () => {
    const lean = new LeanS3Getter({ endpoint: env.s3.endpoint, region: 'us-east-1', credentials: async () => ({ ...LOCAL_CREDENTIALS, secretAccessKey: 'wrong' }), connections: 1 });
    try {
      await expect(lean.get('landing', key)).rejects.toThrow(`S3 get s3://landing/${key}: HTTP 403 SignatureDoesNotMatch`);
    } finally {
      await lean.close();
    }
  });
});

describe('LeanS3Getter requests', () => {
  let server: Server;
  let seen: IncomingMessage[] = [];
  let answers: Array<[number, string]> = [];
  let endpoint = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      const [status, body] = answers.shift() ?? [200, 'ok'];
      res.writeHead(status, { etag: '"00000000000000000000000000000001"', 'content-type': 'application/xml' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    seen = [];
    answers = [];
  });
  const getter = (attempts = 3) =>
    new LeanS3Getter({ endpoint, region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' }), connections: 1, attempts });

  it('sends one signed GET with If-Match, the session token and an unsigned payload', async () => {
    const lean = getter();
    try {
      const got = await lean.get('gold', 'a b/c.parquet', '"00000000000000000000000000000001"');
      expect(await read(got.body)).toBe('ok');
    } finally {
      await lean.close();
    }
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect([req.method, req.url]).toEqual(['GET', '/gold/a%20b/c.parquet']);
    expect(req.headers).toMatchObject({
      host: endpoint.slice('http://'.length),
      'if-match': '"00000000000000000000000000000001"',
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'x-amz-security-token': 'TOKEN',
    });
    expect(req.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    const day = String(req.headers['x-amz-date']).slice(0, 8);
    expect(req.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=AKID/${day}/eu-west-1/s3/aws4_request, SignedHeaders=host;if-match;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$`),
    );
    expect(sigv4Problem({ method: req.method!, url: req.url!, headers: req.headers }, (id) => (id === 'AKID' ? 'SECRET' : undefined))).toBeUndefined();
  });

  it('retries 503 SlowDown and 500, then returns the body', async () => {
    answers = [[503, '<Error><Code>SlowDown</Code></Error>'], [500, '<Error><Code>InternalError</Code></Error>'], [200, 'third time']];
    const lean = getter();
    try {
      expect(await read((await lean.get('gold', 'k')).body)).toBe('third time');
    } finally {
      await lean.close();
    }
    expect(seen).toHaveLength(3);
  });

  it('gives up as RetryableError after its attempts, naming the last failure', async () => {
    answers = [[503, '<Error><Code>SlowDown</Code></Error>'], [503, '<Error><Code>SlowDown</Code></Error>']];
    const lean = getter(2);
    try {
      await expect(lean.get('gold', 'k')).rejects.toThrow(new RetryableError('S3 get s3://gold/k failed after 2 attempts: HTTP 503 SlowDown'));
    } finally {
      await lean.close();
    }
    expect(seen).toHaveLength(2);
  });

  it.each([
    [412, new SourceChangedError('s3://gold/k changed after planning (ETag is no longer "x")')],
    [404, new SourceChangedError('s3://gold/k vanished after planning')],
    [403, new Error('S3 get s3://gold/k: HTTP 403 AccessDenied')],
  ])('does not retry HTTP %d', async (status, error) => {
    answers = [[status, '<Error><Code>AccessDenied</Code></Error>']];
    const lean = getter();
    try {
      await expect(lean.get('gold', 'k', '"x"')).rejects.toThrow(error);
    } finally {
      await lean.close();
    }
    expect(seen).toHaveLength(1);
  });
});
