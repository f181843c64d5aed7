/**
 * The in-memory store against the S3 adapter on the loopback server: the same calls give the same
 * results and the same errors (ETags included), so use-case tests on it mean what they say.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3ObjectStore } from '../../lambdas/adapters/s3';
import type { ObjectStore } from '../../lambdas/core/ports';
import { MemoryStore, s3Etag } from '../../local/memory-store';
import { startLocalS3, type LocalS3 } from '../../local/s3-server';

let s3: LocalS3;
let dir: string;
beforeAll(async () => {
  s3 = await startLocalS3(['mem-a', 'mem-b']);
  dir = await mkdtemp(join(tmpdir(), 'memory-store-test-'));
});
afterAll(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const text = async (store: ObjectStore, bucket: string, key: string) => Buffer.concat(await (await store.getStream(bucket, key)).toArray()).toString();

/** A script of calls; each step's outcome is its value or its error's name and message. */
async function script(store: ObjectStore): Promise<unknown[]> {
  const out: unknown[] = [];
  const step = async (what: string, fn: () => Promise<unknown>) =>
    out.push([what, await fn().then((v) => ({ ok: v ?? null }), (e: Error) => ({ error: e.name, message: e.message }))]);
  const etag = async (k: string) => (await store.head('mem-a', k))?.etag;
  const file = join(dir, 'part.parquet');
  await writeFile(file, 'PAR1 not really');

  await step('put json', () => store.putJson('mem-a', 'p/a.json', { a: 1 }));
  await step('head', () => store.head('mem-a', 'p/a.json'));
  await step('head missing', () => store.head('mem-a', 'p/none.json'));
  await step('get json missing', () => store.getJson('mem-a', 'p/none.json'));
  await step('create', () => store.putJsonIf('mem-a', 'p/state.json', { v: 1 }, undefined));
  await step('create again', () => store.putJsonIf('mem-a', 'p/state.json', { v: 2 }, undefined));
  const v1 = (await store.getJsonVersioned('mem-a', 'p/state.json'))!.etag;
  await step('replace read version', () => store.putJsonIf('mem-a', 'p/state.json', { v: 2 }, v1));
  await step('replace stale version', () => store.putJsonIf('mem-a', 'p/state.json', { v: 3 }, v1));
  await step('read versioned', () => store.getJsonVersioned('mem-a', 'p/state.json'));
  await store.putText('mem-b', 'r/bad.json', '{"jsonl": 0.2', 'application/json');
  await step('get json that is not JSON', () => store.getJson('mem-b', 'r/bad.json'));
  await step('read versioned json that is not JSON', () => store.getJsonVersioned('mem-b', 'r/bad.json'));
  await step('upload create-only', () => store.uploadFile('mem-a', 'p/v=1/part.parquet', file, 'application/vnd.apache.parquet', { createOnly: true }));
  await step('upload create-only again', () => store.uploadFile('mem-a', 'p/v=1/part.parquet', file, 'application/vnd.apache.parquet', { createOnly: true }));
  await step('copy create-only onto it', () => store.copy({ bucket: 'mem-a', key: 'p/a.json' }, { bucket: 'mem-a', key: 'p/v=1/part.parquet' }, undefined, { createOnly: true }));
  await step('copy if source unchanged', async () => {
    await store.copy({ bucket: 'mem-a', key: 'p/a.json' }, { bucket: 'mem-b', key: 'q/a b+c=d.json' }, await etag('p/a.json'), { createOnly: true });
    return text(store, 'mem-b', 'q/a b+c=d.json');
  });
  await step('copy if source changed', () => store.copy({ bucket: 'mem-a', key: 'p/a.json' }, { bucket: 'mem-b', key: 'q/x.json' }, '"0123"'));
  await step('copy missing', () => store.copy({ bucket: 'mem-a', key: 'p/none.json' }, { bucket: 'mem-b', key: 'q/y.json' }));
  await step('read if unchanged', async () => text(store, 'mem-a', 'p/a.json'));
  await step('read if changed', () => store.getStream('mem-a', 'p/a.json', '"0123"'));
  await step('read vanished', () => store.getStream('mem-a', 'p/none.json', '"0123"'));
  for (const k of ['p/b.json', 'p/c.json', 'p/é.json', 'p/Z.json', 'p/a+b.json', 'p/a%2F.json']) await store.putJson('mem-a', k, { k });
  const b = await etag('p/b.json');
  await store.putJson('mem-a', 'p/b.json', { k: 'rewritten' });
  await step('list in byte order', async () => {
    const seen = [];
    for await (const o of store.list('mem-a', 'p/')) seen.push([o.key, o.size, o.etag]);
    return seen;
  });
  await step('conditional delete', async () =>
    store.deleteKeys('mem-a', [
      { key: 'p/a.json', etag: await etag('p/a.json') },
      { key: 'p/b.json', etag: b },
      { key: 'p/gone.json', etag: b },
      { key: 'p/c.json' },
      { key: 'p/never.json' },
    ]),
  );
  await step('left after delete', async () => {
    const seen = [];
    for await (const o of store.list('mem-a', 'p/')) seen.push(o.key);
    return seen;
  });
  return out;
}

describe('MemoryStore', () => {
  it('answers every call as the S3 adapter on the loopback server does', async () => {
    const memory = await script(new MemoryStore(['mem-a', 'mem-b']));
    const loopback = await script(new S3ObjectStore(s3.client));
    expect(memory).toEqual(loopback);
    expect(memory).toContainEqual(['conditional delete', { ok: { changed: ['p/b.json'], missing: ['p/gone.json'] } }]);
    expect(memory).toContainEqual(['get json that is not JSON', { error: 'SyntaxError', message: expect.stringContaining('JSON') }]);
    // A create-only upload answers with the stored object's ETag (it is not read back).
    const uploaded = memory.find((x) => (x as unknown[])[0] === 'upload create-only') as [string, { ok: { etag: string } }];
    expect(uploaded[1].ok.etag).toBe(s3Etag(Buffer.from('PAR1 not really')));
  });

  it('lists in pages of 1,000 taken one at a time, and refuses keys over 1,024 bytes as S3 does', async () => {
    const store = new MemoryStore(['b']);
    const keys = Array.from({ length: 2500 }, (_, i) => `k/${String(i).padStart(5, '0')}`);
    for (const k of keys) store.putObject('b', k, 'x');
    const seen: string[] = [];
    for await (const o of store.list('b', 'k/')) {
      seen.push(o.key);
      // Written while the listing is on its first page: past the page, so it shows up.
      if (seen.length === 10) store.putObject('b', 'k/99999', 'late');
      // Before the current page: never seen.
      if (seen.length === 1500) store.putObject('b', 'k/00000a', 'early');
    }
    expect(seen).toEqual([...keys, 'k/99999']);
    await expect(store.putJson('b', `k/${'x'.repeat(1023)}`, 1)).rejects.toMatchObject({ name: 'KeyTooLongError', $metadata: { httpStatusCode: 400 } });
    await expect(store.putJson('b', `k/${'x'.repeat(1022)}`, 1)).resolves.toBeUndefined();
  });

  it('gives a multipart upload S3\'s ETag: the MD5 of its parts\' MD5s with the part count', async () => {
    const store = new MemoryStore(['b']);
    const body = Buffer.alloc(40 * 1024 * 1024, 7);
    const path = join(dir, 'big.bin');
    await writeFile(path, body);
    const out = await store.uploadFile('b', 'big.bin', path, 'application/octet-stream');
    expect(out).toEqual({ bytes: body.length, etag: s3Etag(body, 16 * 1024 * 1024) });
    expect(out.etag).toMatch(/^"[0-9a-f]{32}-3"$/);
  });
});
