import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { RequestCountingStore } from '../../lambdas/adapters/request-counting-store';
import { mapLimit } from '../../lambdas/core/concurrency';
import { useLoopback } from '../helpers/loopback';
import { countWireRequests } from '../helpers/wire-requests';

const env = useLoopback('all', 'counting-store-test');
// Each test counts on the shared client afresh.
afterEach(() => {
  for (const name of ['countCommands', 'countAttempts']) env.s3.client.middlewareStack.remove(name);
});

describe('the request-counting store', () => {
  it('counts what the S3 adapter sends: listing pages, multipart parts, size checks, batch deletes, copies', async () => {
    const keys = Array.from({ length: 1001 }, (_, i) => `t/k-${String(i).padStart(4, '0')}`);
    await mapLimit(keys, 32, (Key) => env.s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key, Body: 'x' })));
    const big = join(env.scratch, 'big.bin');
    await writeFile(big, Buffer.alloc(17 * 1024 * 1024, 7));
    const wire = countWireRequests(env.s3.client, env.s3.endpoint);
    const store = new RequestCountingStore(env.store);

    const listed: string[] = [];
    for await (const o of store.list('landing', 't/')) listed.push(o.key);
    await store.uploadFile('gold', 'big.bin', big, 'application/octet-stream');
    await store.putJson('gold', 'a.json', { a: 1 });
    await store.putText('gold', 'a.md', '# a\n', 'text/markdown');
    await store.getJson('gold', 'a.json');
    await store.getJson('gold', 'missing.json');
    await store.head('gold', 'a.json');
    await store.copy({ bucket: 'gold', key: 'a.json' }, { bucket: 'gold', key: 'b.json' });
    await store.deleteKeys('landing', keys.map((key) => ({ key })));

    expect(listed).toHaveLength(1001);
    // 17 MB is create + 2 parts + complete; one HEAD reads the upload's size back
    expect(store.counts).toEqual({ LIST: 2, GET: 2, PUT: 4 + 1 + 1, COPY: 1, DELETE: 2, HEAD: 2 });
    expect(store.counts).toEqual(wire.counts);
    expect(wire.other).toEqual([]);
  });

  it('counts a create-only upload as its PUTs alone: it is not read back, and returns the upload\'s own ETag', async () => {
    const small = join(env.scratch, 'small.bin');
    const big = join(env.scratch, 'big-once.bin');
    await writeFile(small, Buffer.alloc(1000, 1));
    await writeFile(big, Buffer.alloc(17 * 1024 * 1024, 3));
    const wire = countWireRequests(env.s3.client);
    const store = new RequestCountingStore(env.store);
    const uploaded = [
      await store.uploadFile('gold', 'once/small.bin', small, 'application/octet-stream', { createOnly: true }),
      await store.uploadFile('gold', 'once/big.bin', big, 'application/octet-stream', { createOnly: true }),
    ];
    expect(store.counts).toEqual({ LIST: 0, GET: 0, PUT: 1 + 4, COPY: 0, DELETE: 0, HEAD: 0 });
    expect(store.counts).toEqual(wire.counts);
    expect(wire.other).toEqual([]);
    // The ETags returned are the stored objects' own.
    expect(uploaded).toEqual([await env.store.head('gold', 'once/small.bin'), await env.store.head('gold', 'once/big.bin')]);
  });
});
