import { putFiles, sensorFiles } from '../../local/generate';
import { retiredManifestsPrefix, statePrefix, versionManifestsPrefix } from '../../lambdas/core/keys';
import type { DeleteTarget, ObjectStore } from '../../lambdas/core/ports';
import { retireCompacted } from '../../lambdas/use-cases/lifecycle';
import { rollbackPartition } from '../../lambdas/use-cases/rollback';
import { DAY, ManualClock, testSettings, usePipeline } from '../helpers/pipeline';
import { useLoopback } from '../helpers/loopback';
import { allKeys, getBytes } from '../helpers/rows';

const env = useLoopback('each', 'retired-manifests-test');
const P = 'dt=2024-12-19/hour=14';
const text = async (key: string) => Buffer.from(await getBytes(env.s3.client, 'gold', key)).toString('utf8');
const keysUnder = async (prefix: string) => (await allKeys(env.s3.client, 'gold', prefix)).map((o) => o.key).sort();

/** A committed v1, then late data committed as v2 on top of it. */
async function twoVersions(clock: ManualClock) {
  const p = usePipeline(env.store, env.scratch, clock);
  await putFiles(env.s3.client, 'landing', sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 6, rowsPerFile: 3, seed: 41 }));
  await p.run();
  const v1 = (await p.state(P))!;
  const late = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 2, rowsPerFile: 2, seed: 42 }).map((f) => ({ ...f, key: f.key.replace('reading-', 'late-') }));
  await putFiles(env.s3.client, 'landing', late);
  clock.advance(3_600_000);
  await p.run();
  const v2 = (await p.state(P))!;
  return { p, v1, v2 };
}

describe('manifests of retired versions', () => {
  it('move to the retired prefix, unchanged, when their version is retired; the current version\'s stay', async () => {
    const clock = new ManualClock();
    const { p, v1, v2 } = await twoVersions(clock);
    const v1Manifests = await keysUnder(versionManifestsPrefix('sensors', P, v1.version));
    const v2Manifests = await keysUnder(versionManifestsPrefix('sensors', P, v2.version));
    expect([v1Manifests.length, v2Manifests.length]).toEqual([1, 1]);
    const v1Body = await text(v1Manifests[0]);
    const states = await keysUnder(statePrefix('sensors'));

    // Within the grace nothing moves.
    clock.advance(3 * DAY - 60_000);
    await p.lifecycle();
    expect(await keysUnder(retiredManifestsPrefix('sensors'))).toEqual([]);

    clock.advance(120_000);
    await p.lifecycle();
    const retired = `_compactor/sensors/retired/manifests/${P}/v=${v1.version}/${v1Manifests[0].split('/').pop()}`;
    expect(await keysUnder(retiredManifestsPrefix('sensors'))).toEqual([retired]);
    expect(await text(retired)).toBe(v1Body);
    expect(await keysUnder(versionManifestsPrefix('sensors', P, v1.version))).toEqual([]);
    expect(await keysUnder(versionManifestsPrefix('sensors', P, v2.version))).toEqual(v2Manifests);
    expect(await keysUnder(statePrefix('sensors'))).toEqual(states);
    expect((await p.state(P))!.superseded).toEqual([]);

    // Nothing is left to move: a later run changes nothing.
    await p.lifecycle();
    expect(await keysUnder(retiredManifestsPrefix('sensors'))).toEqual([retired]);
  });

  it('finish moving after a run that died between the copy and the delete', async () => {
    const clock = new ManualClock();
    const { p, v1 } = await twoVersions(clock);
    const original = (await keysUnder(versionManifestsPrefix('sensors', P, v1.version)))[0];
    const body = await text(original);
    clock.advance(4 * DAY);
    // The delete of the manifests fails after the copy (the process dies there).
    const dying: ObjectStore = Object.assign(Object.create(env.store) as ObjectStore, {
      deleteKeys: async (bucket: string, targets: readonly DeleteTarget[]) => {
        if (targets.some((t) => t.key.includes('/manifests/'))) throw new Error('simulated crash before deleting manifests');
        return env.store.deleteKeys(bucket, targets);
      },
    });
    await expect(retireCompacted({ store: dying, catalog: p.catalog, settings: testSettings, clock })).rejects.toThrow('simulated crash before deleting manifests');
    expect((await p.state(P))!.superseded.map((v) => v.version)).toEqual([v1.version]);
    expect(await keysUnder(retiredManifestsPrefix('sensors'))).toHaveLength(1);

    await p.lifecycle();
    expect(await keysUnder(versionManifestsPrefix('sensors', P, v1.version))).toEqual([]);
    const [retired] = await keysUnder(retiredManifestsPrefix('sensors'));
    expect(await text(retired)).toBe(body);
    expect((await p.state(P))!.superseded).toEqual([]);
  });

  it('stay in place for a version rolled back to; the version it replaced moves once retired', async () => {
    const clock = new ManualClock();
    const { p, v1, v2 } = await twoVersions(clock);
    await rollbackPartition({ store: env.store, catalog: p.catalog, settings: testSettings, clock }, P, v1.version);
    const v1Manifests = await keysUnder(versionManifestsPrefix('sensors', P, v1.version));
    clock.advance(4 * DAY);
    await p.lifecycle();
    expect(await keysUnder(versionManifestsPrefix('sensors', P, v1.version))).toEqual(v1Manifests);
    expect(await keysUnder(versionManifestsPrefix('sensors', P, v2.version))).toEqual([]);
    expect((await keysUnder(retiredManifestsPrefix('sensors'))).map((k) => k.split('/v=')[1].split('/')[0])).toEqual([v2.version]);
  });
});
