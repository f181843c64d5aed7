import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { S3ObjectStore } from '../../lambdas/adapters/s3';
import { ConcurrentCommitError, SourceChangedError } from '../../lambdas/core/errors';
import { mapLimit } from '../../lambdas/core/concurrency';
import { startLocalS3, type LocalS3 } from '../../local/s3-server';

let s3: LocalS3;
let store: S3ObjectStore;
beforeAll(async () => {
  s3 = await startLocalS3(['store-test', 'store-other']);
  store = new S3ObjectStore(s3.client);
});
afterAll(() => s3?.close());

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
    await store.deleteKeys('store-test', keys);
    const left: string[] = [];
    for await (const o of store.list('store-test', 'many/')) left.push(o.key);
    expect(left).toEqual([]);
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
