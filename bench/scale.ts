/**
 * SCALE: one partition of many tiny objects through the synthesized workflow offline, with the
 * per-bin object bound forcing >= 10 bins, merged into target-size files; rows lost and
 * duplicated against an independent read of the landed objects.
 */
import { logger } from '../lambdas/adapters/logger';
import { runScale, scaleLine } from '../test/helpers/scale';

export async function scaleSection(o: { objects: number; maxBinObjects: number }, log: (s: string) => void): Promise<void> {
  logger.setLogLevel('ERROR');
  log(`${o.objects} objects in one partition, at most ${o.maxBinObjects} per bin (in-process loopback S3: its CPU is counted here)`);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await runScale({ objects: o.objects, maxBinObjects: o.maxBinObjects, onProgress: (s) => log(`  ${s}`) });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(scaleLine(r));
  log(`status ${r.status}; ${r.merges} merge(s); landing ${(r.generateMs / 1000).toFixed(1)} s, workflow ${(r.runMs / 1000).toFixed(1)} s; ` +
    `section wall ${wall.toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (user ${(cpu.user / 1e6).toFixed(1)}, system ${(cpu.system / 1e6).toFixed(1)})`);
  if (r.status !== 'SUCCEEDED' || r.lost || r.duplicated || r.bins < 10) process.exitCode = 1;
}
