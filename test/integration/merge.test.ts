/**
 * The merge stage on the in-memory S3: a partition bounded into many bins ends as target-size
 * files holding every input row once; retries and reruns of a merge never rewrite a committed
 * byte; intermediates of different schemas keep their columns; lifecycle deletes intermediates
 * only after the grace.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConcurrentCommitError } from '../../lambdas/core/errors';
import { mergeManifestKey, stagePrefix, versionPrefix } from '../../lambdas/core/keys';
import type { MergeManifest } from '../../lambdas/core/merge-contracts';
import { sensorFiles, type GeneratedFile } from '../../local/generate';
import { HookedStore, Script } from '../helpers/hooked-store';
import { putAll, useMemoryStore, visibleRows } from '../helpers/memory';
import { DAY, testSettings, usePipeline } from '../helpers/pipeline';
import { compareRows, rowsFromJsonLines } from '../helpers/rows';

const env = useMemoryStore('merge-test');
const P = 'dt=2024-12-19/hour=14';
const V = ['2024-12-19', '14'];
const settings = { ...testSettings, maxBinObjects: 10 };
const landing = (files = 60) => sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: files, rowsPerFile: 3, seed: 12 });
const inputRows = (files: readonly GeneratedFile[]) => files.flatMap((f) => rowsFromJsonLines(f.body));
const goldKeys = (prefix: string) => env.store.keys('gold', prefix).filter((k) => k.endsWith('.parquet'));

/** Calls of one kind the store saw, by key prefix. */
const callsOf = (script: Script, op: string, prefix: string) => script.calls.filter((c) => c.op === op && c.key.startsWith(prefix)).length;

describe('merge stage', () => {
  it('commits a partition compacted into 6 bins as 1 target-size file holding every input row once', async () => {
    const files = landing();
    putAll(env.store, 'landing', files);
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    const { output, items, swap } = await p.run();
    expect([output.bins, output.merges, items.length]).toEqual([6, 1, 6]);
    expect(swap).toMatchObject({ committed: 1, incomplete: 0 });
    const st = (await p.state(P))!;
    const [merge] = await p.mergeItems(output);
    // The version holds the merged file only; the bins' files are intermediates at stage keys.
    expect(st.files.map((f) => f.key)).toEqual([`sensors/${P}/v=${st.version}/part-${merge.mergeId}-0.parquet`]);
    expect(goldKeys(versionPrefix('sensors/', P, st.version))).toEqual(st.files.map((f) => f.key));
    expect(goldKeys(stagePrefix('sensors'))).toHaveLength(6);
    expect(st.superseded).toEqual([expect.objectContaining({ version: st.version, intermediate: true, rows: 180 })]);
    expect(st.superseded[0].files.map((f) => f.key).sort()).toEqual(goldKeys(stagePrefix('sensors')).sort());
    expect(st.rows).toBe(180);
    expect(compareRows(inputRows(files), await visibleRows(env.store, p.catalog, V, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
  });

  it('adopts its own file after dying between the upload and the manifest, and a second run rewrites nothing', async () => {
    const files = landing();
    putAll(env.store, 'landing', files);
    const script = new Script();
    const p = usePipeline(new HookedStore(env.store, script, 'run'), env.scratch, env.clock, settings);
    const { output, items } = await p.plan();
    for (const item of items) await p.compact(item);
    const [merge] = await p.mergeItems(output);
    const st0 = { version: merge.version };
    const manifestKey = mergeManifestKey('sensors', P, st0.version, merge.mergeId);
    script.on({ match: (c) => c.op === 'putJsonIf' && c.key === manifestKey, when: 'before', action: () => { throw new Error('killed before the manifest'); } });
    await expect(p.merge(merge)).rejects.toThrow('killed before the manifest');
    const outKey = `sensors/${P}/v=${merge.version}/part-${merge.mergeId}-0.parquet`;
    const written = env.store.object('gold', outKey)!;
    const version = versionPrefix('sensors/', P, merge.version);
    expect(callsOf(script, 'uploadFile', version)).toBe(1);

    // The retry finds the file there (create-only upload refused), checks its rows and keeps it.
    const retried = await p.merge(merge);
    expect(callsOf(script, 'uploadFile', version)).toBe(2);
    expect(env.store.object('gold', outKey)).toBe(written);
    const manifest = (await env.store.getJson<MergeManifest>('gold', manifestKey))!;
    expect(manifest.outputs.map((f) => [f.key, f.etag])).toEqual([[outKey, written.etag]]);
    expect(retried).toMatchObject({ inputFiles: 6, outputFiles: 1, rows: 180 });

    // A rerun (redrive) of the merge reuses the verified manifest: no upload, no write at all.
    const puts = script.calls.filter((c) => c.op === 'uploadFile' || c.op === 'putJsonIf').length;
    expect(await p.merge(merge)).toEqual(retried);
    expect(script.calls.filter((c) => c.op === 'uploadFile' || c.op === 'putJsonIf').length).toBe(puts);

    expect(await p.swap(output)).toMatchObject({ committed: 1 });
    expect(compareRows(inputRows(files), await visibleRows(env.store, p.catalog, V, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
    // Once committed, a merge whose files are gone is refused, never redone.
    env.store.deleteObject('gold', outKey);
    await expect(p.merge(merge)).rejects.toThrow(ConcurrentCommitError);
  });

  it('merges intermediates of different columns each with its own, keeping every column and row', async () => {
    // The last 20 objects (2 bins) carry a new field: those bins' files have a column more.
    const files = landing().map((f, i) =>
      i < 40 ? f : { ...f, body: f.body.trim().split('\n').map((l) => JSON.stringify({ ...JSON.parse(l), firmware: `fw-${i}` })).join('\n') + '\n' },
    );
    putAll(env.store, 'landing', files);
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    const { swap } = await p.run();
    expect(swap).toMatchObject({ committed: 1, incomplete: 0, schemaConflicts: [] });
    // The test's catalog starts without columns: every column is appended, the new field last.
    expect(swap.columnsAdded).toEqual(['device_id string', 'ts timestamp', 'temperature double', 'humidity double', 'battery bigint', 'seq bigint', 'firmware string']);
    const st = (await p.state(P))!;
    // Two schemas, two files (bins are cut by bytes too: the boundary bin has the new column).
    expect(st.files).toHaveLength(2);
    expect(st.files[0].rows + st.files[1].rows).toBe(180);
    expect(compareRows(inputRows(files), await visibleRows(env.store, p.catalog, V, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
    // The new column kept every value, the older rows read it as NULL.
    const paths: string[] = [];
    for (const [i, f] of st.files.entries()) {
      paths.push(join(env.scratch, `m-${i}.parquet`));
      await writeFile(paths[i], env.store.object('gold', f.key)!.body);
    }
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const columns = async (path: string) => (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`)).getRowObjects().map((d) => String(d.column_name));
    expect(await columns(paths[0])).toEqual(['device_id', 'ts', 'temperature', 'humidity', 'battery', 'seq']);
    expect(await columns(paths[1])).toEqual(['device_id', 'ts', 'temperature', 'humidity', 'battery', 'seq', 'firmware']);
    const r = (await c.runAndReadAll(`SELECT count(firmware) AS n, count(DISTINCT firmware) AS d, count(*) AS all FROM read_parquet([${paths.map((x) => `'${x}'`).join(', ')}], union_by_name = true)`)).getRowObjectsJson();
    c.closeSync();
    db.closeSync();
    expect(r).toEqual([{ n: '60', d: '20', all: '180' }]);
  });

  it('deletes the intermediates after the grace, not before, and the table keeps every row', async () => {
    const files = landing();
    putAll(env.store, 'landing', files);
    const p = usePipeline(env.store, env.scratch, env.clock, settings);
    const { output } = await p.run();
    env.clock.advance(settings.graceDays * DAY - 60_000);
    expect(await p.lifecycle()).toMatchObject({ retired: 0 });
    expect(goldKeys(stagePrefix('sensors'))).toHaveLength(6);
    env.clock.advance(120_000);
    // 60 landing sources and 6 intermediates.
    expect(await p.lifecycle()).toMatchObject({ retired: 66, waiting: 0 });
    expect(goldKeys(stagePrefix('sensors'))).toEqual([]);
    const st = (await p.state(P))!;
    expect(st.superseded).toEqual([]);
    expect(compareRows(inputRows(files), await visibleRows(env.store, p.catalog, V, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
    // A redrive of the same swap once the intermediates are gone: committed, so unchanged, not incomplete.
    expect(await p.swap(output)).toMatchObject({ committed: 0, unchanged: 1, incomplete: 0 });
  });
});
