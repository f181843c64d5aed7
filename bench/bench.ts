/**
 * Compaction benchmark: times each stage of one bin against its own floor measured in the same
 * run, and measures the engine's peak RSS in child processes.
 *
 *   npm run bench -- [--files 20000] [--rows-per-file 10] [--runs 3] [--concurrency 32]
 *                    [--big-mb 512] [--skip-512] [--skip-scale] [--scale-objects 50000] [--scale-bin-objects 5000]
 *
 * This file parses the flags, seeds s3rver with the throughput and flatness bins and runs the
 * sections in order (planner, scale, throughput, exact decimals, memory); each section is a file
 * of its own that says what it measures:
 *
 * Planner (bench/planner.ts; no S3): the plan step over a generated listing of 1,000,000 objects
 *   in 1,000 partitions, in a child process: seconds and peak RSS
 * Scale (bench/scale.ts): one partition of --scale-objects tiny objects, at most
 *   --scale-bin-objects per bin, through the synthesized workflow offline (bins, then the merge)
 * Throughput (bench/throughput.ts; one bin from the loopback S3 server; medians of --runs):
 *   fetch   fetchInputs                vs a bare SDK GetObject loop at the same concurrency; prints
 *           `fetch CPU per object: ours <us> us, bare SDK loop <us> us, ratio <r>` (ratio = bare / ours)
 *   engine  compactToParquet on staged vs a bare DuckDB COPY over the same objects, one local file each
 *   e2e     compactBin                 vs fetch floor + engine floor
 * Exact decimals (bench/decimals.ts; in memory, no S3): the fetch's line pass with declared-decimal
 *   quoting vs the same pass without it, over the same JSON Lines bytes
 * Memory (bench/memory.ts; peak RSS of a child process per case, bench/engine-worker.ts):
 *   a bin whose Parquet output is >= --big-mb MB (local JSON Lines chunks, no S3), with the
 *   engine timed against a bare COPY over the same chunks
 *   the same rows as N and as 4N objects (fetched from the loopback server, then compacted)
 * Shared options, log and helpers: bench/common.ts.
 *
 * The local S3 server is far slower than S3, so only the per-stage ratios say something about
 * our own cost; absolute seconds mostly measure s3rver. s3rver runs in its own process, so the
 * CPU seconds printed for this process are the client's own cost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { version as duckdbVersion } from '@duckdb/node-api';
import { S3ObjectStore } from '../lambdas/adapters/s3';
import type { BinItem, BinSpec } from '../lambdas/core/contracts';
import { DEFAULT_ENGINE_SETTINGS } from '../lambdas/core/settings';
import { planRun } from '../lambdas/use-cases/plan-run';
import { putFiles, sensorFiles, type GeneratedFile } from '../local/generate';
import { fmtInt, log, MAIN_HOUR, secs, SETTINGS, sinceStart, startClock, startS3Process, type BenchOptions, type S3Process } from './common';
import { decimals } from './decimals';
import { memory, wideSection } from './memory';
import { plannerSection } from './planner';
import { scaleSection } from './scale';
import { throughput } from './throughput';

const USAGE =
  'npm run bench -- [--files N] [--rows-per-file N] [--runs N] [--concurrency N] [--big-mb N] [--skip-512] [--only-throughput] [--only-wide] [--skip-scale] [--scale-objects N] [--scale-bin-objects N]';

function parseArgs(argv: readonly string[]): BenchOptions {
  const o = { files: 20_000, rowsPerFile: 10, runs: 3, concurrency: DEFAULT_ENGINE_SETTINGS.fetchConcurrency, bigMb: 512, skipBig: false, onlyThroughput: false, onlyWide: false, skipScale: false, scaleObjects: 50_000, scaleBinObjects: 5_000 };
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}; usage: ${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--files') o.files = int(a, argv[++i], 40);
    else if (a === '--rows-per-file') o.rowsPerFile = int(a, argv[++i], 1);
    else if (a === '--runs') o.runs = int(a, argv[++i], 1);
    else if (a === '--concurrency') o.concurrency = int(a, argv[++i], 1);
    else if (a === '--big-mb') o.bigMb = int(a, argv[++i], 1);
    else if (a === '--skip-512') o.skipBig = true;
    else if (a === '--only-throughput') o.onlyThroughput = true;
    else if (a === '--only-wide') o.onlyWide = true;
    else if (a === '--skip-scale') o.skipScale = true;
    else if (a === '--scale-objects') o.scaleObjects = int(a, argv[++i], 10);
    else if (a === '--scale-bin-objects') o.scaleBinObjects = int(a, argv[++i], 1);
    else throw new Error(`unknown argument ${a}; usage: ${USAGE}`);
  }
  return o;
}

const FLAT_N_HOUR = '2024-12-19/15';
const FLAT_4N_HOUR = '2024-12-19/16';
const partitionOf = (hour: string) => `dt=${hour.split('/')[0]}/hour=${hour.split('/')[1]}`;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  console.log('Compaction benchmark');
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 1024 ** 3).toFixed(1)} GB RAM; Node ${process.version}; DuckDB ${duckdbVersion()}`);
  console.log(`options: --files ${o.files} --rows-per-file ${o.rowsPerFile} --runs ${o.runs} --concurrency ${o.concurrency} --big-mb ${o.bigMb}${o.skipBig ? ' --skip-512' : ''}${o.skipScale ? ' --skip-scale' : ` --scale-objects ${o.scaleObjects} --scale-bin-objects ${o.scaleBinObjects}`}`);
  const busy = loadavg()[0];
  console.log(`load average at start: ${busy.toFixed(2)}${busy > 0.5 ? ' (other processes are using the CPU: seconds will be inflated; the CPU columns are less affected)' : ''}`);
  console.log();

  if (o.onlyWide) {
    await wideSection(o);
    return;
  }

  // ---- planner (no S3: a generated listing)
  if (!o.onlyThroughput) {
    const tp = performance.now();
    log('PLANNER');
    await plannerSection(o.runs, log);
    log(`planner section took ${secs(performance.now() - tp)} s`);
    console.log();
  }

  // ---- scale (its own in-process loopback server)
  log('SCALE');
  if (o.skipScale) log('skipped (--skip-scale)');
  else await scaleSection({ objects: o.scaleObjects, maxBinObjects: o.scaleBinObjects }, log);
  console.log();

  const root = await mkdtemp(join(tmpdir(), 'compactor-bench-'));
  let s3: S3Process | undefined;
  try {
    // ---- seed
    let t0 = performance.now();
    s3 = await startS3Process([SETTINGS.landingBucket, SETTINGS.goldBucket]);
    const store = new S3ObjectStore(s3.client);
    const totalRows = o.files * o.rowsPerFile;
    const flatN = Math.max(4, Math.round(o.files / 10));
    const main = sensorFiles({ prefix: SETTINGS.landingPrefix, hours: [MAIN_HOUR], filesPerHour: o.files, rowsPerFile: o.rowsPerFile, seed: 1 });
    // The same number of rows (and about the same bytes) as N and as 4N objects.
    const flatFew = sensorFiles({ prefix: SETTINGS.landingPrefix, hours: [FLAT_N_HOUR], filesPerHour: flatN, rowsPerFile: Math.round(totalRows / flatN), seed: 2 });
    const flatMany = sensorFiles({ prefix: SETTINGS.landingPrefix, hours: [FLAT_4N_HOUR], filesPerHour: 4 * flatN, rowsPerFile: Math.round(totalRows / (4 * flatN)), seed: 3 });
    const all: GeneratedFile[] = [...main, ...flatFew, ...flatMany];
    const bodies = new Map(all.map((f) => [f.key, f.body]));
    log(
      `seeding s3rver with ${fmtInt(all.length)} objects: ${fmtInt(main.length)} x ${o.rowsPerFile} rows (throughput bin), ` +
        `${fmtInt(flatFew.length)} x ${Math.round(totalRows / flatN)} and ${fmtInt(flatMany.length)} x ${Math.round(totalRows / (4 * flatN))} rows (flatness)`,
    );
    await putFiles(s3.client, SETTINGS.landingBucket, all, 32, (n) => n % 10_000 === 0 && log(`  put ${fmtInt(n)}`));
    const seedMs = performance.now() - t0;
    const plan = await planRun({ store, settings: SETTINGS, clock: { now: () => new Date() } }, { table: SETTINGS.table });
    const items = (await store.getJson<BinItem[]>(SETTINGS.goldBucket, plan.output.itemsKey))!;
    const binOf = async (hour: string) => {
      const bins = items.filter((i) => i.partition === partitionOf(hour));
      if (bins.length !== 1) throw new Error(`expected one bin for ${partitionOf(hour)}, the planner made ${bins.length}`);
      return { item: bins[0], spec: (await store.getJson<BinSpec>(SETTINGS.goldBucket, bins[0].binKey))! };
    };
    const mainBin = await binOf(MAIN_HOUR);
    const flatBins = [await binOf(FLAT_N_HOUR), await binOf(FLAT_4N_HOUR)];
    log(`seeded ${fmtInt(all.length)} objects in ${secs(seedMs)} s (${fmtInt((all.length * 1000) / seedMs)} PUT/s); listed and planned in ${secs(performance.now() - t0 - seedMs)} s`);
    console.log();

    // ---- throughput
    t0 = performance.now();
    log('THROUGHPUT');
    await throughput(o, s3, store, root, mainBin.item, mainBin.spec, bodies);
    console.log();
    log(`throughput section took ${secs(performance.now() - t0)} s`);
    console.log();

    if (o.onlyThroughput) return;

    // ---- exact decimals
    t0 = performance.now();
    log('EXACT DECIMALS');
    await decimals(o);
    log(`exact decimals section took ${secs(performance.now() - t0)} s`);
    console.log();

    // ---- memory
    t0 = performance.now();
    log('MEMORY');
    await memory(o, s3, root, flatBins.map((b) => b.spec));
    console.log();
    log(`memory section took ${secs(performance.now() - t0)} s`);
    log(`total ${secs(sinceStart())} s (load average now ${loadavg().map((x) => x.toFixed(2)).join(' / ')})`);
  } finally {
    await s3?.close();
    await rm(root, { recursive: true, force: true });
  }
}

startClock();
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
