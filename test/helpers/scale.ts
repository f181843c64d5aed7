/**
 * One partition of many tiny objects through the synthesized workflow offline, with the per-bin
 * object bound set low: it must end as target-size files holding every landed row exactly once.
 * Used by the workflow test (1,000 objects) and the benchmark (50,000).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stateKey } from '../../lambdas/core/keys';
import type { PartitionState } from '../../lambdas/core/state';
import { putFiles, sensorFiles } from '../../local/generate';
import { LOCAL_BUCKETS, localPipeline } from '../../local/pipeline';
import { startLocalS3 } from '../../local/s3-server';
import { ManualClock } from './pipeline';
import { compareRows, rowsFromJsonLines, rowsFromParquetObjects } from './rows';

export interface ScaleResult {
  readonly objects: number;
  readonly bins: number;
  readonly merges: number;
  readonly files: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly status: string;
  readonly generateMs: number;
  readonly runMs: number;
}

const PARTITION = 'dt=2024-12-19/hour=14';

export const scaleLine = (r: ScaleResult) => `scale: ${r.objects} objects -> ${r.bins} bins -> ${r.files} files, rows lost ${r.lost}, duplicated ${r.duplicated}`;

export async function runScale(o: { objects: number; maxBinObjects: number; rowsPerObject?: number; onProgress?: (what: string) => void }): Promise<ScaleResult> {
  const s3 = await startLocalS3([LOCAL_BUCKETS.landing, LOCAL_BUCKETS.gold]);
  const scratch = await mkdtemp(join(tmpdir(), 'scale-'));
  try {
    const t0 = Date.now();
    const files = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: o.objects, rowsPerFile: o.rowsPerObject ?? 2, seed: 4 });
    await putFiles(s3.client, LOCAL_BUCKETS.landing, files, 64, (n) => n % 10_000 === 0 && o.onProgress?.(`landed ${n}`));
    const t1 = Date.now();
    const pipeline = localPipeline({ s3, scratchDir: scratch, clock: new ManualClock(), tableSettings: { maxBinObjects: o.maxBinObjects } });
    const outcome = await pipeline.execute({ table: 'sensors' }, 'scale');
    const t2 = Date.now();
    const out = (outcome.output ?? {}) as { plan?: { bins?: number; merges?: number } };
    const state = await pipeline.store.getJson<PartitionState>(LOCAL_BUCKETS.gold, stateKey('sensors', PARTITION));
    const [entry] = await pipeline.catalog.getPartitions([['2024-12-19', '14']]);
    // What a reader of the catalog's location sees, against the rows as they were landed.
    const prefix = entry ? entry.location.replace(`s3://${LOCAL_BUCKETS.gold}/`, '') : undefined;
    const keys = prefix ? (state?.files ?? []).map((f) => f.key).filter((k) => k.startsWith(prefix)) : [];
    const actual = await rowsFromParquetObjects(s3.client, LOCAL_BUCKETS.gold, keys, scratch);
    const cmp = compareRows(files.flatMap((f) => rowsFromJsonLines(f.body)), actual);
    return {
      objects: files.length,
      bins: out.plan?.bins ?? 0,
      merges: out.plan?.merges ?? 0,
      files: keys.length,
      lost: cmp.lost,
      duplicated: cmp.extra,
      status: outcome.status === 'SUCCEEDED' ? outcome.status : `${outcome.status}: ${outcome.error} ${outcome.cause}`,
      generateMs: t1 - t0,
      runMs: t2 - t1,
    };
  } finally {
    await s3.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
