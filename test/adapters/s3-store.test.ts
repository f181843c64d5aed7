import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { S3ObjectStore } from '../../lambdas/adapters/s3';
import { ConcurrentCommitError, SourceChangedError } from '../../lambdas/core/errors';
import { mapLimit } from '../../lambdas/core/concurrency';
import { startLocalS3, type LocalS3 } from '../../local/s3-server';

let s3: LocalS3;
let store: S3ObjectStore;
let scratch: string;
beforeAll(async () => {
  s3 = await startLocalS3(['store-test', 'store-other']);
  // 5 MB parts (S3's minimum), so a 6 MB file goes through CreateMultipartUpload/CompleteMultipartUpload.
  store = new S3ObjectStore(s3.client, { multipartPartBytes: 5 * 1024 * 1024 });
  scratch = await mkdtemp(join(tmpdir(), 's3-store-test-'));
});
afterAll(async () => {
  await s3?.close();
  await rm(scratch, { recursive: true, force: true });
});

const text = async (key: string) => (await store.getStream('store-test', key)).toArray().then((c) => Buffer.concat(c).toString());
const etagOf = async (key: string) => (await store.head('store-test', key))?.etag;

describe('S3ObjectStore against the loopback server', () => {
  it('creates only when absent, and replaces only the version it read', async () => {
    await store.putJsonIf('store-test', 'state/x.json', { v: 1 }, undefined);
    await expect(store.putJsonIf('store-test', 'state/x.json', { v: 2 }, undefined)).rejects.toThrow(ConcurrentCommitError);
    const read = (await store.getJsonVersioned<{ v: number }>('store-test', 'state/x.json'))!;
    expect(read.value).toEqual({ v: 1 });
    await store.putJsonIf('store-test', 'state/x.json', { v: 2 }, read.etag);
    await expect(store.putJsonIf('store-test', 'state/x.json', { v: 3 }, read.etag)).rejects.toMatchObject({
      name: 'ConcurrentCommitError',
      message: `s3://store-test/state/x.json was changed by someone else (expected ETag ${read.etag})`,
    });
    expect((await store.getJson('store-test', 'state/x.json'))).toEqual({ v: 2 });
  });

  it('lets exactly one of many racing writers win', async () => {
    const read = await store.getJsonVersioned('store-test', 'state/race.json');
    expect(read).toBeUndefined();
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.putJsonIf('store-test', 'state/race.json', { writer: i }, undefined)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof ConcurrentCommitError)).toHaveLength(7);
  });

  it('refuses to read a source whose ETag changed since planning', async () => {
    await store.putJson('store-test', 'src/a.json', { a: 1 });
    const etag = (await store.head('store-test', 'src/a.json'))!.etag;
    await store.putJson('store-test', 'src/a.json', { a: 2 });
    await expect(store.getStream('store-test', 'src/a.json', etag)).rejects.toThrow(SourceChangedError);
    await expect(store.getStream('store-test', 'src/missing.json', etag)).rejects.toMatchObject({
      name: 'SourceChangedError',
      message: 's3://store-test/src/missing.json vanished after planning',
    });
  });

  it('copies keys with reserved characters to another bucket, only while the source has the ETag given', async () => {
    const key = 'dt=2024-12-19/hour=14/a b+c%2F;d,e@f$&g.json';
    await store.putJson('store-test', key, { odd: true });
    const etag = (await store.head('store-test', key))!.etag;
    await store.copy({ bucket: 'store-test', key }, { bucket: 'store-other', key: `q/${key}` }, etag);
    expect(await store.getJson('store-other', `q/${key}`)).toEqual({ odd: true });
    await store.putJson('store-test', key, { odd: false });
    await expect(store.copy({ bucket: 'store-test', key }, { bucket: 'store-other', key: 'q/again.json' }, etag)).rejects.toMatchObject({
      name: 'SourceChangedError',
      message: `s3://store-test/${key} changed (ETag is no longer ${etag})`,
    });
  });

  it('lists every key exactly as it was written, whatever bytes it holds, and reads each back', async () => {
    const keys = ['odd/a\rb.json', 'odd/a\nb.json', 'odd/a\r\nb.json', 'odd/a b.json', 'odd/a+b.json', 'odd/100%.json', 'odd/%2B.json', 'odd/😀 é.json', 'odd/<&>\'".json', 'odd/tab\t.json'];
    for (const [i, k] of keys.entries()) await store.putJson('store-test', k, i);
    const listed: string[] = [];
    for await (const o of store.list('store-test', 'odd/')) listed.push(o.key);
    expect(listed.sort()).toEqual([...keys].sort());
    for (const [i, k] of keys.entries()) expect(await store.getJson('store-test', k)).toBe(i);
    // The prefix is sent and matched as the bytes it holds too.
    const under: string[] = [];
    for await (const o of store.list('store-test', 'odd/a\r')) under.push(o.key);
    expect(under.sort()).toEqual(['odd/a\r\nb.json', 'odd/a\rb.json']);
  });

  it('lists past 1000 keys, copies server-side and deletes in batches', async () => {
    // The last key of the first page holds a line break: the next page starts right after it.
    await mapLimit(Array.from({ length: 1003 }, (_, i) => i), 16, (i) => store.putJson('store-test', `many/${String(i).padStart(5, '0')}${i % 500 === 499 ? 'a\r\nb' : ''}.json`, i));
    const keys: string[] = [];
    for await (const o of store.list('store-test', 'many/')) keys.push(o.key);
    expect(keys).toHaveLength(1003);
    expect(new Set(keys).size).toBe(1003);
    await store.copy({ bucket: 'store-test', key: 'many/00001.json' }, { bucket: 'store-test', key: 'copied/one.json' });
    expect(await store.getJson('store-test', 'copied/one.json')).toBe(1);
    expect(await store.deleteKeys('store-test', keys.map((key) => ({ key })))).toEqual({ changed: [], missing: [] });
    const left: string[] = [];
    for await (const o of store.list('store-test', 'many/')) left.push(o.key);
    expect(left).toEqual([]);
  });

  it('deletes an object only while it has the ETag given, and says which keys changed or were gone', async () => {
    for (const k of ['a', 'b', 'c']) await store.putJson('store-test', `cond/${k}.json`, { k });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((k) => etagOf(`cond/${k}.json`)));
    await store.putJson('store-test', 'cond/b.json', { k: 'b', rewritten: true });
    const out = await store.deleteKeys('store-test', [
      { key: 'cond/a.json', etag: a },
      { key: 'cond/b.json', etag: b },
      { key: 'cond/c.json', etag: c },
      { key: 'cond/gone.json', etag: c },
    ]);
    expect(out).toEqual({ changed: ['cond/b.json'], missing: ['cond/gone.json'] });
    const left: string[] = [];
    for await (const o of store.list('store-test', 'cond/')) left.push(o.key);
    expect(left).toEqual(['cond/b.json']);
    expect(await text('cond/b.json')).toBe('{"k":"b","rewritten":true}');
  });

  it('never loses the new content of a key rewritten while a conditional delete of its old content runs', async () => {
    const keys = Array.from({ length: 24 }, (_, i) => `race/${String(i).padStart(2, '0')}.json`);
    await mapLimit(keys, 8, (k) => store.putJson('store-test', k, { v: 'old' }));
    const old = await mapLimit(keys, 8, (k) => etagOf(k));
    // Each key: a writer puts new content while the delete of the old ETag is in flight.
    const [deleted] = await Promise.all([
      store.deleteKeys('store-test', keys.map((key, i) => ({ key, etag: old[i] }))),
      mapLimit(keys, 24, (k) => store.putJson('store-test', k, { v: 'new' })),
    ]);
    expect(await mapLimit(keys, 8, (k) => text(k))).toEqual(keys.map(() => '{"v":"new"}'));
    expect(deleted.missing).toEqual([]);
  });

  it('never replaces an object with a create-only upload or copy, single-part or multipart, and lets one of racing uploads win', async () => {
    const small = join(scratch, 'small.bin');
    const large = join(scratch, 'large.bin');
    await writeFile(small, 'first');
    await writeFile(large, randomBytes(6 * 1024 * 1024));
    const stored = await store.uploadFile('store-test', 'once/small.bin', small, 'application/octet-stream', { createOnly: true });
    expect(stored).toEqual({ bytes: 5, etag: await etagOf('once/small.bin') });
    await writeFile(small, 'second');
    await expect(store.uploadFile('store-test', 'once/small.bin', small, 'application/octet-stream', { createOnly: true })).rejects.toMatchObject({
      name: 'ConcurrentCommitError',
      message: 's3://store-test/once/small.bin already exists and is never replaced',
    });
    await expect(store.uploadFile('store-test', 'once/small.bin', large, 'application/octet-stream', { createOnly: true })).rejects.toMatchObject({ name: 'ConcurrentCommitError' });
    await expect(store.copy({ bucket: 'store-test', key: 'cond/b.json' }, { bucket: 'store-test', key: 'once/small.bin' }, undefined, { createOnly: true })).rejects.toMatchObject({
      name: 'ConcurrentCommitError',
    });
    expect(await text('once/small.bin')).toBe('first');

    const racers = await Promise.allSettled(
      [large, large, small].map((path) => store.uploadFile('store-test', 'once/raced.bin', path, 'application/octet-stream', { createOnly: true })),
    );
    expect(racers.map((r) => r.status).filter((st) => st === 'fulfilled')).toHaveLength(1);
    expect(racers.filter((r) => r.status === 'rejected').map((r) => r.reason.name)).toEqual(['ConcurrentCommitError', 'ConcurrentCommitError']);
    const winner = racers.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ bytes: number; etag: string }>;
    expect(await store.head('store-test', 'once/raced.bin')).toEqual(winner.value);
  });
});

describe('S3ObjectStore listing keys a server encodes', () => {
  it('decodes url-encoded keys, and reports a key that does not decode instead of guessing', async () => {
    const mock = mockClient(S3Client);
    mock.on(ListObjectsV2Command).resolves({
      EncodingType: 'url',
      Contents: [
        { Key: 'dt%3D1/a+b%0D.json', Size: 3, ETag: '"e1"' },
        { Key: 'dt%3D1/bad%E0%A4.json', Size: 4, ETag: '"e2"' },
      ],
    });
    const listed: unknown[] = [];
    for await (const o of new S3ObjectStore(new S3Client({ region: 'us-east-1' })).list('b', 'dt=1/')) listed.push(o);
    expect(mock.commandCalls(ListObjectsV2Command)[0].args[0].input).toMatchObject({ Bucket: 'b', Prefix: 'dt=1/', EncodingType: 'url' });
    expect(listed).toEqual([
      { key: 'dt=1/a b\r.json', size: 3, etag: '"e1"', lastModified: new Date(0).toISOString() },
      { key: 'dt%3D1/bad%E0%A4.json', size: 4, etag: '"e2"', lastModified: new Date(0).toISOString(), keyError: 'listed key "dt%3D1/bad%E0%A4.json" is not a valid URL encoding' },
    ]);
    mock.restore();
  });
});
