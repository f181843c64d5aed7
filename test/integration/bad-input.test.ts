/**
 * Messy landing zones: every bad input gets a clear, reported outcome, and no good row is lost
 * because of a bad neighbour.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import type { BinManifest } from '../../lambdas/core/contracts';
import { planRun } from '../../lambdas/use-cases/plan-run';
import { putFiles, sensorFiles } from '../../local/generate';
import { ManualClock, testSettings, usePipeline } from '../helpers/pipeline';
import { useLoopback } from '../helpers/loopback';
import { useTally } from '../helpers/tally';
import { allKeys, compareRows, getBytes, queryParquetObjects, rowsFromJsonLines, rowsFromParquetObjects } from '../helpers/rows';

const tally = useTally();
const env = useLoopback('each', 'bad-input');

const put = (key: string, body: string | Buffer) => env.s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key: key, Body: typeof body === 'string' ? Buffer.from(body) : body }));
const P = 'sensors/dt=2024-12-19/hour=14/';

const readOutput = (keys: string[], sql: string) => queryParquetObjects(env.s3.client, 'gold', keys, env.scratch, sql);

describe('bad records', () => {
  it('quarantines malformed lines with file and line number, and keeps every good row exactly once', async () => {
    tally.tried += 5;
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const good = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 40, rowsPerFile: 25, seed: 31 });
    await putFiles(env.s3.client, 'landing', good);
    const goodRow = JSON.parse(good[0].body.split('\n')[0]);
    const line = (o: object) => JSON.stringify(o);
    await put(`${P}bad-1.json`, [line({ ...goodRow, seq: 100001 }), '{"device_id":"x","ts":"2024-12-19T14:00:00Z","temperature":1', line({ ...goodRow, seq: 100002 })].join('\n') + '\n');
    await put(`${P}bad-2.json`, Buffer.concat([Buffer.from(line({ ...goodRow, seq: 100003 }) + '\n'), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), Buffer.from('[1,2,3]\n')]));
    await put(`${P}bom.json`, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(line({ ...goodRow, seq: 100004 }) + '\r\n' + line({ ...goodRow, seq: 100005 }) + '\r\n')]));
    await put(`${P}huge.json`, line({ ...goodRow, seq: 100006 }) + '\n' + line({ ...goodRow, note: 'x'.repeat(11 * 1024 * 1024) }) + '\n');

    const run = await p.run();
    expect(run.swap.committed).toBe(1);
    const goodRows = [
      ...good.flatMap((f) => rowsFromJsonLines(f.body)),
      ...[100001, 100002, 100003, 100004, 100005, 100006].flatMap((seq) => rowsFromJsonLines(line({ ...goodRow, seq }))),
    ];
    const outputs = (await allKeys(env.s3.client, 'gold', 'sensors/')).map((o) => o.key);
    const actual = await rowsFromParquetObjects(env.s3.client, 'gold', outputs, env.scratch);
    expect(compareRows(goodRows, actual)).toMatchObject({ lost: 0, extra: 0 });

    const manifest = (await env.store.getJson<BinManifest>('gold', (await p.compact(run.items[0])).manifestKey))!;
    const report = await env.store.getJson<{ rejected: unknown[] }>('gold', manifest.quarantine!.reportKey);
    expect(report!.rejected).toEqual([
      { file: `s3://landing/${P}bad-1.json`, line: 2, reason: expect.stringMatching(/^malformed JSON \(/) },
      { file: `s3://landing/${P}bad-2.json`, line: 2, reason: 'not valid UTF-8' },
      { file: `s3://landing/${P}bad-2.json`, line: 3, reason: 'not a JSON object (an array)' },
      {
        file: `s3://landing/${P}huge.json`,
        line: 2,
        reason: expect.stringMatching(/^record of 1153\d{4} bytes is over the 10485760-byte limit$/),
        // Too large to hold in memory: the object itself is kept.
        copy: `s3://gold/quarantine/sensors/dt=2024-12-19/hour=14/${run.items[0].binId}/objects/0-huge.json`,
      },
    ]);
    const records = Buffer.from(await getBytes(env.s3.client, 'gold', manifest.quarantine!.recordsKey!)).toString('latin1').split('\n');
    expect(records[0]).toBe('{"device_id":"x","ts":"2024-12-19T14:00:00Z","temperature":1');
    expect(manifest.inputs.find((i) => i.key === `${P}bad-1.json`)).toMatchObject({ rows: 2, rejected: 1 });
    expect(manifest.inputs.find((i) => i.key === `${P}bom.json`)).toMatchObject({ rows: 2 });
    expect(run.items).toHaveLength(1);
    tally.handled += 5;
  });

  it('quarantines up to 10 bad records whatever the share, so a small bin is not stuck on them', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const good = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 5, rowsPerFile: 4, seed: 36 });
    await putFiles(env.s3.client, 'landing', good);
    await put(`${P}broken.json`, '{"a":\n'.repeat(10));
    const { items } = await p.plan();
    expect(await p.compact(items[0])).toMatchObject({ outputRows: 20, rejectedRecords: 10 });
    tally.handled++;
  });

  it('fails the bin with InvalidInputError and writes nothing when too many records are bad', async () => {
    tally.tried++;
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    await putFiles(env.s3.client, 'landing', sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 5, rowsPerFile: 4, seed: 32 }));
    // A few bad records are always quarantined (a small bin must not get stuck on one); 11 are too many here.
    await put(`${P}broken.json`, '{"a":\n'.repeat(11));
    const { output, items } = await p.plan();
    await expect(p.compact(items[0])).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(
        new RegExp(`^bin ${items[0].binId} of dt=2024-12-19/hour=14: 11 of 31 records cannot be read, over the 1% limit; nothing was written\\. First: ${P}broken\\.json line 1: malformed JSON`),
      ),
    });
    expect((await allKeys(env.s3.client, 'gold', 'sensors/')).length).toBe(0);
    expect(await p.swap(output)).toMatchObject({ committed: 0, incomplete: 1 });
    expect(await p.catalog.all()).toEqual([]);
    tally.handled++;
  });

  it('sets a gzip bomb aside whole before it fills the disk, copies it to quarantine, and compacts the rest', async () => {
    tally.tried++;
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const good = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 5, rowsPerFile: 4, seed: 33 });
    await putFiles(env.s3.client, 'landing', good);
    const bomb = gzipSync(Buffer.alloc(3 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(10_000);
    await put(`${P}bomb.json.gz`, bomb);
    const { output, items } = await p.plan();
    const out = await p.compact(items[0], { maxDecompressedMb: 1 });
    expect(out).toMatchObject({ inputRows: 20, outputRows: 20, rejectedRecords: 0, rejectedObjects: 1 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    expect(manifest.inputs.find((i) => i.key === `${P}bomb.json.gz`)).toMatchObject({ rows: 0, setAside: true });
    const report = await env.store.getJson<{ rejected: unknown[] }>('gold', manifest.quarantine!.reportKey);
    const copy = `quarantine/sensors/dt=2024-12-19/hour=14/${items[0].binId}/objects/0-bomb.json.gz`;
    expect(report!.rejected).toEqual([
      {
        file: `s3://landing/${P}bomb.json.gz`,
        reason: `s3://landing/${P}bomb.json.gz is larger than 1048576 bytes once decompressed (a gzip bomb?); split the object or raise MAX_DECOMPRESSED_MB`,
        copy: `s3://gold/${copy}`,
      },
    ]);
    expect(Buffer.from(await getBytes(env.s3.client, 'gold', copy)).equals(bomb)).toBe(true);
    expect((await p.swap(output)).committed).toBe(1);
    const gold = (await allKeys(env.s3.client, 'gold', 'sensors/')).map((o) => o.key);
    expect(compareRows(good.flatMap((f) => rowsFromJsonLines(f.body)), await rowsFromParquetObjects(env.s3.client, 'gold', gold, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
    tally.handled++;
  });
});

describe('schema drift', () => {
  const write = async () => {
    const lines = (n: number, meta: (i: number) => unknown) => Array.from({ length: n }, (_, i) => JSON.stringify({ device_id: `d${i}`, seq: i, meta: meta(i) })).join('\n') + '\n';
    for (let f = 0; f < 8; f++) await put(`${P}obj-${f}.json`, lines(5, (i) => ({ fw: `v${i}` })));
    await put(`${P}num-1.json`, lines(5, (i) => i));
    await put(`${P}num-2.json`, lines(3, () => 7));
  };

  it('quarantines files whose field kind disagrees with most records, and compacts the rest', async () => {
    tally.tried += 2;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    await write();
    const { items } = await p.plan();
    const out = await p.compact(items[0]);
    expect(out).toMatchObject({ outputRows: 40, rejectedRecords: 8 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    expect(manifest.output.schema.find((c) => c.name === 'meta')).toEqual({ name: 'meta', type: 'STRUCT(fw VARCHAR)' });
    const report = await env.store.getJson<{ rejected: unknown[] }>('gold', manifest.quarantine!.reportKey);
    expect(report!.rejected).toEqual([
      { file: `s3://landing/${P}num-1.json`, reason: 'field "meta" is number here but object in most records' },
      { file: `s3://landing/${P}num-2.json`, reason: 'field "meta" is number here but object in most records' },
    ]);
    expect(await readOutput([out.outputKey], 'SELECT count(*)::INT AS n, count(DISTINCT device_id)::INT AS d FROM $OUT')).toEqual([{ n: 40, d: 5 }]);
    tally.handled += 2;
  });

  it('writes mixed kinds as strings where the table allows it', async () => {
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    await write();
    const { items } = await p.plan();
    const out = await p.compact(items[0], { coerceToString: ['meta'] });
    expect(out).toMatchObject({ outputRows: 48, rejectedRecords: 0 });
    expect(await readOutput([out.outputKey], `SELECT meta FROM $OUT WHERE device_id = 'd0' ORDER BY meta`)).toEqual([
      { meta: '0' },
      { meta: '7' },
      ...Array(8).fill({ meta: '{"fw":"v0"}' }),
    ]);
  });
});

describe('values', () => {
  const sensorTypes = { device_id: 'VARCHAR', ts: 'TIMESTAMPTZ', battery: 'BIGINT', seq: 'BIGINT' };

  it('quarantines records whose values do not fit the declared column types, and keeps the rest', async () => {
    tally.tried += 4;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const good = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 30, rowsPerFile: 20, seed: 34 });
    await putFiles(env.s3.client, 'landing', good);
    const row = JSON.parse(good[0].body.split('\n')[0]);
    const bad = [
      JSON.stringify({ ...row, seq: 'abc' }),
      JSON.stringify({ ...row, seq: 7, ts: 'not a time' }),
      JSON.stringify({ ...row, seq: 8, battery: 1e40 }),
      JSON.stringify({ ...row, seq: 9, battery: true }),
    ];
    await put(`${P}misfits.json`, [JSON.stringify({ ...row, seq: 100001 }), ...bad].join('\n') + '\n');
    const { items } = await p.plan();
    const out = await p.compact(items[0], { declaredTypes: sensorTypes });
    expect(out).toMatchObject({ outputRows: 601, rejectedRecords: 4 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    const report = await env.store.getJson<{ rejected: unknown[] }>('gold', manifest.quarantine!.reportKey);
    const file = `s3://landing/${P}misfits.json`;
    expect(report!.rejected).toEqual([
      { file, line: 2, reason: 'field "seq" is "abc", which is not a BIGINT' },
      { file, line: 3, reason: 'field "ts" is "not a time", which is not a TIMESTAMPTZ' },
      { file, line: 4, reason: 'field "battery" is 1e+40, which is not a BIGINT' },
      { file, line: 5, reason: 'field "battery" is true, which is not a BIGINT' },
    ]);
    const records = Buffer.from(await getBytes(env.s3.client, 'gold', manifest.quarantine!.recordsKey!)).toString();
    expect(records).toBe(bad.join('\n') + '\n');
    const expected = [...good.flatMap((f) => rowsFromJsonLines(f.body)), ...rowsFromJsonLines(JSON.stringify({ ...row, seq: 100001 }))];
    expect(compareRows(expected, await rowsFromParquetObjects(env.s3.client, 'gold', [out.outputKey], env.scratch))).toMatchObject({ lost: 0, extra: 0 });
    tally.handled += 4;
  });

  it('fails the bin naming the column, value and file when a CSV value does not fit its declared type', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    for (let i = 0; i < 5; i++) await put(`${P}c-${i}.csv`, `device_id,seq\nd${i},${i === 3 ? 'x3' : i}\n`);
    const { items } = await p.plan();
    await expect(p.compact(items[0], { declaredTypes: sensorTypes })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: `inputs do not fit the declared column types: column "seq" (BIGINT): "x3", in ${P}c-3.csv`,
    });
    tally.handled++;
  });

  it('writes declared decimals as DECIMAL and declared timestamps as TIMESTAMP, whatever the inference', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const rows = ['{"price": 12345678.91, "at": "2024-12-19T14:00:00Z"}', '{"price": 0.1, "at": "2024-12-19 14:30:00.123456"}'];
    for (let i = 0; i < 5; i++) await put(`${P}d-${i}.json`, rows.join('\n') + '\n');
    const { items } = await p.plan();
    const out = await p.compact(items[0], { declaredTypes: { price: 'DECIMAL(12,2)', at: 'TIMESTAMPTZ' } });
    const got = await readOutput([out.outputKey], 'SELECT DISTINCT price::VARCHAR AS price, typeof(price) AS t, "at"::VARCHAR AS "at", typeof("at") AS tt FROM $OUT ORDER BY price');
    expect(got).toEqual([
      { price: '0.10', t: 'DECIMAL(12,2)', at: '2024-12-19 14:30:00.123456+00', tt: 'TIMESTAMP WITH TIME ZONE' },
      { price: '12345678.91', t: 'DECIMAL(12,2)', at: '2024-12-19 14:00:00+00', tt: 'TIMESTAMP WITH TIME ZONE' },
    ]);
    tally.handled++;
  });

  it('keeps declared decimals beyond double precision exact, from JSON, gzipped JSON and CSV', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    // 38 significant digits: a double keeps about 16.
    const values = ['12345678901234567.89', '-99999999999999999999999999999999.123456', '0.000001', '7', '2.5E+3'];
    const json = values.map((v, i) => `{"id": ${i}, "price": ${v}, "meta": {"price": 1.5}}`).join('\n') + '\n';
    for (let i = 0; i < 3; i++) await put(`${P}d-${i}.json`, json);
    await put(`${P}d-3.json.gz`, gzipSync(json));
    await put(`${P}d-4.csv`, `id,price\n${values.map((v, i) => `${i},${v}`).join('\n')}\n`);
    const { items } = await p.plan();
    const out = await p.compact(items[0], { declaredTypes: { price: 'DECIMAL(38,6)' } });
    expect(out.outputRows).toBe(25);
    const got = await readOutput([out.outputKey], 'SELECT price::VARCHAR AS price, typeof(price) AS t, count(*)::INT AS n FROM $OUT GROUP BY ALL ORDER BY price');
    expect(got).toEqual([
      { price: '-99999999999999999999999999999999.123456', t: 'DECIMAL(38,6)', n: 5 },
      { price: '0.000001', t: 'DECIMAL(38,6)', n: 5 },
      { price: '12345678901234567.890000', t: 'DECIMAL(38,6)', n: 5 },
      { price: '2500.000000', t: 'DECIMAL(38,6)', n: 5 },
      { price: '7.000000', t: 'DECIMAL(38,6)', n: 5 },
    ]);
    tally.handled++;
  });

  it('leaves numbers that are not valid JSON to be rejected as malformed, even in a declared decimal field', async () => {
    tally.tried += 4;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const good = Array.from({ length: 100 }, (_, i) => `{"id": ${i}, "price": ${i}}`).join('\n');
    const bad = ['{"id": 901, "price": 1.e5}', '{"id": 902, "price": -.5e1}', '{"id": 903, "price": 00012}', '{"id": 904, "price": 1-2}'];
    for (let i = 0; i < 5; i++) await put(`${P}n-${i}.json`, `${good}\n${i === 0 ? bad.join('\n') + '\n' : ''}`);
    const { items } = await p.plan();
    const out = await p.compact(items[0], { declaredTypes: { price: 'DECIMAL(20,2)' } });
    expect(out).toMatchObject({ outputRows: 500, rejectedRecords: 4 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    const report = await env.store.getJson<{ rejected: Array<{ line: number; reason: string }> }>('gold', manifest.quarantine!.reportKey);
    expect(report!.rejected.map((r) => [r.line, r.reason.slice(0, 16)])).toEqual([
      [101, 'malformed JSON ('],
      [102, 'malformed JSON ('],
      [103, 'malformed JSON ('],
      [104, 'malformed JSON ('],
    ]);
    tally.handled += 4;
  });

  it('reports a misfit as the producer wrote it, wide integers included', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const good = Array.from({ length: 100 }, (_, i) => `{"id": ${i}, "price": ${i}}`).join('\n');
    const wide = '{"id":1007,"price":12345678901234567890123}\n{"id":1008,"price":1,"n":12345678901234567890123}\n';
    for (let i = 0; i < 5; i++) await put(`${P}w-${i}.json`, `${good}\n${i === 0 ? wide : ''}`);
    const { items } = await p.plan();
    const out = await p.compact(items[0], { declaredTypes: { price: 'DECIMAL(20,2)', n: 'BIGINT' } });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    const report = await env.store.getJson<{ rejected: unknown[] }>('gold', manifest.quarantine!.reportKey);
    expect(report!.rejected).toEqual([
      { file: `s3://landing/${P}w-0.json`, line: 101, reason: 'field "price" is 12345678901234567890123, which is not a DECIMAL(20,2)' },
      { file: `s3://landing/${P}w-0.json`, line: 102, reason: 'field "n" is 12345678901234567890123, which is not a BIGINT' },
    ]);
    tally.handled++;
  });

  it('quarantines a decimal its declared type cannot hold, reported as the producer wrote it', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const good = Array.from({ length: 100 }, (_, i) => `{"id": ${i}, "price": ${i}.5e-1}`).join('\n');
    for (let i = 0; i < 5; i++) await put(`${P}p-${i}.json`, `${good}\n${i === 2 ? '{"id": 999, "price": 1e40}\n' : ''}`);
    const { items } = await p.plan();
    const out = await p.compact(items[0], { declaredTypes: { price: 'DECIMAL(20,2)' } });
    expect(out).toMatchObject({ outputRows: 500, rejectedRecords: 1 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    const report = await env.store.getJson<{ rejected: unknown[] }>('gold', manifest.quarantine!.reportKey);
    expect(report!.rejected).toEqual([{ file: `s3://landing/${P}p-2.json`, line: 101, reason: 'field "price" is 1e40, which is not a DECIMAL(20,2)' }]);
    expect(Buffer.from(await getBytes(env.s3.client, 'gold', manifest.quarantine!.recordsKey!)).toString()).toBe('{"id": 999, "price": 1e40}\n');
    // 0.5e-1 .. 99.5e-1 written out exactly (9.95 stays 9.95, not 9.9499999 rounded).
    expect(await readOutput([out.outputKey], 'SELECT sum(price)::VARCHAR AS s, max(price)::VARCHAR AS m FROM $OUT')).toEqual([{ s: '2500.00', m: '9.95' }]);
    tally.handled++;
  });

  it('sets aside a Parquet object whose footer reads but whose data does not', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    await putFiles(env.s3.client, 'landing', sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 5, rowsPerFile: 4, seed: 37 }));
    const path = join(env.scratch, 'damaged.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run(`COPY (SELECT range AS seq, md5(range::VARCHAR) AS device_id FROM range(20000)) TO '${path}' (FORMAT parquet, COMPRESSION snappy)`);
    c.closeSync();
    db.closeSync();
    const bytes = await readFile(path);
    for (let i = 100; i < 2000; i++) bytes[i] = (bytes[i] * 7 + 13) & 0xff;
    await put(`${P}damaged.parquet`, bytes);
    const { items } = await p.plan();
    const out = await p.compact(items[0]);
    expect(out).toMatchObject({ outputRows: 20, rejectedObjects: 1 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    const report = await env.store.getJson<{ rejected: Array<{ file: string; reason: string }> }>('gold', manifest.quarantine!.reportKey);
    expect(report!.rejected).toEqual([{ file: `s3://landing/${P}damaged.parquet`, reason: expect.stringMatching(/^not a readable Parquet file: /), copy: expect.any(String) }]);
    expect(report!.rejected[0].reason).toContain(`${P}damaged.parquet`);
    expect(report!.rejected[0].reason).not.toContain(env.scratch);
    tally.handled++;
  });

  it('sets aside a landing object that is not readable Parquet, copies it to quarantine, and compacts the rest', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const good = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 5, rowsPerFile: 4, seed: 35 });
    await putFiles(env.s3.client, 'landing', good);
    const broken = Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(100, 7)]);
    await put(`${P}broken.parquet`, broken);
    const { output, items } = await p.plan();
    const out = await p.compact(items[0]);
    expect(out).toMatchObject({ outputRows: 20, rejectedObjects: 1 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    const report = await env.store.getJson<{ rejected: Array<{ file: string; reason: string; copy: string }> }>('gold', manifest.quarantine!.reportKey);
    expect(report!.rejected).toEqual([
      { file: `s3://landing/${P}broken.parquet`, reason: expect.stringMatching(/^not a readable Parquet file: .*s3:\/\/landing\/sensors\/dt=2024-12-19\/hour=14\/broken\.parquet/), copy: expect.stringMatching(/objects\/0-broken\.parquet$/) },
    ]);
    expect(report!.rejected[0].reason).not.toContain(env.scratch);
    expect(Buffer.from(await getBytes(env.s3.client, 'gold', report!.rejected[0].copy.replace('s3://gold/', ''))).equals(broken)).toBe(true);
    expect((await p.swap(output)).committed).toBe(1);
    tally.handled++;
  });

  it('quarantines the stored bytes of a bad record even where staging quoted its numbers', async () => {
    tally.tried++;
    const p = usePipeline(env.store, env.scratch, new ManualClock());
    const good = Array.from({ length: 200 }, (_, i) => `{"id": ${i}, "price": 1.25}`).join('\n');
    const bad = '{"id": 999, "price": 12345678901234567.89, "note": tru}';
    await put(`${P}a.json`, `${good}\n${bad}\n`);
    for (let i = 0; i < 4; i++) await put(`${P}b-${i}.json`, `${good}\n`);
    const { items } = await p.plan();
    const out = await p.compact(items[0], { declaredTypes: { price: 'DECIMAL(20,2)' } });
    expect(out).toMatchObject({ outputRows: 1000, rejectedRecords: 1 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    expect(Buffer.from(await getBytes(env.s3.client, 'gold', manifest.quarantine!.recordsKey!)).toString()).toBe(`${bad}\n`);
    const report = await env.store.getJson<{ rejected: unknown[] }>('gold', manifest.quarantine!.reportKey);
    expect(report!.rejected).toEqual([{ file: `s3://landing/${P}a.json`, line: 201, reason: `malformed JSON (Unexpected token '}', ..."note": tru}" is not valid JSON)` }]);
    tally.handled++;
  });

  it('keeps int64 above 2^53 exact, timestamps to the microsecond as UTC Parquet TIMESTAMP', async () => {
    tally.tried++;
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const rows = [
      '{"id": 9007199254740993, "big": 9223372036854775807, "ts": "2024-12-19T14:00:00.123456Z", "n": 1}',
      '{"id": -9007199254740993, "big": -9223372036854775808, "ts": "2024-12-19T14:59:59.000001Z", "n": 2}',
    ];
    for (let i = 0; i < 5; i++) await put(`${P}v-${i}.json`, rows.join('\n') + '\n');
    await p.run();
    const out = (await allKeys(env.s3.client, 'gold', 'sensors/')).map((o) => o.key);
    const got = await readOutput(out, `SELECT DISTINCT id::VARCHAR AS id, big::VARCHAR AS big, typeof(big) AS t, ts::VARCHAR AS ts, typeof(ts) AS tt FROM $OUT ORDER BY id`);
    expect(got).toEqual([
      { id: '-9007199254740993', big: '-9223372036854775808', t: 'BIGINT', ts: '2024-12-19 14:59:59.000001+00', tt: 'TIMESTAMP WITH TIME ZONE' },
      { id: '9007199254740993', big: '9223372036854775807', t: 'BIGINT', ts: '2024-12-19 14:00:00.123456+00', tt: 'TIMESTAMP WITH TIME ZONE' },
    ]);
    tally.handled++;
  });
});

describe('hostile keys', () => {
  it('never writes outside the gold table prefix, and compacts odd but legal keys', async () => {
    const clock = new ManualClock();
    const p = usePipeline(env.store, env.scratch, clock);
    const body = (seq: number) => `{"device_id":"d","seq":${seq}}\n`;
    const dirs = ['dt=../hour=1', 'dt=%2e%2e/hour=2', 'dt=a%07b/hour=3', 'dt=a b+c/hour=4', 'dt=x%2F..%2Fy/hour=5'];
    let seq = 0;
    for (const d of dirs) for (let i = 0; i < 5; i++) await put(`sensors/${d}/f ${i}+x.json`, body(seq++));
    const long = `sensors/dt=long/hour=6/${'k'.repeat(200)}/${'k'.repeat(200)}/${'k'.repeat(200)}/${'k'.repeat(200)}/f.json`;
    await put(long, body(999));
    tally.tried += dirs.length + 1;
    const run = await p.run();
    const gold = (await allKeys(env.s3.client, 'gold', '')).map((o) => o.key);
    for (const k of gold) expect(k).toMatch(/^(sensors\/dt=[^/]+\/hour=\d\/v=[0-9a-f]{16}\/part-[0-9a-f]{16}\.parquet|_compactor\/sensors\/.+)$/);
    const dataKeys = gold.filter((k) => k.startsWith('sensors/'));
    expect(dataKeys.map((k) => k.split('/v=')[0]).sort()).toEqual([
      'sensors/dt=x%2F..%2Fy/hour=5',
      'sensors/dt=../hour=1',
      'sensors/dt=../hour=2',
      'sensors/dt=a%07b/hour=3',
      'sensors/dt=a%20b%2Bc/hour=4',
    ].sort());
    // `..` from both spellings is one partition of 10 files; the long key is reported, not lost.
    expect(run.items.map((i) => [i.partition, i.inputFiles]).sort()).toEqual([
      ['dt=../hour=1', 5], ['dt=../hour=2', 5], ['dt=a%07b/hour=3', 5], ['dt=a%20b%2Bc/hour=4', 5], ['dt=x%2F..%2Fy/hour=5', 5],
    ].sort());
    const { report } = await planRun({ store: env.store, settings: testSettings, clock }, { table: 'sensors' });
    expect(report.skippedExamples).toContainEqual({ key: long, reason: 'outside-layout' });
    expect(await readOutput(dataKeys, 'SELECT count(*)::INT AS n, sum(seq)::INT AS s FROM $OUT')).toEqual([{ n: 25, s: (24 * 25) / 2 }]);
    tally.handled += dirs.length + 1;
  });
});

describe('producer layouts', () => {
  it('compacts a Firehose YYYY/MM/DD/HH/ landing zone into dt=/hour= partitions', async () => {
    const clock = new ManualClock();
    const settings = { ...testSettings, landingPrefix: 'fh/', layout: 'firehose' as const };
    const p = usePipeline(env.store, env.scratch, clock, settings);
    const files = sensorFiles({ prefix: 'fh/', hours: ['2024-12-19/14'], filesPerHour: 6, rowsPerFile: 4, seed: 41 }).map((f, i) => ({
      key: `fh/2024/12/19/14/sensors-stream-1-2024-12-19-14-0${i}-00-${i}aaa${i === 0 ? '.gz' : ''}`,
      body: f.body,
    }));
    for (const f of files) await put(f.key, f.key.endsWith('.gz') ? gzipSync(f.body) : f.body);
    const run = await p.run();
    expect(run.items.map((i) => [i.partition, i.inputFiles])).toEqual([['dt=2024-12-19/hour=14', 6]]);
    const keys = (await allKeys(env.s3.client, 'gold', 'sensors/')).map((o) => o.key);
    expect(keys).toEqual([expect.stringMatching(/^sensors\/dt=2024-12-19\/hour=14\/v=[0-9a-f]{16}\/part-[0-9a-f]{16}\.parquet$/)]);
    expect(compareRows(files.flatMap((f) => rowsFromJsonLines(f.body)), await rowsFromParquetObjects(env.s3.client, 'gold', keys, env.scratch))).toMatchObject({ lost: 0, extra: 0 });
  });
});
