/**
 * Kafka Connect S3 sink landing zones: every offset is written once, whether a redelivery lands in
 * the same bin, in another bin of the run, or after its offsets were committed.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import type { BinManifest, BinSpec } from '../../lambdas/core/contracts';
import { outputRatiosKey } from '../../lambdas/core/keys';
import { rollbackPartition } from '../../lambdas/use-cases/rollback';
import { useLoopback } from '../helpers/loopback';
import { ManualClock, testSettings, usePipeline } from '../helpers/pipeline';
import { allKeys, queryParquetObjects } from '../helpers/rows';
import { useTally } from '../helpers/tally';
import { rng } from '../../local/generate';

const tally = useTally('Kafka redeliveries');
const env = useLoopback('each', 'kafka');

const settings = { ...testSettings, landingPrefix: 'topics/orders/', goldPrefix: 'orders/', partitionKeys: ['partition'], table: 'orders' };
const dir = 'topics/orders/partition=0/';
const put = (key: string, body: string | Buffer) => env.s3.client.send(new PutObjectCommand({ Bucket: 'landing', Key: key, Body: typeof body === 'string' ? Buffer.from(body) : body }));
/** Records as the sink writes them: one per offset, the same content whenever the offset is redelivered. */
const records = (from: number, n: number, pad = 0) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ offset: from + i, amount: (from + i) * 10, ...(pad ? { note: 'x'.repeat(pad) } : {}) })).join('\n') + '\n';
/** The same records, with the one at offset `at` truncated as a producer crash leaves it. */
const broken = (from: number, n: number, at: number) => {
  const lines = records(from, n).split('\n');
  lines[at - from] = `{"offset": ${at}, "amount": `;
  return lines.join('\n');
};
const name = (offset: number, ext = 'json') => `${dir}orders+0+${String(offset).padStart(10, '0')}.${ext}`;

/** Row count, distinct offsets and their range over the current version's files. */
async function offsetsInGold() {
  const keys = (await allKeys(env.s3.client, 'gold', 'orders/')).map((o) => o.key);
  const p = usePipeline(env.store, env.scratch, new ManualClock(), settings);
  const state = await p.state('partition=0');
  const current = keys.filter((k) => state!.files.some((f) => f.key === k));
  const [row] = await queryParquetObjects(
    env.s3.client,
    'gold',
    current,
    env.scratch,
    'SELECT count(*)::INT AS n, count(DISTINCT "offset")::INT AS d, min("offset")::INT AS lo, max("offset")::INT AS hi, sum(amount)::BIGINT::VARCHAR AS amount FROM $OUT',
  );
  return row;
}

/** A Kafka Connect ParquetFormat object: the same records as `records`, as Parquet bytes. */
async function parquet(from: number, n: number, pad = 0): Promise<Buffer> {
  const path = join(env.scratch, `p-${from}-${n}.parquet`);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const note = pad ? `, repeat('x', ${pad}) AS note` : '';
    await c.run(`COPY (SELECT range AS "offset", range * 10 AS amount${note} FROM range(${from}, ${from + n}) ORDER BY range) TO '${path}' (FORMAT parquet, COMPRESSION snappy)`);
  } finally {
    c.closeSync();
    db.closeSync();
  }
  return readFile(path);
}

const amountOf = (offsets: number[]) => String(offsets.reduce((s, o) => s + o * 10, 0));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

it('compacts a topic once per offset within a bin, recording offset ranges and gaps', async () => {
  const p = usePipeline(env.store, env.scratch, new ManualClock(), settings);
  await put(name(0), records(0, 10));
  await put(name(10), records(10, 10));
  await put(name(15), records(15, 10)); // redelivery: 15..19 again
  await put(name(30), records(30, 5)); // gap 25..29
  await put(name(40, 'json.gz'), gzipSync(records(40, 5))); // gap 35..39
  await put(`${dir}orders+0+0000000000.keys.json`, '{"k":1}\n');
  await put(`topics/orders/+tmp/orders/partition=0/abc.json`, records(0, 3));
  await put(name(100, 'avro'), Buffer.from('Obj\x01'));
  tally.tried += 4;

  const { output, items } = await p.plan();
  const planned = await env.store.getJson<{ report: { skipped: Record<string, number> } }>('gold', output.planKey);
  expect(planned!.report.skipped).toMatchObject({ 'companion-file': 1, 'temporary-file': 1, 'unsupported-format': 1 });
  const out = await p.compact(items[0]);
  expect(out.outputRows).toBe(35); // offsets 0..24, 30..34, 40..44
  const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
  expect(manifest.kafka).toEqual([{ topic: 'orders', partition: 0, offsets: [[0, 25], [30, 35], [40, 45]], duplicates: 5 }]);
  // The later-starting copy keeps 15..19; the earlier object leaves them out.
  expect(manifest.inputs.find((i) => i.key === name(10))).toMatchObject({ rows: 5, duplicates: 5 });
  expect(manifest.inputs.find((i) => i.key === name(15))).toMatchObject({ rows: 10 });
  const swap = await p.swap(output);
  expect(swap.kafkaGaps).toEqual(['orders+0 in partition=0: 25-29, 35-39']);
  expect((await p.state('partition=0'))!.kafka).toEqual({ 'orders+0': [[0, 25], [30, 35], [40, 45]] });
  const offsets = [...range(0, 25), ...range(30, 35), ...range(40, 45)];
  expect(await offsetsInGold()).toEqual({ n: 35, d: 35, lo: 0, hi: 44, amount: amountOf(offsets) });
  tally.handled += 4;
});

it('never writes a redelivery twice after its offsets were committed, and fills gaps with late objects', async () => {
  const clock = new ManualClock();
  const p = usePipeline(env.store, env.scratch, clock, settings);
  await put(name(0), records(0, 10));
  await put(name(10), records(10, 10));
  await put(name(20), records(20, 5));
  await put(name(30), records(30, 5)); // gap 25..29
  await put(name(40), records(40, 5)); // gap 35..39
  await p.run();
  expect(await offsetsInGold()).toMatchObject({ n: 35, d: 35 });

  tally.tried += 3;
  clock.advance(3_600_000);
  await put(name(20), records(20, 15)); // the same key rewritten with 20..34: only 25..29 are new
  await put(name(35), records(35, 5)); // the missing 35..39
  await put(name(40), records(40, 8)); // the same key rewritten with more records: 45..47 are new
  const second = await p.run();
  expect(second.swap).toMatchObject({ committed: 1, kafkaGaps: [] });
  const manifest = (await env.store.getJson<BinManifest>('gold', (await p.compact(second.items[0])).manifestKey))!;
  expect(manifest.kafka).toEqual([{ topic: 'orders', partition: 0, offsets: [[25, 30], [35, 40], [45, 48]], duplicates: 10 + 5 }]);
  expect(await offsetsInGold()).toEqual({ n: 48, d: 48, lo: 0, hi: 47, amount: amountOf(range(0, 48)) });
  expect((await p.state('partition=0'))!.kafka).toEqual({ 'orders+0': [[0, 48]] });

  // A third delivery of everything changes nothing.
  clock.advance(3_600_000);
  await put(name(0, 'json.gz'), gzipSync(records(0, 48)));
  const third = await p.run();
  expect(third.swap.committed).toBe(1);
  expect(await offsetsInGold()).toEqual({ n: 48, d: 48, lo: 0, hi: 47, amount: amountOf(range(0, 48)) });

  // Rolled back to the first version, the partition holds its offsets again; the next run adds the rest once.
  const first = (await p.state('partition=0'))!.superseded[0];
  const rolled = await rollbackPartition({ store: env.store, catalog: p.catalog, settings, clock }, 'partition=0', first.version);
  expect(rolled.kafka).toEqual({ 'orders+0': [[0, 25], [30, 35], [40, 45]] });
  await p.run();
  expect(await offsetsInGold()).toEqual({ n: 48, d: 48, lo: 0, hi: 47, amount: amountOf(range(0, 48)) });
  tally.handled += 3;
});

it('does not count an offset whose record went to quarantine as held: its redelivery is written', async () => {
  const clock = new ManualClock();
  const p = usePipeline(env.store, env.scratch, clock, settings);
  await put(name(0), broken(0, 100, 3));
  for (const from of [100, 200, 300, 400]) await put(name(from), records(from, 100));
  tally.tried++;
  const first = await p.run();
  expect(first.swap).toMatchObject({ committed: 1, kafkaGaps: ['orders+0 in partition=0: 3'] });
  expect((await p.state('partition=0'))!.kafka).toEqual({ 'orders+0': [[0, 3], [4, 500]] });
  expect(await offsetsInGold()).toMatchObject({ n: 499, d: 499 });

  clock.advance(3_600_000);
  await put(name(3), records(3, 1)); // the sink delivers offset 3 again, intact
  const second = await p.run();
  expect(second.swap).toMatchObject({ committed: 1, kafkaGaps: [] });
  expect(await offsetsInGold()).toEqual({ n: 500, d: 500, lo: 0, hi: 499, amount: amountOf(range(0, 500)) });
  tally.handled++;
});

it('names a quarantined record by its own offset after duplicates before it were left out', async () => {
  const clock = new ManualClock();
  const p = usePipeline(env.store, env.scratch, clock, settings);
  await put(name(0), records(0, 25));
  for (const from of [30, 32, 34, 36]) await put(name(from), records(from, 2));
  await p.run();
  tally.tried++;
  clock.advance(3_600_000);
  await put(name(20), broken(20, 300, 27)); // 20..24 and 30..37 are held: offset 27 is the bad one
  const second = await p.run();
  expect(second.swap).toMatchObject({ committed: 1, kafkaGaps: ['orders+0 in partition=0: 27'] });
  expect((await p.state('partition=0'))!.kafka).toEqual({ 'orders+0': [[0, 27], [28, 320]] });
  clock.advance(3_600_000);
  await put(name(27), records(27, 1));
  await p.run();
  expect(await offsetsInGold()).toEqual({ n: 320, d: 320, lo: 0, hi: 319, amount: amountOf(range(0, 320)) });
  tally.handled++;
});

it('keeps an object whose left-out copy was the only good one in landing, and takes the offset from it next run', async () => {
  const clock = new ManualClock();
  const p = usePipeline(env.store, env.scratch, clock, settings);
  await put(name(0), records(0, 10));
  await put(name(5), broken(5, 300, 7)); // the later-starting copy of 7, the one kept, is broken
  for (const from of [305, 310, 315]) await put(name(from), records(from, 5));
  tally.tried++;
  const first = await p.run();
  expect(first.swap).toMatchObject({ committed: 1, kafkaGaps: ['orders+0 in partition=0: 7'] });
  const state = (await p.state('partition=0'))!;
  // name(0) left out 5..9 and the version lacks 7: it is not compacted yet, so never retired.
  expect(state.sources.map((x) => x.key)).not.toContain(name(0));

  clock.advance(3_600_000);
  const second = await p.run();
  expect(second.swap).toMatchObject({ committed: 1, kafkaGaps: [] });
  expect((await p.state('partition=0'))!.sources.map((x) => x.key)).toContain(name(0));
  expect(await offsetsInGold()).toEqual({ n: 320, d: 320, lo: 0, hi: 319, amount: amountOf(range(0, 320)) });
  // Nothing left to take: the next run changes nothing.
  clock.advance(3_600_000);
  expect((await p.run()).items).toEqual([]);
  tally.handled++;
});

it('takes an offset back once when both copies are broken, even with nothing else in its bin', async () => {
  const clock = new ManualClock();
  const p = usePipeline(env.store, env.scratch, clock, settings);
  // Incompressible padding, so the version's Parquet file is large enough to be carried as it is.
  const random = rng(9);
  const noise = () => Buffer.from(Array.from({ length: 1536 }, () => Math.floor(random() * 256))).toString('base64');
  const brokenPadded = (from: number, n: number, at: number) =>
    Array.from({ length: n }, (_, i) => (from + i === at ? `{"offset": ${at}, "amount": ` : JSON.stringify({ offset: from + i, amount: (from + i) * 10, note: noise() }))).join('\n') + '\n';
  // The same record arrives broken in both copies: the later one is kept, and quarantined.
  await put(name(0), broken(0, 10, 7));
  await put(name(5), brokenPadded(5, 4000, 7));
  for (const from of [4005, 4010, 4015]) await put(name(from), records(from, 5));
  tally.tried++;
  const first = await p.run();
  expect(first.swap).toMatchObject({ committed: 1, kafkaGaps: ['orders+0 in partition=0: 7'] });

  // Its gold file now counts as large (carried as it is), so the rerun's bin holds name(0) alone:
  // every record of it is either held already or broken, and the bin writes nothing.
  await env.store.putJson('gold', outputRatiosKey('orders'), { parquet: 10 });
  clock.advance(3_600_000);
  const second = await p.run();
  expect(second.items.map((i) => i.inputFiles)).toEqual([1]);
  expect(second.swap).toMatchObject({ committed: 1, kafkaGaps: ['orders+0 in partition=0: 7'] });
  const manifest = (await env.store.getJson<BinManifest>('gold', (await p.compact(second.items[0])).manifestKey))!;
  expect(manifest.output).toMatchObject({ empty: true, rows: 0 });
  expect(manifest.inputs).toEqual([expect.objectContaining({ key: name(0), rows: 0, rejected: 1, duplicates: 9 })]);
  expect((await p.state('partition=0'))!.sources.map((x) => x.key)).toContain(name(0));
  clock.advance(3_600_000);
  expect((await p.run()).items).toEqual([]);
  expect(await offsetsInGold()).toMatchObject({ n: 4019, d: 4019, lo: 0, hi: 4019 });
  tally.handled++;
});

it('writes each offset once from Kafka Connect Parquet objects, alone or mixed with JSON', async () => {
  const clock = new ManualClock();
  const p = usePipeline(env.store, env.scratch, clock, settings);
  await put(name(0, 'snappy.parquet'), await parquet(0, 10));
  await put(name(5, 'snappy.parquet'), await parquet(5, 10)); // redelivery: 5..9 again
  await put(name(15), records(15, 5));
  await put(name(20, 'snappy.parquet'), await parquet(20, 5));
  await put(name(25, 'snappy.parquet'), await parquet(25, 5));
  tally.tried++;
  const first = await p.run();
  const manifest = (await env.store.getJson<BinManifest>('gold', (await p.compact(first.items[0])).manifestKey))!;
  expect(manifest.inputs.find((i) => i.key === name(0, 'snappy.parquet'))).toMatchObject({ rows: 5, duplicates: 5 });
  expect(manifest.kafka).toEqual([{ topic: 'orders', partition: 0, offsets: [[0, 30]], duplicates: 5 }]);
  expect(await offsetsInGold()).toEqual({ n: 30, d: 30, lo: 0, hi: 29, amount: amountOf(range(0, 30)) });

  tally.tried++;
  clock.advance(3_600_000);
  await put(name(28, 'snappy.parquet'), await parquet(28, 7)); // only 30..34 are new
  await p.run();
  expect(await offsetsInGold()).toEqual({ n: 35, d: 35, lo: 0, hi: 34, amount: amountOf(range(0, 35)) });
  tally.handled += 2;
});

it('leaves a redelivery out of one Parquet object while another holds a column named file_row_number', async () => {
  const p = usePipeline(env.store, env.scratch, new ManualClock(), settings);
  await put(name(0, 'snappy.parquet'), await parquet(0, 6)); // 0..5
  // A later object repeating offset 5, with a producer column DuckDB's row number would collide with.
  const path = join(env.scratch, 'row-number.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`COPY (SELECT range AS "offset", range * 10 AS amount, range + 100 AS file_row_number FROM range(5, 8)) TO '${path}' (FORMAT parquet, COMPRESSION snappy)`);
  c.closeSync();
  db.closeSync();
  await put(name(5, 'snappy.parquet'), await readFile(path));
  for (const from of [8, 10, 12]) await put(name(from), records(from, 2)); // enough objects for a bin
  tally.tried++;
  const { items } = await p.run();
  const manifest = (await env.store.getJson<BinManifest>('gold', (await p.compact(items[0])).manifestKey))!;
  expect(manifest.inputs.filter((i) => i.key.endsWith('.parquet')).map((i) => [i.key, i.rows, i.duplicates])).toEqual([
    [name(0, 'snappy.parquet'), 5, 1],
    [name(5, 'snappy.parquet'), 3, undefined],
  ]);
  expect(manifest.kafka).toEqual([{ topic: 'orders', partition: 0, offsets: [[0, 14]], duplicates: 1 }]);
  expect(await offsetsInGold()).toEqual({ n: 14, d: 14, lo: 0, hi: 13, amount: amountOf(range(0, 14)) });
  const keys = (await allKeys(env.s3.client, 'gold', 'orders/')).map((o) => o.key).filter((k) => k.endsWith('.parquet'));
  const [kept] = await queryParquetObjects(env.s3.client, 'gold', keys, env.scratch, 'SELECT string_agg(file_row_number::VARCHAR, \',\' ORDER BY "offset") AS v, count(file_row_number)::INT AS n FROM $OUT');
  expect(kept).toEqual({ v: '105,106,107', n: 3 });
  tally.handled++;
});

it('splits a topic-partition between bins without writing an offset twice across them', async () => {
  const p = usePipeline(env.store, env.scratch, new ManualClock(), settings);
  // Measured ratios make ~12 MB of JSON three 64 MB bins, so the run splits the topic-partition;
  // the 8 MB object is larger than a bin may be and gets one of its own.
  await env.store.putJson('gold', outputRatiosKey('orders'), { jsonl: 10 });
  await put(name(0), records(0, 1000, 1950));
  await put(name(1000), records(1000, 2000, 3900));
  // Redelivery 2000..3999 in the next bin, as Parquet: the bin before counts it from its footer.
  await put(name(2000, 'snappy.parquet'), await parquet(2000, 2000, 100));
  await put(name(4000), records(4000, 1000, 1950));
  await put(name(5000), records(5000, 500, 1950));
  tally.tried++;

  const run = await p.run();
  const specs = await Promise.all(run.items.map(async (i) => (await env.store.getJson<BinSpec>('gold', i.binKey))!.files.map((f) => f.key)));
  expect(specs).toEqual([[name(0)], [name(1000)], [name(2000, 'snappy.parquet'), name(4000), name(5000)]]);
  const manifests = await Promise.all(run.items.map(async (i) => (await env.store.getJson<BinManifest>('gold', (await p.compact(i)).manifestKey))!));
  expect(manifests.map((m) => m.kafka)).toEqual([
    [{ topic: 'orders', partition: 0, offsets: [[0, 1000]], duplicates: 0 }],
    [{ topic: 'orders', partition: 0, offsets: [[1000, 2000]], duplicates: 1000 }],
    [{ topic: 'orders', partition: 0, offsets: [[2000, 5500]], duplicates: 0 }],
  ]);
  expect(run.swap).toMatchObject({ committed: 1, kafkaGaps: [] });
  expect(await offsetsInGold()).toEqual({ n: 5500, d: 5500, lo: 0, hi: 5499, amount: amountOf(range(0, 5500)) });
  tally.handled++;
});
