/**
 * npm start: the embedded default. A seeded landing zone of small sensor files on a loopback S3
 * server, compacted by the state machine that `cdk deploy` would deploy (executed offline), then
 * a console rerun, late data with a few bad records among it, and the lifecycle after the grace
 * period.
 *   npm start -- --files 2000     (a smaller landing zone)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { logger } from '../lambdas/adapters/logger';
import type { BinManifest, CompactOutput, PlanOutput, ReportOutput, SwapOutput } from '../lambdas/core/contracts';
import { SYSTEM_PREFIX, stateKey } from '../lambdas/core/keys';
import type { PartitionState } from '../lambdas/core/state';
import { putFiles, sensorFiles } from '../local/generate';
import { LOCAL_BUCKETS, localPipeline } from '../local/pipeline';
import { humanBytes, printRunReport, table, timeQuery, zoneStats } from '../local/report';
import { startLocalS3 } from '../local/s3-server';
import { DAY_MS } from '../lambdas/core/units';

const DAY = DAY_MS;
const HOURS = ['2024-12-19/12', '2024-12-19/13', '2024-12-19/14', '2024-12-19/15'];
// Exact decimal sums: a DOUBLE average depends on summation order, so landing and gold could differ in a last digit.
const AGGREGATE = (src: string) =>
  `SELECT count(*) AS readings, count(DISTINCT device_id) AS devices, round(avg(temperature::DECIMAL(18, 2)), 4)::DOUBLE AS avg_temperature, ` +
  `max(ts)::TIMESTAMPTZ::VARCHAR AS latest FROM ${src}`;

async function main() {
  const { values } = parseArgs({ options: { files: { type: 'string', default: '20000' }, seed: { type: 'string', default: '42' } } });
  const totalFiles = Number(values.files);
  if (!Number.isInteger(totalFiles) || totalFiles < 20) throw new Error(`--files must be an integer >= 20, got ${values.files}`);
  logger.setLogLevel('WARN');
  const started = Date.now();
  const say = (msg: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);

  const s3 = await startLocalS3([LOCAL_BUCKETS.landing, LOCAL_BUCKETS.gold]);
  const scratch = await mkdtemp(join(tmpdir(), 'compactor-demo-'));
  let offset = 0;
  const clock = { now: () => new Date(Date.now() + offset) };
  try {
    say(`S3-compatible server (s3rver) on ${s3.endpoint}; Glue stand-in: local catalog`);
    let binsDone = 0;
    let binsTotal = 0;
    const compacted: CompactOutput[] = [];
    const pipeline = localPipeline({
      s3,
      scratchDir: scratch,
      clock,
      onEvent: (step, out) => {
        if (step === 'plan') {
          const p = out as PlanOutput;
          binsTotal = p.bins;
          binsDone = 0;
          say(`plan: ${p.inputFiles} files (${humanBytes(p.inputBytes)}) in ${p.partitions} partition(s) -> ${p.bins} bin(s)`);
        } else if (step === 'compact') {
          const c = out as CompactOutput;
          compacted.push(c);
          const set = c.rejectedRecords ? `; ${c.rejectedRecords} bad record(s) to quarantine` : '';
          say(`compact: bin ${++binsDone}/${binsTotal} ${c.partition}: ${c.inputFiles} files, ${c.outputRows} rows -> ${humanBytes(c.outputBytes)} Parquet, rows verified${set}`);
        } else if (step === 'swap') {
          const w = out as SwapOutput;
          say(`swap: ${w.committed} partition(s) committed, ${w.unchanged} unchanged, ${w.incomplete} incomplete`);
        } else if (step === 'lifecycle') {
          const { retired, waiting } = out as { retired: number; waiting: number };
          say(`lifecycle: ${retired} retired, ${waiting} waiting for their grace period`);
        } else {
          const r = out as ReportOutput;
          say(`report: ${r.outcome}; s3://${r.reportBucket}/${r.textKey}`);
        }
      },
    });
    const { settings, store } = pipeline;

    const files = sensorFiles({ prefix: settings.landingPrefix, hours: HOURS, filesPerHour: Math.floor(totalFiles / HOURS.length), rowsPerFile: 2, seed: Number(values.seed) });
    say(`generating a landing zone: ${files.length} small JSON files in ${HOURS.length} partitions ...`);
    await putFiles(s3.client, 'landing', files, 32, (n) => n % 5000 === 0 && say(`  uploaded ${n}/${files.length}`));
    const before = await zoneStats(store, 'landing', settings.landingPrefix);

    say('run 1: the scheduled execution (input from the EventBridge rule) ...');
    const run1 = await pipeline.execute(pipeline.scheduledInput, 'scheduled-1');
    if (run1.status !== 'SUCCEEDED') throw new Error(`run 1 failed: ${run1.error}: ${run1.cause}`);

    const states = new Map<string, PartitionState>();
    for (const path of before.partitions.keys()) {
      const st = await store.getJson<PartitionState>('gold', stateKey(settings.table, path));
      if (st) states.set(path, st);
    }
    // Rows per partition counted from the generated files: the report's figures must agree.
    const rowsBefore = (path: string) => files.filter((f) => f.key.includes(`/${path}/`)).reduce((n, f) => n + f.body.split('\n').filter(Boolean).length, 0);
    for (const [path, st] of states) if (st.rows !== rowsBefore(path)) throw new Error(`${path}: ${st.rows} rows committed, ${rowsBefore(path)} landed`);
    // The run report as the report step wrote it to S3: partitions before and after, file sizes, cost.
    await printRunReport(store, (run1.output as { report?: ReportOutput } | undefined)?.report);
    console.log('\nCatalog:');
    for (const c of await pipeline.catalog.all()) console.log(`  ${settings.partitionKeys.map((k, i) => `${k}=${c.values[i]}`).join('/')} -> ${c.location}`);

    say('the same aggregate over landing and over gold (each side: fetch its objects from S3, then one DuckDB query) ...');
    const landingKeys: string[] = [];
    for await (const o of store.list('landing', settings.landingPrefix)) landingKeys.push(o.key);
    const goldKeys = [...states.values()].flatMap((st) => st.files.map((f) => f.key));
    const json = (glob: string) => `read_json('${glob}', format='newline_delimited', union_by_name=true, hive_partitioning=false)`;
    const parquet = (glob: string) => `read_parquet('${glob}')`;
    const q1 = await timeQuery(store, 'landing', landingKeys, join(scratch, 'q-landing'), json, AGGREGATE);
    const q2 = await timeQuery(store, 'gold', goldKeys, join(scratch, 'q-gold'), parquet, AGGREGATE);
    console.log(
      table(
        ['source', 'objects', 'fetch s', 'query s', 'total s', 'result'],
        [
          ['landing', q1.objects, (q1.fetchMs / 1000).toFixed(2), (q1.queryMs / 1000).toFixed(2), ((q1.fetchMs + q1.queryMs) / 1000).toFixed(2), JSON.stringify(q1.result[0])],
          ['gold', q2.objects, (q2.fetchMs / 1000).toFixed(2), (q2.queryMs / 1000).toFixed(2), ((q2.fetchMs + q2.queryMs) / 1000).toFixed(2), JSON.stringify(q2.result[0])],
        ],
      ),
    );
    const same = JSON.stringify(q1.result) === JSON.stringify(q2.result);
    console.log(`same answer: ${same ? 'yes' : 'NO'}; gold is ${((q1.fetchMs + q1.queryMs) / Math.max(1, q2.fetchMs + q2.queryMs)).toFixed(0)}x faster end to end`);
    if (!same) throw new Error('landing and gold disagree');

    say('run 2: a console rerun with the same input ...');
    const goldFiles = async () => (await zoneStats(store, 'gold', settings.goldPrefix)).sizes.length;
    const goldBefore = await goldFiles();
    const run2 = await pipeline.execute({ table: settings.table }, 'console-rerun');
    say(`run 2: ${run2.status}, ${(run2.output as { plan?: { bins?: number } } | undefined)?.plan?.bins ?? '?'} bin(s); gold data files ${goldBefore} -> ${await goldFiles()}`);

    const late = sensorFiles({ prefix: settings.landingPrefix, hours: [HOURS[3]], filesPerHour: 100, rowsPerFile: 2, seed: 7 }).map((f) => ({ ...f, key: f.key.replace('reading-', 'late-') }));
    // A producer hiccup among the late files: a truncated line, and a value the table's bigint cannot hold.
    const [good1, good2] = late[0].body.split('\n').filter(Boolean);
    const bad = [
      { key: late[0].key.replace('late-', 'truncated-'), body: `${good1}\n${good2.slice(0, 40)}\n` },
      { key: late[0].key.replace('late-', 'misfit-'), body: `${JSON.stringify({ ...JSON.parse(good2), battery: 'full' })}\n${good2}\n` },
    ];
    await putFiles(s3.client, 'landing', [...late, ...bad]);
    const latePath = `dt=${HOURS[3].replace('/', '/hour=')}`;
    say(`late data: ${late.length} files land in ${latePath} after its compaction, and 2 more holding one bad record each; run 3 ...`);
    offset += 3_600_000;
    compacted.length = 0;
    await pipeline.execute(pipeline.scheduledInput, 'scheduled-2');
    const st3 = (await store.getJson<PartitionState>('gold', stateKey(settings.table, latePath)))!;
    const lateRows = late.length * 2 + 2;
    say(`run 3: ${latePath} now at version ${st3.version}: ${st3.rows} rows = ${rowsBefore(latePath)} earlier + ${lateRows} late, each once`);
    if (st3.rows !== rowsBefore(latePath) + lateRows) throw new Error('late data rows do not add up');
    for (const c of compacted.filter((x) => x.rejectedRecords)) {
      const m = await store.getJson<BinManifest>('gold', c.manifestKey);
      const report = await store.getJson<{ rejected: Array<{ file: string; line?: number; reason: string }> }>('gold', m!.quarantine!.reportKey);
      console.log(`\nQuarantine (s3://gold/${m!.quarantine!.reportKey}):`);
      console.log(table(['file', 'line', 'reason'], report!.rejected.map((r) => [r.file, r.line ?? '', r.reason])));
    }

    offset += 4 * DAY;
    say(`4 days later (grace ${settings.graceDays} days): run 4 retires compacted sources and superseded versions ...`);
    await pipeline.execute(pipeline.scheduledInput, 'scheduled-3');
    const landingLeft = (await zoneStats(store, 'landing', settings.landingPrefix)).sizes.length;
    const goldData = (await zoneStats(store, 'gold', settings.goldPrefix, (k) => k.startsWith(SYSTEM_PREFIX))).sizes.length;
    say(`landing objects left: ${landingLeft}; gold data files: ${goldData} (one per partition)`);
    say('done');
  } finally {
    await s3.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
