/**
 * Compaction benchmark: times each stage of one bin against its own floor measured in the same
 * run, and measures the engine's peak RSS in child processes.
 *
 *   npm run bench -- [--files 20000] [--rows-per-file 10] [--runs 3] [--concurrency 32]
 *                    [--big-mb 512] [--skip-512] [--skip-scale] [--scale-objects 50000] [--scale-bin-objects 5000]
 *
 * Scale (bench/scale.ts): one partition of --scale-objects tiny objects, at most
 * --scale-bin-objects per bin, through the synthesized workflow offline (bins, then the merge).
 *
 * Throughput (one bin from the loopback S3 server; medians of --runs):
 *   fetch   fetchInputs                vs a bare SDK GetObject loop at the same concurrency; prints
 *           `fetch CPU per object: ours <us> us, bare SDK loop <us> us, ratio <r>` (ratio = bare / ours)
 *   engine  compactToParquet on staged vs a bare DuckDB COPY over the same objects, one local file each
 *   e2e     compactBin                 vs fetch floor + engine floor
 * Planner (no S3): the plan step over a generated listing of 1,000,000 objects in 1,000
 *   partitions, in a child process: seconds and peak RSS
 * Exact decimals (in memory, no S3): the fetch's line pass with declared-decimal quoting vs the
 *   same pass without it, over the same JSON Lines bytes
 * Memory (peak RSS of a child process per case):
 *   a bin whose Parquet output is >= --big-mb MB (local JSON Lines chunks, no S3), with the
 *   engine timed against a bare COPY over the same chunks
 *   the same rows as N and as 4N objects (fetched from the loopback server, then compacted)
 *
 * The local S3 server is far slower than S3, so only the per-stage ratios say something about
 * our own cost; absolute seconds mostly measure s3rver. s3rver runs in its own process, so the
 * CPU seconds printed for this process are the client's own cost.
 */
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance, version as duckdbVersion } from '@duckdb/node-api';
import { compactToParquet, sqlString, type EngineOptions } from '../lambdas/adapters/duckdb-engine';
import { fetchInputs, JsonLinesCounter, NumberQuoter, type StagedInputs } from '../lambdas/adapters/fetch-inputs';
import { numberFields } from '../lambdas/core/json-numbers';
import { makeS3Client, S3ObjectStore } from '../lambdas/adapters/s3';
import type { BinItem, BinManifest, BinSpec } from '../lambdas/core/contracts';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from '../lambdas/core/settings';
import { compactBin } from '../lambdas/use-cases/compact-bin';
import { mapLimit } from '../lambdas/core/concurrency';
import { planRun } from '../lambdas/use-cases/plan-run';
import { putFiles, sensorFiles, SENSORS_SETTINGS, type GeneratedFile } from '../local/generate';
import { table } from '../local/report';
import { LOCAL_CREDENTIALS } from '../local/s3-server';
import type { WorkerJob, WorkerResult } from './engine-worker';
import { plannerSection } from './planner';
import { scaleSection } from './scale';

// ---------------------------------------------------------------- options

interface BenchOptions {
  readonly files: number;
  readonly rowsPerFile: number;
  readonly runs: number;
  readonly concurrency: number;
  readonly bigMb: number;
  readonly skipBig: boolean;
  /** Only the throughput section (fetch, engine, end to end): no planner, decimals or memory. */
  readonly onlyThroughput: boolean;
  /** Only the wide-row engine case (no S3, no other section). */
  readonly onlyWide: boolean;
  readonly skipScale: boolean;
  readonly scaleObjects: number;
  readonly scaleBinObjects: number;
}

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

// ---------------------------------------------------------------- small helpers

const MB = 1024 * 1024;
const TARGET_RATIO = 0.6;
const RSS_LIMIT_MB = 1536;
/** Peak RSS with 4x the objects may grow by at most this factor to count as flat. */
const FLAT_LIMIT = 1.1;
/** Parquet bytes per generated big-case row (300-char payload on average, plain-encoded, plus numbers); measured. */
const BIG_PARQUET_BYTES_PER_ROW = 325;

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const log = (msg: string) => console.log(`[${elapsed()}] ${msg}`);
const secs = (ms: number) => (ms / 1000).toFixed(2);
const load = () => loadavg()[0].toFixed(1);
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const passFail = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

interface Timed<T> {
  readonly ms: number;
  /** CPU time of this process (all threads, DuckDB's included), user + system. */
  readonly cpuMs: number;
  readonly value: T;
}

async function timed<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const ms = performance.now() - t;
  const u = process.cpuUsage(cpu);
  return { ms, cpuMs: (u.user + u.system) / 1000, value };
}

const engineOptions = (e: EngineSettings): EngineOptions => ({
  compression: e.compression,
  sortBy: e.sortBy,
  memoryLimitMb: e.memoryLimitMb,
  threads: e.threads,
  rowGroupBytes: e.rowGroupBytes,
});

/** The engine floor: a bare COPY, the fastest correct way DuckDB turns these files into Parquet. */
async function duckdbCopyFloor(glob: string, out: string, e: EngineSettings, unionByName: boolean): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(e.threads),
    memory_limit: `${e.memoryLimitMb}MB`,
    preserve_insertion_order: 'false',
  });
  const c = await instance.connect();
  try {
    const r = await c.runAndReadAll(
      `COPY (SELECT * FROM read_json(${sqlString(glob)}, format='newline_delimited', hive_partitioning=false` +
        `${unionByName ? ', union_by_name=true' : ''})) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION ${e.compression})`,
    );
    return Number(r.getRows()[0][0]);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

const tsxArgs = (script: string, ...args: string[]) => ['--import', 'tsx', join(__dirname, script), ...args];

/** Runs one memory case in a child process; prints the child's RSS every 15 s as progress. */
async function inChild(label: string, job: WorkerJob, jobDir: string): Promise<WorkerResult> {
  const jobPath = join(jobDir, `${label}.json`);
  await writeFile(jobPath, JSON.stringify(job));
  const child = spawn(process.execPath, tsxArgs('engine-worker.ts', jobPath), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const t0 = performance.now();
  const ticker = setInterval(() => {
    void readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '').then((status) => {
      const rss = /VmRSS:\s+(\d+)/.exec(status)?.[1];
      log(`  ${label}: running ${((performance.now() - t0) / 1000).toFixed(0)} s${rss ? `, RSS now ${fmtInt(Number(rss) / 1024)} MB` : ''}`);
    });
  }, 15_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(ticker);
  if (code !== 0) throw new Error(`${label}: worker exited with ${code}\n${err}`);
  return JSON.parse(out.trim().split('\n').pop()!) as WorkerResult;
}

interface S3Process {
  readonly endpoint: string;
  readonly client: S3Client;
  close(): Promise<void>;
}

/**
 * s3rver (local/s3-server.ts) in a child process: in-process it would share one JavaScript
 * thread with the code under test, so its cost and ours would be counted together.
 */
async function startS3Process(buckets: readonly string[]): Promise<S3Process> {
  const child = spawn(process.execPath, tsxArgs('s3-server-process.ts', ...buckets), { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]) as { endpoint: string }).endpoint);
    });
    void closed.then((code) => reject(new Error(`s3rver process exited with ${code} before listening\n${err}`)));
  });
  const client = makeS3Client({ endpoint, credentials: LOCAL_CREDENTIALS });
  return {
    endpoint,
    client,
    async close() {
      client.destroy();
      child.stdin.end();
      const code = await closed;
      if (code !== 0) console.error(`s3rver process exited with ${code}\n${err}`);
    },
  };
}

// ---------------------------------------------------------------- data

const SETTINGS = SENSORS_SETTINGS;
const MAIN_HOUR = '2024-12-19/14';
const FLAT_N_HOUR = '2024-12-19/15';
const FLAT_4N_HOUR = '2024-12-19/16';
const partitionOf = (hour: string) => `dt=${hour.split('/')[0]}/hour=${hour.split('/')[1]}`;

const rowsIn = (body: string) => body.split('\n').filter((l) => l.trim() !== '').length;

/**
 * Poorly compressible rows (a random 200-400 char base64 payload and a few numeric fields) in
 * ~64 MB JSON Lines chunks, exactly what fetchInputs leaves for the engine, until `rows` rows.
 */
async function writeBigChunks(dir: string, rows: number, onProgress: (rows: number, bytes: number) => void): Promise<StagedInputs> {
  await mkdir(dir, { recursive: true });
  const jsonChunks: string[] = [];
  const jsonRows = new Map<string, number>();
  const chunkLimit = 64 * MB;
  const block = 2000;
  const base = Date.parse('2024-12-19T14:00:00Z');
  let bytes = 0;
  let out: WriteStream | undefined;
  let inChunk = 0;
  let chunkBytes = chunkLimit;
  const closeChunk = async () => {
    if (!out) return;
    const s = out;
    await new Promise<void>((resolve, reject) => s.end((e?: Error | null) => (e ? reject(e) : resolve())));
    jsonRows.set(jsonChunks[jsonChunks.length - 1], inChunk);
  };
  for (let written = 0; written < rows; ) {
    if (chunkBytes >= chunkLimit) {
      await closeChunk();
      const path = join(dir, `chunk-${String(jsonChunks.length).padStart(3, '0')}.jsonl`);
      jsonChunks.push(path);
      out = createWriteStream(path);
      inChunk = 0;
      chunkBytes = 0;
    }
    const random = randomBytes(block * 300);
    const lines: string[] = [];
    for (let i = 0; i < block && written < rows; i++, written++) {
      const payload = random.toString('base64url', i * 300, i * 300 + 150 + Math.floor(Math.random() * 151)); // 200-400 chars
      const ts = new Date(base + Math.floor(Math.random() * 3_600_000)).toISOString();
      lines.push(
        `{"id":${written},"device_id":"sensor-${String(written % 500).padStart(4, '0')}","ts":"${ts}",` +
          `"value":${Math.round(Math.random() * 1e6) / 100},"count":${Math.floor(Math.random() * 1e6)},"payload":"${payload}"}`,
      );
    }
    const text = `${lines.join('\n')}\n`;
    const n = Buffer.byteLength(text);
    inChunk += lines.length;
    chunkBytes += n;
    bytes += n;
    if (!out!.write(text)) await new Promise<void>((r) => out!.once('drain', () => r()));
    if (written % 250_000 < block) onProgress(written, bytes);
  }
  await closeChunk();
  // Each chunk stands for one object of its own (the engine places records by segment).
  const jsonSegments = jsonChunks.map((chunk) => ({ chunk, key: chunk, firstLine: 0, lines: jsonRows.get(chunk) ?? 0 }));
  return { jsonChunks, files: [], jsonRows, jsonSegments, blanked: new Map(), rewritten: new Set(), setAside: [], bytes };
}

// ---------------------------------------------------------------- throughput

interface Samples {
  ms: number[];
  cpuMs: number[];
}
const samples = (): Samples => ({ ms: [], cpuMs: [] });
const add = (s: Samples, t: Timed<unknown>) => {
  s.ms.push(t.ms);
  s.cpuMs.push(t.cpuMs);
};

async function throughput(o: BenchOptions, s3: S3Process, store: S3ObjectStore, root: string, item: BinItem, spec: BinSpec, bodies: Map<string, string>) {
  const engine: EngineSettings = { ...DEFAULT_ENGINE_SETTINGS, fetchConcurrency: o.concurrency, scratchDir: join(root, 'work') };
  const rows = sum(spec.files.map((f) => rowsIn(bodies.get(f.key)!)));
  const bytes = sum(spec.files.map((f) => f.size));

  // The same objects on local disk, one file per object, for the engine floor.
  const localDir = join(root, 'local-objects');
  await mkdir(localDir, { recursive: true });
  await mapLimit(spec.files, 64, (f, i) => writeFile(join(localDir, `obj-${String(i).padStart(6, '0')}.json`), bodies.get(f.key)!));
  const glob = join(localDir, '*.json');
  log(`bin ${item.binId} (${item.partition}): ${fmtInt(spec.files.length)} objects, ${fmtInt(rows)} rows, ${(bytes / MB).toFixed(1)} MB; the same objects written to local disk for the engine floor`);

  const fetchFloor = samples();
  const fetchOurs = samples();
  const engineFloor = samples();
  const engineUnion = samples();
  const engineOurs = samples();
  const e2e = samples();
  const breakdown: BinManifest['timings'][] = [];
  let staged: StagedInputs | undefined;

  const bareGets = (files: BinSpec['files']) =>
    mapLimit(files, o.concurrency, async (f) => {
      const r = await s3.client.send(new GetObjectCommand({ Bucket: SETTINGS.landingBucket, Key: f.key }));
      return (await r.Body!.transformToByteArray()).length;
    });
  // The server's GET path is cold after seeding (its first GETs are measurably slower).
  const warm = await timed(() => bareGets(spec.files.slice(0, 1000)));
  log(`warm-up: ${fmtInt(Math.min(1000, spec.files.length))} GETs in ${secs(warm.ms)} s`);

  for (let run = 1; run <= o.runs; run++) {
    const runFloor = async () => {
      const ff = await timed(() => bareGets(spec.files));
      if (sum(ff.value) !== bytes) throw new Error(`fetch floor read ${sum(ff.value)} bytes, expected ${bytes}`);
      return ff;
    };
    const runOurs = async () => {
      const stageDir = join(root, `staged-${run}`);
      const fo = await timed(() => fetchInputs(store, { landing: SETTINGS.landingBucket, gold: SETTINGS.goldBucket }, spec.files, stageDir, { concurrency: o.concurrency }));
      const counted = sum([...fo.value.jsonRows.values()]);
      if (counted !== rows) throw new Error(`fetchInputs counted ${counted} rows, expected ${rows}`);
      if (staged) await rm(stageDir, { recursive: true, force: true });
      else staged = fo.value;
      return fo;
    };
    // Alternating order, so neither side always meets a colder server.
    const floorFirst = run % 2 === 1;
    const first = floorFirst ? await runFloor() : await runOurs();
    const second = floorFirst ? await runOurs() : await runFloor();
    const ff = floorFirst ? first : second;
    const fo = floorFirst ? second : first;
    add(fetchFloor, ff);
    add(fetchOurs, fo);

    // Engine floor over the local files (and the union_by_name reference), then ours on the staged inputs.
    const ef = await timed(() => duckdbCopyFloor(glob, join(root, 'floor.parquet'), engine, false));
    if (ef.value !== rows) throw new Error(`bare COPY wrote ${ef.value} rows, expected ${rows}`);
    add(engineFloor, ef);
    const eu = await timed(() => duckdbCopyFloor(glob, join(root, 'floor-union.parquet'), engine, true));
    if (eu.value !== rows) throw new Error(`bare COPY (union_by_name) wrote ${eu.value} rows, expected ${rows}`);
    add(engineUnion, eu);
    const workDir = join(root, `engine-${run}`);
    const eo = await timed(() => compactToParquet(staged!, workDir, join(workDir, 'out.parquet'), engineOptions(engine)));
    if (eo.value.outputRows !== rows || eo.value.inputChecksum !== eo.value.outputChecksum) throw new Error('engine output does not verify');
    add(engineOurs, eo);
    await rm(workDir, { recursive: true, force: true });

    // End to end: a verified manifest would be reused, so drop the previous run's output first.
    await s3.client.send(new DeleteObjectCommand({ Bucket: SETTINGS.goldBucket, Key: spec.manifestKey }));
    await s3.client.send(new DeleteObjectCommand({ Bucket: SETTINGS.goldBucket, Key: spec.outputKey }));
    const ee = await timed(() => compactBin({ store, settings: SETTINGS, engine }, item));
    if (ee.value.outputRows !== rows) throw new Error(`compactBin wrote ${ee.value.outputRows} rows, expected ${rows}`);
    add(e2e, ee);
    breakdown.push((await store.getJson<BinManifest>(SETTINGS.goldBucket, spec.manifestKey))!.timings);

    log(
      `run ${run}/${o.runs} (load ${load()}): fetch floor ${secs(ff.ms)} s, ours ${secs(fo.ms)} s; engine floor ${secs(ef.ms)} s ` +
        `(union_by_name ${secs(eu.ms)} s), ours ${secs(eo.ms)} s; end to end ${secs(ee.ms)} s`,
    );
  }

  const row = (stage: string, ours: Samples, floorMs: number, floorCpuMs: number) => {
    const oursMs = median(ours.ms);
    const ratio = floorMs / oursMs;
    return [
      stage, secs(oursMs), secs(floorMs), ratio.toFixed(2), fmtInt((rows * 1000) / oursMs), fmtInt((rows * 1000) / floorMs),
      passFail(ratio >= TARGET_RATIO), secs(median(ours.cpuMs)), secs(floorCpuMs),
    ];
  };
  const ffMs = median(fetchFloor.ms);
  const efMs = median(engineFloor.ms);
  console.log();
  console.log(
    `Throughput: one bin of ${fmtInt(spec.files.length)} objects / ${fmtInt(rows)} rows / ${(bytes / MB).toFixed(1)} MB, median of ${o.runs} run(s); ` +
      `fetch concurrency ${o.concurrency}, DuckDB threads ${engine.threads}, memory_limit ${engine.memoryLimitMb} MB`,
  );
  console.log(
    table(
      ['stage', 'ours (s)', 'floor (s)', 'ratio', 'ours rows/s', 'floor rows/s', `>= ${TARGET_RATIO}`, 'ours CPU (s)', 'floor CPU (s)'],
      [
        row('fetch: fetchInputs vs bare GET loop', fetchOurs, ffMs, median(fetchFloor.cpuMs)),
        row('engine: compactToParquet vs bare COPY', engineOurs, efMs, median(engineFloor.cpuMs)),
        row('end to end: compactBin vs fetch + engine floors', e2e, ffMs + efMs, median(fetchFloor.cpuMs) + median(engineFloor.cpuMs)),
      ],
    ),
  );
  console.log('ratio = floor time / our time (1.0 = as fast as the floor). CPU = this process only (s3rver runs in its own process).');
  // Both sides in the same runs, on the same objects; CPU of this process, all threads (s3rver runs in its own).
  const oursUs = (median(fetchOurs.cpuMs) * 1000) / spec.files.length;
  const bareUs = (median(fetchFloor.cpuMs) * 1000) / spec.files.length;
  console.log(`fetch CPU per object: ours ${oursUs.toFixed(0)} us, bare SDK loop ${bareUs.toFixed(0)} us, ratio ${(bareUs / oursUs).toFixed(2)}`);
  const union = median(engineUnion.ms);
  console.log(
    `reference: bare COPY with union_by_name=true (what a bare COPY needs when objects may differ in columns): ` +
      `${secs(union)} s, ${fmtInt((rows * 1000) / union)} rows/s; floor/ours = ${(union / median(engineOurs.ms)).toFixed(2)}`,
  );
  const b = { fetch: median(breakdown.map((x) => x.fetchMs)), engine: median(breakdown.map((x) => x.engineMs)), upload: median(breakdown.map((x) => x.uploadMs)) };
  console.log(
    `end to end, from the manifests (medians): fetch ${secs(b.fetch)} s + engine ${secs(b.engine)} s + verify/upload ${secs(b.upload)} s ` +
      `+ spec/manifest I/O ${secs(median(e2e.ms) - b.fetch - b.engine - b.upload)} s (the floors have no upload)`,
  );
}

// ---------------------------------------------------------------- memory

/** The bin of poorly compressible wide rows (>= --big-mb MB of Parquet): ours and a bare COPY, each in a child. */
async function wideCase(o: BenchOptions, root: string, jobs: string, engine: EngineSettings): Promise<{ rssRows: string[][]; summary: string[] }> {
  const rssRows: string[][] = [];
  const t0 = performance.now();
  const wanted = Math.ceil((o.bigMb * MB * 1.03) / BIG_PARQUET_BYTES_PER_ROW);
  log(`${o.bigMb} MB case: writing ${fmtInt(wanted)} poorly compressible rows as local JSON Lines chunks`);
  const staged = await writeBigChunks(join(root, 'big-in'), wanted, (n, b) => log(`  generated ${fmtInt(n)} rows, ${fmtInt(b / MB)} MB`));
  log(`  ${staged.jsonChunks.length} chunks, ${fmtInt(staged.bytes / MB)} MB of JSON Lines in ${secs(performance.now() - t0)} s; compactToParquet and a bare COPY, each in a child process`);
  // --runs times each, alternating; time as the median, peak RSS as the worst run (a Lambda
  // is killed by its worst run), both shown.
  const ours: WorkerResult[] = [];
  const floors: WorkerResult[] = [];
  for (let run = 1; run <= o.runs; run++) {
    const workDir = join(root, `big-work-${run}`);
    const r = await inChild(`big-ours-${run}`, {
      mode: 'staged',
      jsonChunks: staged.jsonChunks,
      jsonRows: [...staged.jsonRows],
      bytes: staged.bytes,
      workDir,
      outPath: join(workDir, 'out.parquet'),
      engine: engineOptions(engine),
    }, jobs);
    await rm(workDir, { recursive: true, force: true });
    ours.push(r);
    const floorOut = join(root, 'big-floor.parquet');
    const fl = await inChild(`big-floor-${run}`, { mode: 'floor', paths: staged.jsonChunks, outPath: floorOut, memoryLimitMb: engine.memoryLimitMb, threads: engine.threads }, jobs);
    await rm(floorOut, { force: true });
    floors.push(fl);
    if (fl.rows !== r.rows) throw new Error(`bare COPY wrote ${fl.rows} rows, compactToParquet ${r.rows}`);
    log(
      `  run ${run}/${o.runs} (load ${load()}): compactToParquet ${secs(r.engineMs)} s (CPU ${secs(r.engineCpuMs)} s), output ${fmtInt(r.outputBytes / MB)} MB, ` +
        `peak RSS ${fmtInt(r.peakRssMb)} MB; bare COPY ${secs(fl.engineMs)} s (CPU ${secs(fl.engineCpuMs)} s), peak RSS ${fmtInt(fl.peakRssMb)} MB`,
    );
  }
  await rm(join(root, 'big-in'), { recursive: true, force: true });

  const rows = ours[0].rows;
  const outputBytes = ours[0].outputBytes;
  const verified = ours.every((r) => r.verified);
  const rssOf = (rs: WorkerResult[]) => {
    const peaks = rs.map((r) => r.peakRssMb);
    return { max: Math.max(...peaks), text: `${fmtInt(Math.max(...peaks))} (runs: ${peaks.map(fmtInt).join(', ')})` };
  };
  const oursRss = rssOf(ours);
  const bigEnough = outputBytes >= o.bigMb * MB;
  const input = `${fmtInt(staged.bytes / MB)} MB JSON, ${staged.jsonChunks.length} chunks`;
  rssRows.push([
    `${o.bigMb} MB bin: compactToParquet (${input})`, fmtInt(rows), `${fmtInt(outputBytes / MB)}${bigEnough ? '' : ' (< target!)'}`,
    oursRss.text, `${passFail(oursRss.max <= RSS_LIMIT_MB && verified)}${verified ? '' : ' (not verified)'}`,
  ]);
  rssRows.push([`${o.bigMb} MB bin: bare COPY reference (same chunks)`, fmtInt(floors[0].rows), fmtInt(floors[0].outputBytes / MB), rssOf(floors).text, '']);
  const oursMs = median(ours.map((r) => r.engineMs));
  const floorMs = median(floors.map((r) => r.engineMs));
  const oursCpu = median(ours.map((r) => r.engineCpuMs));
  const floorCpu = median(floors.map((r) => r.engineCpuMs));
  const bigSummary = [
    `Engine on the ${o.bigMb} MB bin (${fmtInt(rows)} rows, ${input}), each run in its own process, median of ${o.runs}:`,
    table(
      ['stage', 'ours (s)', 'floor (s)', 'ratio', 'ours rows/s', 'floor rows/s', `>= ${TARGET_RATIO}`, 'ours CPU (s)', 'floor CPU (s)', 'CPU ratio'],
      [[
        'engine: compactToParquet vs bare COPY', secs(oursMs), secs(floorMs), (floorMs / oursMs).toFixed(2), fmtInt((rows * 1000) / oursMs),
        fmtInt((rows * 1000) / floorMs), passFail(floorMs / oursMs >= TARGET_RATIO), secs(oursCpu), secs(floorCpu), (floorCpu / oursCpu).toFixed(2),
      ]],
    ),
    `engine wide ${o.bigMb} MB: ratio ${(floorMs / oursMs).toFixed(2)}, peak RSS ${fmtInt(oursRss.max).replace(/,/g, '')} MB`,
  ];
  log(`${o.bigMb} MB case took ${secs(performance.now() - t0)} s`);
  return { rssRows, summary: bigSummary };
}

async function memory(o: BenchOptions, s3: S3Process, root: string, flatSpecs: readonly BinSpec[]) {
  const engine = { ...DEFAULT_ENGINE_SETTINGS, fetchConcurrency: o.concurrency };
  const jobs = join(root, 'jobs');
  await mkdir(jobs, { recursive: true });
  const rssRows: string[][] = [];
  let bigSummary: string[] = [];

  if (!o.skipBig) {
    const big = await wideCase(o, root, jobs, engine);
    rssRows.push(...big.rssRows);
    bigSummary = big.summary;
  } else {
    log(`${o.bigMb} MB case skipped (--skip-512)`);
  }

  // Flatness: the same rows as N objects and as 4N objects, fetched and compacted in a child.
  const t1 = performance.now();
  const flat: WorkerResult[] = [];
  for (const spec of flatSpecs) {
    const label = `flat-${spec.files.length}`;
    const workDir = join(root, `${label}-work`);
    const inBytes = sum(spec.files.map((f) => f.size));
    log(`flatness: fetchInputs + compactToParquet of ${fmtInt(spec.files.length)} objects (${(inBytes / MB).toFixed(1)} MB) in a child process`);
    const r = await inChild(label, {
      mode: 'fetch',
      endpoint: s3.endpoint,
      credentials: LOCAL_CREDENTIALS,
      buckets: { landing: SETTINGS.landingBucket, gold: SETTINGS.goldBucket },
      sources: spec.files,
      concurrency: o.concurrency,
      workDir,
      outPath: join(workDir, 'out.parquet'),
      engine: engineOptions(engine),
    }, jobs);
    await rm(workDir, { recursive: true, force: true });
    flat.push(r);
    log(`  fetch ${secs(r.fetchMs!)} s (peak RSS so far ${fmtInt(r.afterFetchRssMb!)} MB), engine ${secs(r.engineMs)} s, peak RSS ${fmtInt(r.peakRssMb)} MB`);
    rssRows.push([
      `${fmtInt(spec.files.length)} objects (${(inBytes / MB).toFixed(1)} MB): fetchInputs + compactToParquet`,
      fmtInt(r.rows), (r.outputBytes / MB).toFixed(1), `${fmtInt(r.peakRssMb)} (${fmtInt(r.afterFetchRssMb!)} after fetch)`,
      `${passFail(r.peakRssMb <= RSS_LIMIT_MB && r.verified)}${r.verified ? '' : ' (not verified)'}`,
    ]);
  }
  const flatRatio = flat[1].peakRssMb / flat[0].peakRssMb;
  const fetchRatio = flat[1].afterFetchRssMb! / flat[0].afterFetchRssMb!;
  log(`flatness cases took ${secs(performance.now() - t1)} s`);

  console.log();
  if (bigSummary.length) {
    for (const l of bigSummary) console.log(l);
    console.log();
  }
  console.log(`Memory: peak RSS of one child process per case (DuckDB memory_limit ${engine.memoryLimitMb} MB, threads ${engine.threads}; target <= ${RSS_LIMIT_MB} MB):`);
  console.log(table(['case', 'rows', 'output MB', 'peak RSS (MB)', `<= ${RSS_LIMIT_MB} MB`], rssRows));
  console.log(
    `flatness: peak RSS with ${fmtInt(flatSpecs[1].files.length)} objects / with ${fmtInt(flatSpecs[0].files.length)} objects (same rows, same bytes) = ` +
      `${flatRatio.toFixed(2)} (after the fetch: ${fetchRatio.toFixed(2)}) -> ${passFail(flatRatio <= FLAT_LIMIT)} (flat: <= ${FLAT_LIMIT})`,
  );
}

// ---------------------------------------------------------------- main

/**
 * Declared decimals cost one extra pass over JSON bytes in Node (quoting their number text): timed
 * against the fetch's own line pass over the same bytes, in this process, in 64 KB chunks as
 * a download delivers them.
 */
async function decimals(o: BenchOptions) {
  const rows = sensorFiles({ prefix: '', hours: [MAIN_HOUR], filesPerHour: 1, rowsPerFile: 400_000, seed: 4 })[0].body
    .split('\n')
    .filter(Boolean)
    .map((l, i) => `${l.slice(0, -1)},"price":${(i * 7919) % 100_000_000}.${String(i % 100).padStart(2, '0')}}`);
  const data = Buffer.from(rows.join('\n') + '\n');
  const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
  const pass = async (quote: boolean) => {
    let out = 0;
    const stages = [new JsonLinesCounter(Number.MAX_SAFE_INTEGER, 'bench'), ...(quote ? [new NumberQuoter(numberFields(['price']))] : [])];
    await pipeline([Readable.from(chunks), ...stages, new Writable({ write: (c: Buffer, _e, done) => ((out += c.length), done()) })]);
    return out;
  };
  const floor: number[] = [];
  const ours: number[] = [];
  for (let run = 1; run <= o.runs; run++) {
    floor.push((await timed(() => pass(false))).ms);
    const t = await timed(() => pass(true));
    if (t.value !== data.length + 2 * rows.length) throw new Error(`quoting wrote ${t.value} bytes, expected ${data.length + 2 * rows.length}`);
    ours.push(t.ms);
  }
  const [f, q] = [median(floor), median(ours)];
  const mbps = (ms: number) => ((data.length / MB) / (ms / 1000)).toFixed(0);
  console.log(`Exact decimals: ${fmtInt(rows.length)} JSON rows, ${(data.length / MB).toFixed(1)} MB, one declared decimal field; median of ${o.runs}`);
  console.log(
    table(
      ['stage', 'ours (s)', 'floor (s)', 'ratio', 'ours MB/s', 'floor MB/s'],
      [['line pass with decimal quoting vs without', secs(q), secs(f), (f / q).toFixed(2), mbps(q), mbps(f)]],
    ),
  );
  console.log('informational: only tables that declare decimal columns pay this; the sensors table does not.');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  console.log('Compaction benchmark');
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 1024 ** 3).toFixed(1)} GB RAM; Node ${process.version}; DuckDB ${duckdbVersion()}`);
  console.log(`options: --files ${o.files} --rows-per-file ${o.rowsPerFile} --runs ${o.runs} --concurrency ${o.concurrency} --big-mb ${o.bigMb}${o.skipBig ? ' --skip-512' : ''}${o.skipScale ? ' --skip-scale' : ` --scale-objects ${o.scaleObjects} --scale-bin-objects ${o.scaleBinObjects}`}`);
  const busy = loadavg()[0];
  console.log(`load average at start: ${busy.toFixed(2)}${busy > 0.5 ? ' (other processes are using the CPU: seconds will be inflated; the CPU columns are less affected)' : ''}`);
  console.log();

  if (o.onlyWide) {
    const root = await mkdtemp(join(tmpdir(), 'compactor-bench-'));
    try {
      await mkdir(join(root, 'jobs'), { recursive: true });
      const big = await wideCase(o, root, join(root, 'jobs'), { ...DEFAULT_ENGINE_SETTINGS, fetchConcurrency: o.concurrency });
      console.log();
      for (const l of big.summary) console.log(l);
      console.log(table(['case', 'rows', 'output MB', 'peak RSS (MB)', `<= ${RSS_LIMIT_MB} MB`], big.rssRows));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
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
    log(`total ${secs(performance.now() - started)} s (load average now ${loadavg().map((x) => x.toFixed(2)).join(' / ')})`);
  } finally {
    await s3?.close();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
