/**
 * What the benchmark's sections share: the options, the log with its elapsed-time prefix, timing
 * and summary helpers, the engine options a section passes on, the child-process runner of the
 * memory cases, and s3rver in a child process.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { EngineOptions } from '../lambdas/core/engine-contracts';
import { makeS3Client } from '../lambdas/adapters/s3';
import type { EngineSettings } from '../lambdas/core/settings';
import { SENSORS_SETTINGS } from '../local/generate';
import { LOCAL_CREDENTIALS } from '../local/s3-server';
import type { WorkerJob, WorkerResult } from './engine-worker';

export interface BenchOptions {
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

export const MB = 1024 * 1024;
export const TARGET_RATIO = 0.6;
export const RSS_LIMIT_MB = 1536;

/** The log's clock; bench.ts restarts it once every module is loaded, so it counts from there. */
let started = performance.now();
export const startClock = () => {
  started = performance.now();
};
export const sinceStart = () => performance.now() - started;
const elapsed = () => `${(sinceStart() / 1000).toFixed(0).padStart(4)} s`;
export const log = (msg: string) => console.log(`[${elapsed()}] ${msg}`);
export const secs = (ms: number) => (ms / 1000).toFixed(2);
export const load = () => loadavg()[0].toFixed(1);
export const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const passFail = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

export interface Timed<T> {
  readonly ms: number;
  /** CPU time of this process (all threads, DuckDB's included), user + system. */
  readonly cpuMs: number;
  readonly value: T;
}

export async function timed<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const ms = performance.now() - t;
  const u = process.cpuUsage(cpu);
  return { ms, cpuMs: (u.user + u.system) / 1000, value };
}

export const engineOptions = (e: EngineSettings): EngineOptions => ({
  compression: e.compression,
  sortBy: e.sortBy,
  memoryLimitMb: e.memoryLimitMb,
  threads: e.threads,
  rowGroupBytes: e.rowGroupBytes,
});

const tsxArgs = (script: string, ...args: string[]) => ['--import', 'tsx', join(__dirname, script), ...args];

/** Runs one memory case in a child process; prints the child's RSS every 15 s as progress. */
export async function inChild(label: string, job: WorkerJob, jobDir: string): Promise<WorkerResult> {
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

export interface S3Process {
  readonly endpoint: string;
  readonly client: S3Client;
  close(): Promise<void>;
}

/**
 * s3rver (local/s3-server.ts) in a child process: in-process it would share one JavaScript
 * thread with the code under test, so its cost and ours would be counted together.
 */
export async function startS3Process(buckets: readonly string[]): Promise<S3Process> {
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

export const SETTINGS = SENSORS_SETTINGS;
export const MAIN_HOUR = '2024-12-19/14';
