/**
 * Benchmark section: the plan step over a million listed objects, in a child process (its peak
 * RSS is the plan Lambda's), median of `runs` for the time, worst run for memory.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { PlannerResult } from './planner-worker';

export const PLANNER_TARGET = { seconds: 10, rssMb: 512 } as const;

function runWorker(objects: number, partitions: number): Promise<PlannerResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'planner-worker.ts'), String(objects), String(partitions)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as PlannerResult) : reject(new Error(`planner worker exited with ${code}\n${err}`)))),
  );
}

export async function plannerSection(runs: number, log: (msg: string) => void, objects = 1_000_000, partitions = 1000): Promise<void> {
  const results: PlannerResult[] = [];
  for (let run = 1; run <= runs; run++) {
    const r = await runWorker(objects, partitions);
    results.push(r);
    log(`  run ${run}/${runs}: ${(r.wallMs / 1000).toFixed(1)} s (CPU ${(r.cpuMs / 1000).toFixed(1)} s), peak RSS ${r.peakRssMb.toFixed(0)} MB, ${r.bins} bins, ${r.writtenMb.toFixed(0)} MB of specs`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const seconds = median(results.map((r) => r.wallMs)) / 1000;
  const cpu = median(results.map((r) => r.cpuMs)) / 1000;
  const rss = Math.max(...results.map((r) => r.peakRssMb));
  console.log(`planner: ${objects} objects, ${partitions} partitions: ${seconds.toFixed(1)} s, peak RSS ${rss.toFixed(0)} MB`);
  const ok = seconds <= PLANNER_TARGET.seconds && rss <= PLANNER_TARGET.rssMb;
  console.log(
    `  CPU ${cpu.toFixed(1)} s (median of ${runs}; wall time rises with other load on the host, CPU much less); ` +
      `target <= ${PLANNER_TARGET.seconds} s and <= ${PLANNER_TARGET.rssMb} MB -> ${ok ? 'PASS' : 'FAIL'}`,
  );
}
