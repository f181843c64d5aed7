/**
 * Compaction benchmark: times each stage of one bin against its own floor measured in the same
 * run, and measures the engine's peak RSS in child processes.
 *
 *   npm run bench -- [--files 20000] [--rows-per-file 10] [--runs 3] [--concurrency 32]
 *                    [--big-mb 512] [--skip-512]
 *
 * Throughput (one bin from the loopback S3 server; medians of --runs):
 *   fetch   fetchInputs                vs a bare SDK GetObject loop at the same concurrency
 *   engine  compactToParquet on staged vs a bare DuckDB COPY over the same objects, one local file each
 *   e2e     compactBin                 vs fetch floor + engine floor
 * Memory (peak RSS of a child process per case):
 *   a bin whose Parquet output is >= --big-mb MB (local JSON Lines chunks, no S3)
 *   the same rows as N and as 4N objects (fetched from the loopback server, then compacted)
 *
 * The local S3 server is far slower than S3, so only the per-stage ratios say something about
 * our own cost; absolute seconds mostly measure s3rver.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance, version as duckdbVersion } from '@duckdb/node-api';
import { compactToParquet, sqlString, type EngineOptions } from '../lambdas/adapters/duckdb-engine';
import { fetchInputs, type StagedInputs } from '../lambdas/adapters/fetch-inputs';
import { makeS3Client, S3ObjectStore } from '../lambdas/adapters/s3';
import type { BinItem, BinManifest, BinSpec } from '../lambdas/core/contracts';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings, type TableSettings } from '../lambdas/core/settings';
import { compactBin } from '../lambdas/use-cases/compact-bin';
import { mapLimit } from '../lambdas/core/concurrency';
import { planRun } from '../lambdas/use-cases/plan-run';
import { putFiles, sensorFiles, type GeneratedFile } from '../local/generate';
import { LOCAL_CREDENTIALS } from '../local/s3-server';
import type { WorkerJob, WorkerResult } from './engine-worker';

// ---------------------------------------------------------------- options

interface BenchOptions {
  readonly files: number;
  readonly rowsPerFile: number;
  readonly runs: number;
  readonly concurrency: number;
  readonly bigMb: number;
  readonly skipBig: boolean;
}

function parseArgs(argv: readonly string[]): BenchOptions {
  const o = { files: 20_000, rowsPerFile: 10, runs: 3, concurrency: DEFAULT_ENGINE_SETTINGS.fetchConcurrency, bigMb: 512, skipBig: false };
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--files') o.files = int(a, argv[++i], 8);
    else if (a === '--rows-per-file') o.rowsPerFile = int(a, argv[++i], 1);
    else if (a === '--runs') o.runs = int(a, argv[++i], 1);
    else if (a === '--concurrency') o.concurrency = int(a, argv[++i], 1);
    else if (a === '--big-mb') o.bigMb = int(a, argv[++i], 1);
    else if (a === '--skip-512') o.skipBig = true;
    else throw new Error(`unknown argument ${a}; use --files N --rows-per-file N --runs N --concurrency N --big-mb N --skip-512`);
  }
  return o;
}

// ---------------------------------------------------------------- small helpers

const MB = 1024 * 1024;
const TARGET_RATIO = 0.5;
const RSS_LIMIT_MB = 1536;
/** Peak RSS with 4x the objects may grow by at most this factor to count as flat. */
const FLAT_LIMIT = 1.1;

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const log = (msg: string) => console.log(`[${elapsed()}] ${msg}`);
const secs = (ms: number) => (ms / 1000).toFixed(2);
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const passFail = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const engineOptions = (e: EngineSettings): EngineOptions => ({
  compression: e.compression,
  sortBy: e.sortBy,
  memoryLimitMb: e.memoryLimitMb,
  threads: e.threads,
  rowGroupBytes: e.rowGroupBytes,
});

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

/** Runs one memory case in a child process; prints the child's RSS every 15 s as progress. */
async function inChild(label: string, job: WorkerJob, jobDir: string): Promise<WorkerResult> {
  const jobPath = join(jobDir, `${label.replace(/[^a-z0-9]+/gi, '-')}.json`);
  await writeFile(jobPath, JSON.stringify(job));
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'engine-worker.ts'), jobPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const t0 = performance.now();
  const ticker = setInterval(async () => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
    const rss = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    log(`  ${label}: running ${((performance.now() - t0) / 1000).toFixed(0)} s${rss ? `, RSS now ${fmtInt(Number(rss) / 1024)} MB` : ''}`);
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
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 's3-server-process.ts'), ...buckets], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
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

const SETTINGS: TableSettings = {
  table: 'sensors',
  landingBucket: 'landing',
  landingPrefix: 'sensors/',
  goldBucket: 'gold',
  goldPrefix: 'sensors/',
  partitionKeys: ['dt', 'hour'],
  targetFileMb: 512,
  minInputFiles: 5,
  maxBinsPerRun: 1000,
  graceDays: 3,
};
const MAIN_HOUR = '2024-12-19/14';
const FLAT_HOUR = '2024-12-19/15';
const partitionOf = (hour: string) => `dt=${hour.split('/')[0]}/hour=${hour.split('/')[1]}`;

const rowsIn = (body: string) => body.split('\n').filter((l) => l.trim() !== '').length;

/**
 * Poorly compressible rows (a random 200-400 char base64 payload and a few numeric fields) in
 * ~64 MB JSON Lines chunks, as fetchInputs would leave them, until about `rows` rows are written.
 */
async function writeBigChunks(dir: string, rows: number, onProgress: (rows: number, bytes: number) => void): Promise<StagedInputs> {
  await mkdir(dir, { recursive: true });
  const jsonChunks: string[] = [];
  const jsonRows = new Map<string, number>();
  const chunkLimit = 64 * MB;
  let bytes = 0;
  let out: WriteStream | undefined;
  let path = '';
  let inChunk = 0;
  let chunkBytes = chunkLimit;
  const closeChunk = async () => {
    if (!out) return;
    const s = out;
    await new Promise<void>((resolve, reject) => s.end((e?: Error | null) => (e ? reject(e) : resolve())));
    jsonRows.set(path, inChunk);
  };
  const base = Date.parse('2024-12-19T14:00:00Z');
  let written = 0;
  while (written < rows) {
    if (chunkBytes >= chunkLimit) {
      await closeChunk();
      path = join(dir, `chunk-${String(jsonChunks.length).padStart(3, '0')}.jsonl`);
      jsonChunks.push(path);
      out = createWriteStream(path);
      inChunk = 0;
      chunkBytes = 0;
    }
    const lines: string[] = [];
    for (let i = 0; i < 2000 && written < rows; i++, written++) {
      const payloadBytes = 150 + Math.floor(Math.random() * 151); // base64: 200-400 chars
      lines.push(
        JSON.stringify({
          id: written,
          device_id: `sensor-${String(written % 500).padStart(4, '0')}`,
          ts: new Date(base + Math.floor(Math.random() * 3_600_000)).toISOString(),
          value: Math.round(Math.random() * 1e6) / 100,
          count: Math.floor(Math.random() * 1e6),
          payload: randomBytes(payloadBytes).toString('base64url'),
        }),
      );
    }
    const block = `${lines.join('\n')}\n`;
    const n = Buffer.byteLength(block);
    inChunk += lines.length;
    chunkBytes += n;
    bytes += n;
    if (!out!.write(block)) await new Promise<void>((r) => out!.once('drain', () => r()));
    if (written % 200_000 < 2000) onProgress(written, bytes);
  }
  await closeChunk();
  return { jsonChunks, files: [], jsonRows, bytes };
}

// ---------------------------------------------------------------- sections

interface StageRow {
  readonly stage: string;
  readonly oursMs: number;
  readonly floorMs: number;
  readonly rows: number;
}

async function throughput(o: BenchOptions, s3: S3Process, store: S3ObjectStore, root: string, item: BinItem, spec: BinSpec, bodies: Map<string, string>) {
  const engine: EngineSettings = { ...DEFAULT_ENGINE_SETTINGS, fetchConcurrency: o.concurrency, scratchDir: join(root, 'work') };
  const rows = spec.files.reduce((s, f) => s + rowsIn(bodies.get(f.key)!), 0);
  const bytes = spec.files.reduce((s, f) => s + f.size, 0);

  // The same objects on local disk, one file per object, for the engine floor.
  const localDir = join(root, 'local-objects');
  await mkdir(localDir, { recursive: true });
  await mapLimit(spec.files, 64, (f, i) => writeFile(join(localDir, `obj-${String(i).padStart(6, '0')}.json`), bodies.get(f.key)!));
  const glob = join(localDir, '*.json');
  log(`bin ${item.binId} (${item.partition}): ${fmtInt(spec.files.length)} objects, ${fmtInt(rows)} rows, ${(bytes / MB).toFixed(1)} MB; also written to local disk`);

  const t = { fetchFloor: [] as number[], fetchOurs: [] as number[], engineFloor: [] as number[], engineUnion: [] as number[], engineOurs: [] as number[], e2e: [] as number[] };
  let staged: StagedInputs | undefined;
  const breakdown: BinManifest['timings'][] = [];
  const bareGets = (files: BinSpec['files']) =>
    mapLimit(files, o.concurrency, async (f) => {
      const r = await s3.client.send(new GetObjectCommand({ Bucket: SETTINGS.landingBucket, Key: f.key }));
      return (await r.Body!.transformToByteArray()).length;
    });
  // The server's GET path is cold after seeding (its first few thousand GETs are ~15% slower).
  const warm = await timed(() => bareGets(spec.files.slice(0, 2000)));
  log(`warm-up: ${fmtInt(Math.min(2000, spec.files.length))} GETs in ${secs(warm.ms)} s`);

  for (let run = 1; run <= o.runs; run++) {
    // fetch floor (bare GETs at the same concurrency, bodies read fully and dropped) and ours,
    // in alternating order so neither always runs on a colder server
    const fetchFloor = async () => {
      const ff = await timed(() => bareGets(spec.files));
      const got = ff.value.reduce((a, b) => a + b, 0);
      if (got !== bytes) throw new Error(`fetch floor read ${got} bytes, expected ${bytes}`);
      return ff;
    };
    const fetchOurs = async () => {
      const stageDir = join(root, `staged-${run}`);
      const fo = await timed(() => fetchInputs(store, { landing: SETTINGS.landingBucket, gold: SETTINGS.goldBucket }, spec.files, stageDir, { concurrency: o.concurrency }));
      const fetchedRows = [...fo.value.jsonRows.values()].reduce((a, b) => a + b, 0);
      if (fetchedRows !== rows) throw new Error(`fetchInputs counted ${fetchedRows} rows, expected ${rows}`);
      if (staged) await rm(stageDir, { recursive: true, force: true });
      else staged = fo.value;
      return fo;
    };
    const floorFirst = run % 2 === 1;
    const first = floorFirst ? await fetchFloor() : await fetchOurs();
    const second = floorFirst ? await fetchOurs() : await fetchFloor();
    const ff = floorFirst ? first : second;
    const fo = floorFirst ? second : first;
    t.fetchFloor.push(ff.ms);
    t.fetchOurs.push(fo.ms);

    // engine floor: bare COPY over the local files; and the union_by_name reference
    const ef = await timed(() => duckdbCopyFloor(glob, join(root, 'floor.parquet'), engine, false));
    if (ef.value !== rows) throw new Error(`bare COPY wrote ${ef.value} rows, expected ${rows}`);
    t.engineFloor.push(ef.ms);
    const eu = await timed(() => duckdbCopyFloor(glob, join(root, 'floor-union.parquet'), engine, true));
    if (eu.value !== rows) throw new Error(`bare COPY (union_by_name) wrote ${eu.value} rows, expected ${rows}`);
    t.engineUnion.push(eu.ms);

    // engine ours, on the inputs staged by fetchInputs
    const workDir = join(root, `engine-${run}`);
    const eo = await timed(() => compactToParquet(staged!, workDir, join(workDir, 'out.parquet'), engineOptions(engine)));
    if (eo.value.outputRows !== rows || eo.value.inputChecksum !== eo.value.outputChecksum) throw new Error('engine output does not verify');
    t.engineOurs.push(eo.ms);
    await rm(workDir, { recursive: true, force: true });

    // end to end: a verified manifest would be reused, so drop the previous run's output first
    await s3.client.send(new DeleteObjectCommand({ Bucket: SETTINGS.goldBucket, Key: spec.manifestKey }));
    await s3.client.send(new DeleteObjectCommand({ Bucket: SETTINGS.goldBucket, Key: spec.outputKey }));
    const e2e = await timed(() => compactBin({ store, settings: SETTINGS, engine }, item));
    if (e2e.value.outputRows !== rows) throw new Error(`compactBin wrote ${e2e.value.outputRows} rows, expected ${rows}`);
    t.e2e.push(e2e.ms);
    breakdown.push((await store.getJson<BinManifest>(SETTINGS.goldBucket, spec.manifestKey))!.timings);

    log(
      `run ${run}/${o.runs}: fetch floor ${secs(ff.ms)} s, ours ${secs(fo.ms)} s; engine floor ${secs(ef.ms)} s ` +
        `(union_by_name ${secs(eu.ms)} s), ours ${secs(eo.ms)} s; end to end ${secs(e2e.ms)} s`,
    );
  }

  const fetchFloor = median(t.fetchFloor);
  const engineFloor = median(t.engineFloor);
  const stages: StageRow[] = [
    { stage: 'fetch (fetchInputs vs bare GET loop)', oursMs: median(t.fetchOurs), floorMs: fetchFloor, rows },
    { stage: 'engine (compactToParquet vs bare COPY)', oursMs: median(t.engineOurs), floorMs: engineFloor, rows },
    { stage: 'end to end (compactBin vs fetch+engine floors)', oursMs: median(t.e2e), floorMs: fetchFloor + engineFloor, rows },
  ];
  console.log();
  console.log(`Throughput, one bin of ${fmtInt(spec.files.length)} objects / ${fmtInt(rows)} rows, median of ${o.runs} run(s), concurrency ${o.concurrency}, DuckDB threads ${engine.threads}, memory_limit ${engine.memoryLimitMb} MB:`);
  console.log(
    table(
      ['stage', 'ours (s)', 'floor (s)', 'ratio', 'ours rows/s', 'floor rows/s', `>= ${TARGET_RATIO}`],
      stages.map((r) => {
        const ratio = r.floorMs / r.oursMs;
        return [r.stage, secs(r.oursMs), secs(r.floorMs), ratio.toFixed(2), fmtInt((r.rows * 1000) / r.oursMs), fmtInt((r.rows * 1000) / r.floorMs), passFail(ratio >= TARGET_RATIO)];
      }),
    ),
  );
  const union = median(t.engineUnion);
  console.log(`reference: bare COPY with union_by_name=true (columns may differ per file): ${secs(union)} s, ${fmtInt((rows * 1000) / union)} rows/s; our engine vs it: ${(union / median(t.engineOurs)).toFixed(2)}`);
  const b = {
    fetch: median(breakdown.map((x) => x.fetchMs)),
    engine: median(breakdown.map((x) => x.engineMs)),
    upload: median(breakdown.map((x) => x.uploadMs)),
  };
  const rest = median(t.e2e) - b.fetch - b.engine - b.upload;
  console.log(
    `end to end, from the manifests (medians): fetch ${secs(b.fetch)} s + engine ${secs(b.engine)} s + verify/upload ${secs(b.upload)} s ` +
      `+ spec/manifest I/O ${secs(rest)} s (the floor has no upload)`,
  );
  return { staged: staged!, rows };
}

async function memory(o: BenchOptions, s3: S3Process, root: string, mainSpec: BinSpec, flatSpec: BinSpec) {
  const engine = { ...DEFAULT_ENGINE_SETTINGS, fetchConcurrency: o.concurrency };
  const jobs = join(root, 'jobs');
  await mkdir(jobs, { recursive: true });
  const results: string[][] = [];

  if (!o.skipBig) {
    const t0 = performance.now();
    // Calibrated: ~325 bytes of Parquet per row (a 300-char payload on average, plain-encoded, plus numbers).
    const rows = Math.ceil((o.bigMb * MB * 1.03) / 325);
    log(`${o.bigMb} MB case: writing ~${fmtInt(rows)} poorly compressible rows as local JSON Lines chunks`);
    const staged = await writeBigChunks(join(root, 'big-in'), rows, (n, b) => log(`  generated ${fmtInt(n)} rows, ${fmtInt(b / MB)} MB`));
    log(`  ${staged.jsonChunks.length} chunks, ${fmtInt(staged.bytes / MB)} MB of JSON Lines in ${secs(performance.now() - t0)} s; compacting in a child process`);
    const workDir = join(root, 'big-work');
    const r = await inChild('big-ours', {
      mode: 'staged',
      jsonChunks: staged.jsonChunks,
      jsonRows: [...staged.jsonRows],
      bytes: staged.bytes,
      workDir,
      outPath: join(workDir, 'out.parquet'),
      engine: engineOptions(engine),
    }, jobs);
    await rm(workDir, { recursive: true, force: true });
    log(`  compactToParquet: ${secs(r.engineMs)} s, output ${fmtInt(r.outputBytes / MB)} MB, peak RSS ${fmtInt(r.peakRssMb)} MB`);
    const fl = await inChild('big-floor', { mode: 'floor', paths: staged.jsonChunks, outPath: join(root, 'big-floor.parquet'), memoryLimitMb: engine.memoryLimitMb, threads: engine.threads }, jobs);
    await rm(join(root, 'big-floor.parquet'), { force: true });
    await rm(join(root, 'big-in'), { recursive: true, force: true });
    log(`  bare COPY reference: ${secs(fl.engineMs)} s, output ${fmtInt(fl.outputBytes / MB)} MB, peak RSS ${fmtInt(fl.peakRssMb)} MB`);
    const bigEnough = r.outputBytes >= o.bigMb * MB;
    results.push([
      `${o.bigMb} MB bin, compactToParquet (${fmtInt(staged.bytes / MB)} MB JSON in ${staged.jsonChunks.length} chunks)`,
      fmtInt(r.rows), `${fmtInt(r.outputBytes / MB)}${bigEnough ? '' : ' (too small!)'}`, secs(r.engineMs), fmtInt(r.peakRssMb),
      `${passFail(r.peakRssMb <= RSS_LIMIT_MB && r.verified)}${r.verified ? '' : ' (not verified)'}`,
    ]);
    results.push([`${o.bigMb} MB bin, bare COPY reference`, fmtInt(fl.rows), fmtInt(fl.outputBytes / MB), secs(fl.engineMs), fmtInt(fl.peakRssMb), '']);
    log(`${o.bigMb} MB case took ${secs(performance.now() - t0)} s`);
  } else {
    log(`${o.bigMb} MB case skipped (--skip-512)`);
  }

  // Flatness: the same rows as N objects and as 4N objects, fetched and compacted in a child.
  const flat: WorkerResult[] = [];
  for (const spec of [flatSpec, mainSpec]) {
    const label = `flat-${spec.files.length}`;
    const workDir = join(root, `${label}-work`);
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
    const inBytes = spec.files.reduce((s, f) => s + f.size, 0);
    log(`  ${fmtInt(spec.files.length)} objects (${(inBytes / MB).toFixed(1)} MB): fetch ${secs(r.fetchMs!)} s (peak RSS ${fmtInt(r.afterFetchRssMb!)} MB), engine ${secs(r.engineMs)} s, peak RSS ${fmtInt(r.peakRssMb)} MB`);
    results.push([
      `${fmtInt(spec.files.length)} objects (${(inBytes / MB).toFixed(1)} MB), fetchInputs + compactToParquet`,
      fmtInt(r.rows), (r.outputBytes / MB).toFixed(1), secs(r.fetchMs! + r.engineMs), `${fmtInt(r.peakRssMb)} (after fetch ${fmtInt(r.afterFetchRssMb!)})`,
      `${passFail(r.peakRssMb <= RSS_LIMIT_MB && r.verified)}${r.verified ? '' : ' (not verified)'}`,
    ]);
  }
  const flatRatio = flat[1].peakRssMb / flat[0].peakRssMb;

  console.log();
  console.log(`Memory, peak RSS of a child process per case (DuckDB memory_limit ${engine.memoryLimitMb} MB, threads ${engine.threads}; limit ${RSS_LIMIT_MB} MB):`);
  console.log(table(['case', 'rows', 'output MB', 'time (s)', 'peak RSS (MB)', `<= ${RSS_LIMIT_MB} MB`], results));
  console.log(
    `flatness: peak RSS with ${fmtInt(mainSpec.files.length)} objects / with ${fmtInt(flatSpec.files.length)} objects (same rows) = ` +
      `${flatRatio.toFixed(2)} -> ${passFail(flatRatio <= FLAT_LIMIT)} (flat means <= ${FLAT_LIMIT})`,
  );
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  console.log('Compaction benchmark');
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 1024 ** 3).toFixed(1)} GB RAM; Node ${process.version}; DuckDB ${duckdbVersion()}`);
  console.log(`options: --files ${o.files} --rows-per-file ${o.rowsPerFile} --runs ${o.runs} --concurrency ${o.concurrency} --big-mb ${o.bigMb}${o.skipBig ? ' --skip-512' : ''}`);
  console.log();

  const root = await mkdtemp(join(tmpdir(), 'compactor-bench-'));
  let s3: S3Process | undefined;
  try {
    // ---- seed
    let t0 = performance.now();
    s3 = await startS3Process([SETTINGS.landingBucket, SETTINGS.goldBucket]);
    const store = new S3ObjectStore(s3.client);
    const main = sensorFiles({ prefix: SETTINGS.landingPrefix, hours: [MAIN_HOUR], filesPerHour: o.files, rowsPerFile: o.rowsPerFile, seed: 1 });
    const flatN = Math.max(2, Math.floor(o.files / 4));
    const flatRows = Math.round((o.files * o.rowsPerFile) / flatN);
    const flat = sensorFiles({ prefix: SETTINGS.landingPrefix, hours: [FLAT_HOUR], filesPerHour: flatN, rowsPerFile: flatRows, seed: 2 });
    const all: GeneratedFile[] = [...main, ...flat];
    const bodies = new Map(all.map((f) => [f.key, f.body]));
    log(`seeding s3rver with ${fmtInt(all.length)} objects (${fmtInt(main.length)} x ${o.rowsPerFile} rows for the throughput bin, ${fmtInt(flat.length)} x ${flatRows} rows for the flatness check)`);
    await putFiles(s3.client, SETTINGS.landingBucket, all, 32, (n) => n % 5000 === 0 && log(`  put ${fmtInt(n)}`));
    const seedMs = performance.now() - t0;
    const plan = await planRun({ store, settings: SETTINGS }, { table: SETTINGS.table });
    const items = (await store.getJson<BinItem[]>(SETTINGS.goldBucket, plan.output.itemsKey))!;
    const binOf = async (hour: string) => {
      const bins = items.filter((i) => i.partition === partitionOf(hour));
      if (bins.length !== 1) throw new Error(`expected one bin for ${partitionOf(hour)}, the planner made ${bins.length}`);
      return { item: bins[0], spec: (await store.getJson<BinSpec>(SETTINGS.goldBucket, bins[0].binKey))! };
    };
    const mainBin = await binOf(MAIN_HOUR);
    const flatBin = await binOf(FLAT_HOUR);
    log(`seeded ${fmtInt(all.length)} objects in ${secs(seedMs)} s (${fmtInt((all.length * 1000) / seedMs)} PUT/s); planned in ${secs(performance.now() - t0 - seedMs)} s`);
    console.log();

    // ---- throughput
    t0 = performance.now();
    log('THROUGHPUT');
    await throughput(o, s3, store, root, mainBin.item, mainBin.spec, bodies);
    const tpMs = performance.now() - t0;
    console.log();
    log(`throughput section took ${secs(tpMs)} s`);
    console.log();

    // ---- memory
    t0 = performance.now();
    log('MEMORY');
    await memory(o, s3, root, mainBin.spec, flatBin.spec);
    console.log();
    log(`memory section took ${secs(performance.now() - t0)} s`);
    log(`total ${secs(performance.now() - started)} s`);
  } finally {
    await s3?.close();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
