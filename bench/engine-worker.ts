/**
 * Child process of the benchmark's memory section: runs one case and prints one JSON line with
 * its peak RSS, so the parent's heap (generated files, the s3rver server) does not pollute it.
 *
 *   node --import tsx bench/engine-worker.ts <job.json>
 *
 * Modes:
 *   staged - compactToParquet on inputs already on local disk (a StagedInputs as fetchInputs returns it)
 *   fetch  - fetchInputs from an S3 endpoint into a scratch dir, then compactToParquet (the compact
 *            Lambda's path minus the upload); the peak after the fetch is reported too
 *   floor  - a bare DuckDB COPY over the given JSON Lines paths, same memory limit and threads
 */
import { readFile, stat } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { compactToParquet } from '../lambdas/adapters/duckdb-engine';
import { sqlString } from '../lambdas/adapters/duckdb-sql';
import type { EngineOptions } from '../lambdas/core/engine-contracts';
import { fetchInputs, StagedInputs } from '../lambdas/adapters/fetch-inputs';
import { makeS3Client, S3ObjectStore } from '../lambdas/adapters/s3';
import type { SourceFile } from '../lambdas/core/partitions';

export interface StagedJob {
  readonly mode: 'staged';
  readonly jsonChunks: string[];
  /** [chunk path, rows] pairs: each chunk stands for one object. */
  readonly jsonRows: Array<[string, number]>;
  readonly bytes: number;
  readonly workDir: string;
  readonly outPath: string;
  readonly engine: EngineOptions;
}

export interface FetchJob {
  readonly mode: 'fetch';
  readonly endpoint: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly buckets: { landing: string; gold: string };
  readonly sources: SourceFile[];
  readonly concurrency: number;
  readonly workDir: string;
  readonly outPath: string;
  readonly engine: EngineOptions;
}

export interface FloorJob {
  readonly mode: 'floor';
  readonly paths: string[];
  readonly outPath: string;
  readonly memoryLimitMb: number;
  readonly threads: number;
}

export type WorkerJob = StagedJob | FetchJob | FloorJob;

export interface WorkerResult {
  /** Peak resident set of this process, MB. */
  readonly peakRssMb: number;
  /** Peak right after the fetch (fetch mode only). */
  readonly afterFetchRssMb?: number;
  readonly fetchMs?: number;
  readonly engineMs: number;
  /** CPU time (user + system, all threads) of the engine step: robust to other load on the host. */
  readonly engineCpuMs: number;
  readonly rows: number;
  readonly outputBytes: number;
  /** The engine's own check: staged rows and checksum equal the written file's. */
  readonly verified: boolean;
}

const peakMb = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

async function run(job: WorkerJob): Promise<WorkerResult> {
  if (job.mode === 'floor') {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const instance = await DuckDBInstance.create(':memory:', {
      threads: String(job.threads),
      memory_limit: `${job.memoryLimitMb}MB`,
      preserve_insertion_order: 'false',
    });
    const c = await instance.connect();
    const list = `[${job.paths.map(sqlString).join(', ')}]`;
    const r = await c.runAndReadAll(
      `COPY (SELECT * FROM read_json(${list}, format='newline_delimited', hive_partitioning=false)) TO ${sqlString(job.outPath)} (FORMAT parquet, COMPRESSION snappy)`,
    );
    const rows = Number(r.getRows()[0]?.[0] ?? 0);
    c.closeSync();
    instance.closeSync();
    return { peakRssMb: peakMb(), engineMs: performance.now() - t0, engineCpuMs: cpuMs(cpu0), rows, outputBytes: (await stat(job.outPath)).size, verified: true };
  }

  let staged: StagedInputs;
  let fetchMs: number | undefined;
  let afterFetchRssMb: number | undefined;
  if (job.mode === 'fetch') {
    const client = makeS3Client({ endpoint: job.endpoint, credentials: job.credentials });
    const t = performance.now();
    staged = await fetchInputs(new S3ObjectStore(client), job.buckets, job.sources, `${job.workDir}/in`, { concurrency: job.concurrency });
    fetchMs = performance.now() - t;
    afterFetchRssMb = peakMb();
    client.destroy();
  } else {
    // Each chunk is one object: its rows are keyed by its path.
    const jsonSegments = job.jsonRows.map(([key, rows]) => ({ chunk: key, key, firstLine: 0, lines: rows }));
    staged = new StagedInputs({ jsonChunks: job.jsonChunks, files: [], jsonRows: new Map(job.jsonRows), jsonSegments, bytes: job.bytes });
  }
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  const r = await compactToParquet(staged, job.workDir, job.outPath, job.engine);
  const engineMs = performance.now() - t;
  const engineCpuMs = cpuMs(cpu0);
  const inputRows = [...staged.jsonRows.values()].reduce((a, b) => a + b, 0);
  return {
    peakRssMb: peakMb(),
    afterFetchRssMb,
    fetchMs,
    engineMs,
    engineCpuMs,
    rows: r.outputRows,
    outputBytes: r.outputBytes,
    verified: r.stagedRows === inputRows && r.outputRows === inputRows && r.inputChecksum === r.outputChecksum,
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(await readFile(process.argv[2], 'utf8')) as WorkerJob;
  const result = await run(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
