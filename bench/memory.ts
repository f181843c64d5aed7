/**
 * MEMORY: peak RSS of a child process per case (bench/engine-worker.ts), each against
 * RSS_LIMIT_MB:
 *   wide    a bin whose Parquet output is >= --big-mb MB (poorly compressible rows as local JSON
 *           Lines chunks, no S3), with the engine timed against a bare COPY over the same chunks;
 *           prints `engine wide <MB> MB: ratio <r>, peak RSS <n> MB` (ratio = bare COPY s / ours);
 *           `--only-wide` runs it alone, `--skip-512` leaves it out
 *   flat    the same rows as N and as 4N objects (fetched from the loopback server, then compacted):
 *           peak RSS may grow by at most FLAT_LIMIT
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StagedInputs } from '../lambdas/adapters/fetch-inputs';
import type { BinSpec } from '../lambdas/core/contracts';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from '../lambdas/core/settings';
import { table } from '../local/report';
import { LOCAL_CREDENTIALS } from '../local/s3-server';
import type { WorkerResult } from './engine-worker';
import {
  engineOptions, fmtInt, inChild, load, log, MB, median, passFail, RSS_LIMIT_MB, secs, SETTINGS, sum, TARGET_RATIO,
  type BenchOptions, type S3Process,
} from './common';

/** Peak RSS with 4x the objects may grow by at most this factor to count as flat. */
const FLAT_LIMIT = 1.1;
/** Parquet bytes per generated big-case row (300-char payload on average, plain-encoded, plus numbers); measured. */
const BIG_PARQUET_BYTES_PER_ROW = 325;

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
  return new StagedInputs({ jsonChunks, files: [], jsonRows, jsonSegments, bytes });
}

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
      jsonChunks: [...staged.jsonChunks],
      jsonRows: [...staged.jsonRows],
      bytes: staged.bytes,
      workDir,
      outPath: join(workDir, 'out.parquet'),
      engine: engineOptions(engine),
    }, jobs);
    await rm(workDir, { recursive: true, force: true });
    ours.push(r);
    const floorOut = join(root, 'big-floor.parquet');
    const fl = await inChild(`big-floor-${run}`, { mode: 'floor', paths: [...staged.jsonChunks], outPath: floorOut, memoryLimitMb: engine.memoryLimitMb, threads: engine.threads }, jobs);
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

export async function memory(o: BenchOptions, s3: S3Process, root: string, flatSpecs: readonly BinSpec[]) {
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

/** `--only-wide`: the wide case alone, in a scratch directory of its own (no S3, no other section). */
export async function wideSection(o: BenchOptions): Promise<void> {
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
}
