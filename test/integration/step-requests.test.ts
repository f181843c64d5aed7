/**
 * The S3 requests a compact and a swap make, counted at the store: each output is checked once
 * (by swap, before it commits), each manifest read once by swap.
 */
import { RequestCountingStore } from '../../lambdas/adapters/request-counting-store';
import { sensorFiles } from '../../local/generate';
import { putAll, useMemoryStore } from '../helpers/memory';
import { usePipeline } from '../helpers/pipeline';

const env = useMemoryStore('requests-test');
const none = { LIST: 0, GET: 0, PUT: 0, COPY: 0, DELETE: 0, HEAD: 0 };

describe('requests per step', () => {
  it('compacts a bin of 6 objects with 11 GETs and 2 PUTs and no HEAD, and swaps two bins with one HEAD and one manifest GET each', async () => {
    const store = new RequestCountingStore(env.store);
    const p = usePipeline(store, env.scratch, env.clock);
    putAll(env.store, 'landing', sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/10', '2024-12-19/11'], filesPerHour: 6, rowsPerFile: 4, seed: 5 }));
    const { output, items } = await p.plan();
    expect(items.map((i) => [i.partition, i.inputFiles])).toEqual([['dt=2024-12-19/hour=10', 6], ['dt=2024-12-19/hour=11', 6]]);

    let before = store.counts;
    await p.compact(items[0]);
    const delta = (from: typeof before) => Object.fromEntries(Object.entries(store.counts).map(([k, n]) => [k, n - from[k as keyof typeof from]]));
    // the spec; the manifest and the partition state, before the work and again before the
    // create-only upload; the 6 inputs. The output and the manifest. Its output is not read back.
    expect(delta(before)).toEqual({ ...none, GET: 1 + 2 + 2 + 6, PUT: 2 });
    await p.compact(items[1]);

    before = store.counts;
    expect(await p.swap(output)).toMatchObject({ committed: 2, incomplete: 0 });
    // GET: the plan, each manifest once, each partition's state at its commit, the output ratios,
    // each committed state again to stamp its verification.
    // HEAD: each output once. PUT: each partition's pending index entry, each state at its commit
    // and at its stamp, the output ratios. LIST: the pending index.
    expect(delta(before)).toEqual({ ...none, LIST: 1, GET: 1 + 2 + 2 + 1 + 2, HEAD: 2, PUT: 2 + 2 + 2 + 1 });
  });
});
