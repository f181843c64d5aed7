/**
 * Gold files carry their real ETag from the upload to the state, and from the state into the next
 * plan: a recompacted gold input is read with If-Match on it, and its ETag is part of the bin id.
 */
import type { BinSpec } from '../../lambdas/core/contracts';
import { sensorFiles } from '../../local/generate';
import { putAll, useMemoryStore } from '../helpers/memory';
import { usePipeline } from '../helpers/pipeline';

const env = useMemoryStore('gold-etags-test');
const P14 = 'dt=2024-12-19/hour=14';
const seed = (n: number, files: number, tag: string) =>
  sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: files, rowsPerFile: 4, seed: n }).map((f) => ({ ...f, key: f.key.replace('reading-', `${tag}-`) }));

describe('gold ETags', () => {
  it('recompacts a gold file under its stored ETag, and refuses one rewritten behind the pipeline\'s back', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock);
    putAll(env.store, 'landing', seed(1, 6, 'first'));
    expect((await p.run()).swap).toMatchObject({ committed: 1 });
    const v1 = (await p.state(P14))!;
    const gold = v1.files[0];
    // The state holds the uploaded file's own ETag, not an empty one.
    expect(gold.etag).toBe(env.store.object('gold', gold.key)!.etag);
    expect(gold.etag).toMatch(/^"[0-9a-f]{32}"$/);

    env.clock.advance(3_600_000);
    putAll(env.store, 'landing', seed(2, 1, 'late'));
    const { items } = await p.plan();
    const spec = (await env.store.getJson<BinSpec>('gold', items[0].binKey))!;
    expect(spec.files.filter((f) => f.fromGold).map((f) => [f.key, f.etag])).toEqual([[gold.key, gold.etag]]);

    // Someone rewrites the committed gold file in place.
    env.store.putObject('gold', gold.key, Buffer.concat([env.store.object('gold', gold.key)!.body, Buffer.from('x')]));
    const rewritten = env.store.object('gold', gold.key)!.etag;
    expect(rewritten).not.toBe(gold.etag);
    await expect(p.compact(items[0])).rejects.toThrow(`s3://gold/${gold.key} changed after planning (ETag is no longer ${gold.etag})`);
    expect(env.store.object('gold', spec.manifestKey)).toBeUndefined();

    // A plan made now sees the file as the state has it (its ETag there is the committed one): the
    // bin id is the same, since it hashes the state's ETag, and the read is refused again.
    const again = await p.plan();
    expect(again.items.map((i) => i.binId)).toEqual([items[0].binId]);
    await expect(p.compact(again.items[0])).rejects.toMatchObject({ name: 'SourceChangedError' });
  });

  it('gives a recompacted bin another id when the committed gold file has another ETag', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock);
    putAll(env.store, 'landing', seed(1, 6, 'first'));
    await p.run();
    env.clock.advance(3_600_000);
    putAll(env.store, 'landing', seed(2, 1, 'late'));
    const before = (await p.plan()).items[0].binId;
    // The same state with another ETag on its gold file: the bin is another bin.
    const state = (await p.state(P14))!;
    const key = `_compactor/sensors/state/${P14}/state.json`;
    expect(env.store.object('gold', key)).toBeDefined();
    env.store.putObject('gold', key, JSON.stringify({ ...state, files: state.files.map((f) => ({ ...f, etag: '"0123456789abcdef0123456789abcdef"' })) }));
    const after = (await p.plan()).items[0].binId;
    expect(after).not.toBe(before);
  });
});
