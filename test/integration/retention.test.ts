/**
 * Retention and late writers on the in-memory S3: what lifecycle may delete and when, what a
 * rewritten key does to the state, catalog drift, and a late compaction of a committed bin.
 */
import { CatalogError } from '../../lambdas/core/errors';
import { manifestKey, stateKey } from '../../lambdas/core/keys';
import { sensorFiles } from '../../local/generate';
import { adoptCatalogEntry, overruleCatalogEntry } from '../../lambdas/use-cases/catalog-sync';
import { HookedStore, Script } from '../helpers/hooked-store';
import { putAll, useMemoryStore, visibleRows } from '../helpers/memory';
import { DAY, testSettings, usePipeline } from '../helpers/pipeline';
import { compareRows, rowsFromJsonLines } from '../helpers/rows';

const env = useMemoryStore('retention-test');

const P14 = 'dt=2024-12-19/hour=14';
const V14 = ['2024-12-19', '14'];
const HOUR = 3_600_000;
const seed = (n: number, files = 6) => sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: files, rowsPerFile: 4, seed: n });
const late = (n: number, files = 1) => seed(n, files).map((f) => ({ ...f, key: f.key.replace('reading-', `late${n}-`) }));
const landingKeys = () => env.store.keys('landing', 'sensors/');

/** Lands `seed(n)` and commits it as the partition's first version. */
async function firstVersion(p: ReturnType<typeof usePipeline>, n: number) {
  const files = seed(n);
  putAll(env.store, 'landing', files);
  await p.run();
  return files;
}

/** Readers of the table see exactly these records, once each. */
async function expectVisible(p: ReturnType<typeof usePipeline>, files: ReadonlyArray<{ body: string }>) {
  const rows = files.flatMap((f) => rowsFromJsonLines(f.body));
  expect(compareRows(rows, await visibleRows(env.store, p.catalog, V14, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
}

describe('retention', () => {
  it('keeps a landing key rewritten between the lifecycle\'s check and its delete, and plans it again', async () => {
    const script = new Script();
    const p = usePipeline(new HookedStore(env.store, script, 'pipeline'), env.scratch, env.clock);
    const files = await firstVersion(p, 1);
    env.clock.advance(4 * DAY);
    const rewritten = '{"device_id":"sensor-9999","ts":"2024-12-19T14:30:00.000Z","temperature":1.5,"humidity":2.5,"battery":3,"seq":99}\n';
    script.on({ match: (c) => c.op === 'deleteKeys' && c.bucket === 'landing', when: 'before', action: () => void env.store.putObject('landing', files[2].key, rewritten) });

    const out = await p.lifecycle();
    expect(script.pending()).toBe(0);
    expect(out).toMatchObject({ retired: files.length - 1, changedAfterCommit: [files[2].key] });
    expect(landingKeys()).toEqual([files[2].key]);
    expect(env.store.object('landing', files[2].key)!.body.toString()).toBe(rewritten);

    // The next run takes the new content as new data, on top of the committed rows.
    env.clock.advance(HOUR);
    await p.run();
    await expectVisible(p, [...files, { body: rewritten }]);
  });

  it('counts the grace from the catalog\'s verification: a catalog repaired days later keeps the sources and the old version for the whole grace', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock);
    const files = await firstVersion(p, 2);
    const v1 = (await p.state(P14))!;

    env.clock.advance(HOUR);
    putAll(env.store, 'landing', late(2));
    const putPartitions = p.catalog.putPartitions.bind(p.catalog);
    p.catalog.putPartitions = async () => {
      throw new CatalogError('Glue answered 500 for BatchUpdatePartition');
    };
    await expect(p.run()).rejects.toThrow('Glue answered 500 for BatchUpdatePartition');
    expect((await p.state(P14))!.verifiedAt).toBeUndefined();

    env.clock.advance(5 * DAY);
    expect(await p.lifecycle()).toMatchObject({ retired: 0, unverified: [P14] });

    // Days later the catalog works again: the next run repairs it, and the grace starts now.
    p.catalog.putPartitions = putPartitions;
    const repairedAt = env.clock.now().toISOString();
    const repair = await p.run();
    expect(repair.swap).toMatchObject({ committed: 0, catalogUpdated: 1 });
    const v2 = (await p.state(P14))!;
    expect(v2.verifiedAt).toBe(repairedAt);
    expect(v2.superseded).toMatchObject([{ version: v1.version, supersededAt: repairedAt }]);
    expect(v2.sources.filter((x) => x.since === repairedAt).map((x) => x.key)).toEqual(late(2).map((f) => f.key));

    // v1's own sources were verified with v1 long ago (v1 and v2 hold their rows); the late
    // source and v1's file wait for the grace counted from the repair.
    expect(await p.lifecycle()).toMatchObject({ retired: files.length, waiting: 1 + v1.files.length });
    env.clock.advance(3 * DAY - 60_000);
    expect(await p.lifecycle()).toMatchObject({ retired: 0, waiting: 1 + v1.files.length });
    env.clock.advance(120_000);
    expect(await p.lifecycle()).toMatchObject({ retired: 1 + v1.files.length, waiting: 0 });
    expect(landingKeys()).toEqual([]);
    expect(env.store.keys('gold', v1.location.replace('s3://gold/', ''))).toEqual([]);
    await expectVisible(p, [...files, ...late(2)]);
  });

  it('records a rewritten committed key once, and retires it reporting what happened', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock);
    const files = await firstVersion(p, 3);
    // Same records, new bytes (fields in another order): a new ETag.
    const same = files[1].body.split('\n').filter(Boolean).map((l) => JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(l)).reverse()))).join('\n') + '\n';
    const etag = env.store.putObject('landing', files[1].key, same);
    env.clock.advance(HOUR);
    await p.run();
    const st = (await p.state(P14))!;
    expect(st.sources.map((x) => x.key).sort()).toEqual(files.map((f) => f.key).sort());
    expect(st.sources.find((x) => x.key === files[1].key)!.etag).toBe(etag);

    env.clock.advance(4 * DAY);
    const dry = await p.lifecycle(true);
    expect(dry.wouldRetire.filter((k) => k.startsWith('s3://landing/')).sort()).toEqual(files.map((f) => `s3://landing/${f.key}`).sort());
    const out = await p.lifecycle();
    expect(out).toMatchObject({ retired: files.length + 1, changedAfterCommit: [] });
    expect(landingKeys()).toEqual([]);
  });

  it('reports a partition an operator repointed by hand, keeps it, and adopts or overrules it on request', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock);
    const deps = { store: env.store, catalog: p.catalog, settings: testSettings, clock: env.clock };
    await firstVersion(p, 4);
    const restored = 's3://gold/restored/dt=2024-12-19/hour=14/';
    await p.catalog.putPartitions([{ values: V14, location: restored }]);

    env.clock.advance(HOUR);
    putAll(env.store, 'landing', late(4));
    const second = await p.run();
    const v2 = (await p.state(P14))!;
    expect(second.swap).toMatchObject({
      committed: 1,
      catalogUpdated: 0,
      catalogDrift: [
        `${P14}: the catalog points at ${restored}, not at a version this pipeline committed (current ${v2.version} at ${v2.location}); ` +
          `kept as it is: npm run compact -- catalog adopt|overrule --partition ${P14}`,
      ],
    });
    expect(await p.catalog.all()).toEqual([{ values: V14, location: restored }]);
    env.clock.advance(4 * DAY);
    expect(await p.lifecycle()).toMatchObject({ retired: 0, unverified: [P14] });

    // Overrule: back to the committed version, verified now.
    const back = await overruleCatalogEntry(deps, P14);
    expect(back.verifiedAt).toBe(env.clock.now().toISOString());
    expect(await p.catalog.all()).toEqual([{ values: V14, location: v2.location }]);
    expect((await p.run()).swap).toMatchObject({ catalogDrift: [], catalogUpdated: 0 });

    // Adopt: the operator's location stays, and is no longer reported.
    await p.catalog.putPartitions([{ values: V14, location: restored }]);
    const adopted = await adoptCatalogEntry(deps, P14);
    expect(adopted.catalogPin).toEqual({ location: restored, at: env.clock.now().toISOString() });
    expect((await p.run()).swap).toMatchObject({ catalogDrift: [], catalogUpdated: 0 });
    expect(await p.catalog.all()).toEqual([{ values: V14, location: restored }]);
  });
});

describe('late writers', () => {
  it('never rewrites the output or manifest of a committed bin: a late compaction of it is a no-op success', async () => {
    const script = new Script();
    const lateRun = usePipeline(new HookedStore(env.store, script, 'late'), env.scratch, env.clock);
    const winner = usePipeline(new HookedStore(env.store, script, 'winner'), env.scratch, env.clock);
    putAll(env.store, 'landing', seed(5));
    const { output, items } = await lateRun.plan();
    const outKey = `sensors/${P14}/v=${items[0].version}/part-${items[0].binId}.parquet`;
    // The late writer has compacted and verified its file; before its upload the other run commits the same bin.
    script.on({
      match: (c) => c.actor === 'late' && c.op === 'uploadFile' && c.key === outKey,
      when: 'before',
      action: async () => {
        await winner.compact(items[0]);
        await winner.swap(output);
      },
    });
    const late = await lateRun.compact(items[0]);
    expect(script.pending()).toBe(0);

    const st = (await winner.state(P14))!;
    const stored = env.store.object('gold', outKey)!;
    expect(st.files).toEqual([{ key: outKey, etag: stored.etag, bytes: stored.body.length, rows: 24 }]);
    expect(late).toMatchObject({ outputKey: outKey, outputBytes: stored.body.length, outputRows: 24 });
    const writes = (key: string) => env.store.events.filter((e) => e.op === 'put' && e.key === key).length;
    expect(writes(outKey)).toBe(1);
    expect(writes(manifestKey('sensors', P14, items[0].version, items[0].binId))).toBe(1);
    expect(writes(stateKey('sensors', P14))).toBe(2); // the commit, and its verification
  });

  it('never writes into a committed version again: a stale plan neither replaces a file that went missing nor brings back a retired version', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock);
    putAll(env.store, 'landing', seed(6));
    const first = await p.run();
    const v1 = (await p.state(P14))!;
    const v1Prefix = v1.location.replace('s3://gold/', '');
    const writesUnder = (prefix: string) => env.store.events.filter((e) => e.op === 'put' && e.key.startsWith(prefix)).length;
    const original = env.store.object('gold', v1.files[0].key)!.body;
    env.store.deleteObject('gold', v1.files[0].key);
    await expect(p.compact(first.items[0])).rejects.toMatchObject({
      name: 'ConcurrentCommitError',
      message: `bin ${first.items[0].binId} of ${P14}: version ${v1.version} was committed and its files are gone or changed; a committed version's objects are never written again`,
    });
    expect(writesUnder(v1Prefix)).toBe(1);

    // Put back as it was; late data, then the grace: v1 is retired with its sources, and its stale plan finds them gone.
    env.store.putObject('gold', v1.files[0].key, original);
    env.clock.advance(HOUR);
    putAll(env.store, 'landing', late(6));
    const afterStandIn = writesUnder(v1Prefix);
    expect((await p.run()).swap).toMatchObject({ committed: 1 });
    env.clock.advance(4 * DAY);
    await p.lifecycle();
    expect(env.store.keys('gold', v1Prefix)).toEqual([]);
    await expect(p.compact(first.items[0])).rejects.toMatchObject({ name: 'SourceChangedError' });
    expect(writesUnder(v1Prefix)).toBe(afterStandIn);
  });
});
