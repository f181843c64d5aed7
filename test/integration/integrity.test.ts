/**
 * Every record exactly as written: inputs a hostile or sloppy producer writes, each once misread
 * (and committed) before; now quarantined with a reason, kept exactly, or refused with a clear error.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { compactToParquet } from '../../lambdas/adapters/duckdb-engine';
import { fetchInputs } from '../../lambdas/adapters/fetch-inputs';
import type { BinManifest, BinSpec } from '../../lambdas/core/contracts';
import { planRun } from '../../lambdas/use-cases/plan-run';
import { DEFAULT_ENGINE_SETTINGS } from '../../lambdas/core/settings';
import { ManualClock, testSettings, usePipeline } from '../helpers/pipeline';
import { useLoopback } from '../helpers/loopback';
import { useTally } from '../helpers/tally';
import { allKeys, getBytes, queryParquetObjects } from '../helpers/rows';

const tally = useTally();
const env = useLoopback('each', 'integrity');

const put = (key: string, body: string | Buffer) => env.s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key: key, Body: typeof body === 'string' ? Buffer.from(body) : body }));
const P = 'sensors/dt=2024-12-19/hour=14/';
const lines = (rows: readonly object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const readOutput = (keys: string[], sql: string) => queryParquetObjects(env.s3.client, 'gold', keys, env.scratch, sql);

async function reportOf(manifestKey: string) {
  const m = (await env.store.getJson<BinManifest>('gold', manifestKey))!;
  return { manifest: m, report: m.quarantine ? (await env.store.getJson<{ rejected: Array<Record<string, unknown>>; partitionFields?: unknown[] }>('gold', m.quarantine.reportKey))! : undefined };
}

describe('records that are not objects', () => {
  it('quarantines array and scalar lines with file, line and reason, and writes the objects as they are', async () => {
    tally.tried += 3;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (let f = 0; f < 5; f++) await put(`${P}o-${f}.json`, lines([{ id: f * 2, t: 1.5 }, { id: f * 2 + 1, t: 2.5 }]));
    await put(`${P}bad.json`, '[1,2]\n"x"\n{"id":100,"t":3.5}\n42\n');
    const run = await p.run();
    expect(run.swap.committed).toBe(1);
    const out = await p.compact(run.items[0]);
    expect(out).toMatchObject({ outputRows: 11, rejectedRecords: 3 });
    const { manifest, report } = await reportOf(out.manifestKey);
    expect(manifest.output.schema).toEqual([{ name: 'id', type: 'BIGINT' }, { name: 't', type: 'DOUBLE' }]);
    expect(report!.rejected).toEqual([
      { file: `s3://landing/${P}bad.json`, line: 1, reason: 'not a JSON object (an array)' },
      { file: `s3://landing/${P}bad.json`, line: 2, reason: 'not a JSON object (a string)' },
      { file: `s3://landing/${P}bad.json`, line: 4, reason: 'not a JSON object (a number)' },
    ]);
    expect(await readOutput([out.outputKey], 'SELECT count(*)::INT AS n, sum(id)::INT AS s, count(t)::INT AS nt FROM $OUT')).toEqual([{ n: 11, s: 145, nt: 11 }]);
    tally.handled += 3;
  });

  it('commits nothing for a bin of arrays only: every line is quarantined, the version would hold no rows', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (let f = 0; f < 5; f++) await put(`${P}a-${f}.json`, '[1,2]\n[3,4]\n');
    const run = await p.run();
    expect(run.swap).toMatchObject({ committed: 0, incomplete: 1 });
    const out = await p.compact(run.items[0]);
    expect(out).toMatchObject({ outputRows: 0, rejectedRecords: 10 });
    expect((await allKeys(env.s3.client, 'gold', 'sensors/')).length).toBe(0);
    tally.handled++;
  });

  it('fails verification when the staged columns are not the fields the records hold', async () => {
    tally.tried++;
    const spec = {
      files: [0, 1].map((i) => ({ key: `${P}m-${i}.json`, size: 0, etag: '', lastModified: '', format: 'jsonl' as const })),
    } as Pick<BinSpec, 'files'>;
    for (const f of spec.files) await put(f.key, lines([{ a: 1 }]));
    const sources = await Promise.all(spec.files.map(async (f) => ({ ...f, ...(await env.store.head('landing', f.key))!, size: (await env.store.head('landing', f.key))!.bytes })));
    const staged = await fetchInputs(env.store, { landing: 'landing', gold: 'gold' }, sources.map((s) => ({ key: s.key, size: s.size, etag: s.etag, lastModified: '', format: 'jsonl' })), join(env.scratch, 'in'), { concurrency: 2 });
    // Misread on purpose: the staged bytes no longer say what the fetch read.
    const chunk = staged.jsonChunks[0];
    await writeFile(chunk, (await readFile(chunk, 'utf8')).replace('{"a":1}', '{"a":1,"json":2}'));
    await expect(compactToParquet(staged, join(env.scratch, 'w'), join(env.scratch, 'out.parquet'), { ...DEFAULT_ENGINE_SETTINGS, compression: 'snappy' })).rejects.toMatchObject({
      name: 'VerificationError',
      message: 'JSON Lines of this bin were staged otherwise than the records hold: column "json" is staged, but no record has that field',
    });
    tally.handled++;
  });
});

describe('field names', () => {
  it('keeps user fields named like the bookkeeping columns, from JSON and CSV alike', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (let f = 0; f < 4; f++) await put(`${P}r-${f}.json`, lines([{ __compactor_src: `j${f}`, file_row_number: f, filename: 'x.json', _rowid: f, __index_level_0__: f }]));
    await put(`${P}r.csv`, '__compactor_src,file_row_number\nc0,7\n');
    const run = await p.run();
    expect(run.swap.committed).toBe(1);
    const out = await p.compact(run.items[0]);
    expect(await readOutput([out.outputKey], 'SELECT __compactor_src AS s, file_row_number AS n, filename AS f, _rowid AS r FROM $OUT ORDER BY s')).toEqual([
      { s: 'c0', n: '7', f: null, r: null },
      ...[0, 1, 2, 3].map((f) => ({ s: `j${f}`, n: String(f), f: 'x.json', r: String(f) })),
    ]);
    tally.handled++;
  });

  it('keeps the spelling most records use, and quarantines the records that differ only by case or repeat a name', async () => {
    tally.tried += 4;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (let f = 0; f < 4; f++) await put(`${P}t-${f}.json`, lines([{ id: f, Temp: 20 + f, m: { X: f } }]));
    await put(`${P}lower.json`, lines([{ id: 10, temp: 30 }, { id: 11, Temp: 31, m: { x: 1 } }, { id: 12, Temp: 32, temp: 33 }]) + '{"id":13,"Temp":1,"Temp":2}\n');
    const { items } = await p.plan();
    const out = await p.compact(items[0]);
    expect(out).toMatchObject({ outputRows: 4, rejectedRecords: 4 });
    const { manifest, report } = await reportOf(out.manifestKey);
    expect(manifest.output.schema.map((c) => c.name)).toEqual(['id', 'Temp', 'm']);
    const file = `s3://landing/${P}lower.json`;
    expect(report!.rejected).toEqual([
      { file, line: 3, reason: 'fields "Temp" and "temp" differ only by case: Glue and Athena cannot tell them apart' },
      { file, line: 4, reason: 'duplicate field "Temp"' },
      { file, line: 1, reason: 'field "temp" differs only by case from "Temp", which most records use: Glue and Athena cannot tell them apart' },
      { file, line: 2, reason: 'field "m.x" differs only by case from "m.X", which most records use: Glue and Athena cannot tell them apart' },
    ]);
    tally.handled += 4;
  });

  it('reports data fields named like partition keys whose values say another partition', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (let f = 0; f < 5; f++) await put(`${P}p-${f}.json`, lines([{ id: f, dt: '2024-12-19', hour: f < 3 ? '14' : '15' }]));
    const run = await p.run();
    expect(run.swap.committed).toBe(1);
    const { manifest, report } = await reportOf((await p.compact(run.items[0])).manifestKey);
    const expected = [{ field: 'hour', partitionValue: '14', records: 2, examples: ['15'] }];
    expect(manifest.partitionFields).toEqual(expected);
    expect(report!.partitionFields).toEqual(expected);
    tally.handled++;
  });
});

describe('partition values and keys', () => {
  it('gives emoji partition values their own partitions, each with its own rows', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (const [v, n] of [['😀', 1], ['😁', 2]] as const) for (let f = 0; f < 5; f++) await put(`sensors/dt=${v}/hour=1/f-${f}.json`, lines([{ n }]));
    const run = await p.run();
    expect(run.swap.committed).toBe(2);
    expect((await p.catalog.all()).map((c) => c.values).sort()).toEqual([['😀', '1'], ['😁', '1']]);
    for (const item of run.items) {
      const n = item.partition.startsWith('dt=%F0%9F%98%80') ? 1 : 2;
      expect(await readOutput([(await p.compact(item)).outputKey], 'SELECT count(*)::INT AS c, min(n)::INT AS lo, max(n)::INT AS hi FROM $OUT')).toEqual([{ c: 5, lo: n, hi: n }]);
    }
    tally.handled++;
  });

  it('compacts objects whose keys hold a carriage return', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (let f = 0; f < 5; f++) await put(`${P}cr\r${f}.json`, lines([{ n: f }]));
    const run = await p.run();
    expect(run.swap.committed).toBe(1);
    const { manifest } = await reportOf((await p.compact(run.items[0])).manifestKey);
    expect(manifest.inputs.map((i) => i.key)).toEqual([0, 1, 2, 3, 4].map((f) => `${P}cr\r${f}.json`));
    tally.handled++;
  });

  it('plans each key once, even when a listing repeats it', async () => {
    tally.tried++;
    for (let f = 0; f < 5; f++) await put(`${P}d-${f}.json`, lines([{ n: f }]));
    // A server that lists every key twice (as s3rver did past a page ending in a key with a line break).
    const store = Object.create(env.store) as typeof env.store;
    store.list = async function* (bucket: string, prefix: string) {
      for await (const o of env.store.list(bucket, prefix)) {
        yield o;
        yield o;
      }
    };
    const { plan } = await planRun({ store, settings: testSettings, clock: new ManualClock() }, { table: 'sensors' });
    expect(plan.partitions.map((x) => x.bins.flatMap((b) => b.files.map((f) => f.key)))).toEqual([[0, 1, 2, 3, 4].map((f) => `${P}d-${f}.json`)]);
    tally.handled++;
  });

  it('holds a partition whose manifest key would pass 1,024 bytes, before anything is written', async () => {
    tally.tried++;
    // Five partition keys, so no one directory passes the file system's 255 bytes on the loopback server.
    const settings = { ...testSettings, partitionKeys: ['a', 'b', 'c', 'd', 'e'] };
    const p = usePipeline(env.store, env.scratch, new ManualClock(), settings);
    // The output key fits (1,017 bytes); the manifest key (1,030) and quarantine keys do not.
    const dir = settings.partitionKeys.map((k, i) => `${k}=${'v'.repeat(i ? 189 : 190)}`).join('/');
    expect(Buffer.byteLength(dir)).toBe(960);
    for (let f = 0; f < 5; f++) await put(`sensors/${dir}/f${f}.json`, lines([{ n: f }]));
    const { output, items } = await p.plan();
    expect(items).toEqual([]);
    const { report } = await planRun({ store: env.store, settings, clock: new ManualClock() }, { table: 'sensors' });
    expect(report.held).toEqual([{ path: dir, reason: 'key-too-long', smallFiles: 5 }]);
    expect(await p.swap(output)).toMatchObject({ committed: 0 });
    expect((await allKeys(env.s3.client, 'gold', '')).filter((o) => !o.key.startsWith('_compactor/sensors/plans/'))).toEqual([]);
    tally.handled++;
  });
});

describe('corrupt compression', () => {
  it('sets aside a truncated gzip, a plain file named .gz and a corrupt .csv.gz whole, copies them to quarantine, and compacts the rest', async () => {
    tally.tried += 3;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (let f = 0; f < 5; f++) await put(`${P}g-${f}.json`, lines([{ n: f }]));
    const full = gzipSync(lines(Array.from({ length: 200 }, (_, i) => ({ n: 100 + i }))));
    const bad = { 'cut.json.gz': full.subarray(0, full.length - 40), 'plain.json.gz': Buffer.from(lines([{ n: 99 }])), 'cut.csv.gz': gzipSync('n\n1\n2\n').subarray(0, 15) };
    for (const [name, body] of Object.entries(bad)) await put(`${P}${name}`, body);
    const run = await p.run();
    expect(run.swap.committed).toBe(1);
    const out = await p.compact(run.items[0]);
    expect(out).toMatchObject({ outputRows: 5, rejectedObjects: 3 });
    const { report } = await reportOf(out.manifestKey);
    const entries = new Map(report!.rejected.map((r) => [String(r.file).slice(`s3://landing/${P}`.length), r]));
    expect(entries.get('cut.json.gz')!.reason).toBe(`s3://landing/${P}cut.json.gz is not a readable gzip file (unexpected end of file): set aside whole`);
    expect(entries.get('plain.json.gz')!.reason).toBe(`s3://landing/${P}plain.json.gz is not a readable gzip file (incorrect header check): set aside whole`);
    expect(entries.get('cut.csv.gz')!.reason).toBe(`s3://landing/${P}cut.csv.gz is not a readable gzip file (unexpected end of file): set aside whole`);
    for (const [name, body] of Object.entries(bad)) {
      const copy = String(entries.get(name)!.copy).replace('s3://gold/', '');
      expect(Buffer.from(await getBytes(env.s3.client, 'gold', copy)).equals(body)).toBe(true);
    }
    tally.handled += 3;
  });
});

describe('types', () => {
  it('appends nested columns to the table with their Hive types, and writes UUID and time-of-day text as strings', async () => {
    tally.tried += 2;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const rows = (f: number) => [
      { id: '123E4567-E89B-12D3-A456-426614174000', at: '14:00', m: { x: f, tags: ['a', 'b'], when: '2024-12-19T14:00:00Z' }, l: [{ k: 1.5 }], e: {} },
      { id: '123e4567-e89b-12d3-a456-426614174000', at: '1:2:3', m: { x: 2, tags: [], when: 'later' }, l: [], e: {} },
    ];
    for (let f = 0; f < 5; f++) await put(`${P}n-${f}.json`, lines(rows(f)));
    const run = await p.run();
    expect(run.swap).toMatchObject({ committed: 1, schemaConflicts: [] });
    expect(run.swap.columnsAdded).toEqual(['id string', 'at string', 'm struct<x:bigint,tags:array<string>,when:string>', 'l array<struct<k:double>>', 'e map<string,string>']);
    const out = await p.compact(run.items[0]);
    expect(await readOutput([out.outputKey], `SELECT DISTINCT id, "at", m."when" AS w, typeof(id) AS t FROM $OUT ORDER BY id, "at"`)).toEqual([
      { id: '123E4567-E89B-12D3-A456-426614174000', at: '14:00', w: '2024-12-19T14:00:00Z', t: 'VARCHAR' },
      { id: '123e4567-e89b-12d3-a456-426614174000', at: '1:2:3', w: 'later', t: 'VARCHAR' },
    ]);
    tally.handled += 2;
  });

  it('quarantines numbers no inferred type holds as written, and keeps the ones it does exactly', async () => {
    tally.tried += 5;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const good = Array.from({ length: 20 }, (_, i) => `{"i":9007199254740993,"big":9223372036854775807,"d":${i}.5,"tiny":5e-324}`).join('\n');
    for (let f = 0; f < 5; f++) await put(`${P}x-${f}.json`, `${good}\n`);
    const bad = ['{"i":-0}', '{"i":123456789012345678901234567890}', '{"d":1e400}', '{"d":1e-400}', '{"d":9007199254740993}'];
    await put(`${P}bad.json`, bad.join('\n') + '\n');
    const { items } = await p.plan();
    const out = await p.compact(items[0]);
    expect(out).toMatchObject({ outputRows: 100, rejectedRecords: 5 });
    const { report } = await reportOf(out.manifestKey);
    expect(report!.rejected.map((r) => r.reason)).toEqual([
      'field "i" is -0, which an integer column stores as 0 (declare the column string to keep it)',
      'field "i" is 123456789012345678901234567890, beyond the 64-bit integer range: declare the column decimal(38,0) or string to keep it',
      'field "d" is 1e400, beyond the range of a double',
      'field "d" is 1e-400, too small for a double (it would be stored as 0)',
      'field "d" is 9007199254740993, which its column (a double: other records hold fractions there) would round; declare it decimal(p,s), bigint or string to keep it',
    ]);
    expect(await readOutput([out.outputKey], 'SELECT DISTINCT i::VARCHAR AS i, big::VARCHAR AS big, tiny::VARCHAR AS tiny FROM $OUT')).toEqual([
      { i: '9007199254740993', big: '9223372036854775807', tiny: '5e-324' },
    ]);
    tally.handled += 5;
  });
});
