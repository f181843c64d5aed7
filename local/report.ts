import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ReportOutput } from '../lambdas/core/contracts';
import type { ObjectStore } from '../lambdas/core/ports';
import { mapLimit } from '../lambdas/core/concurrency';

export interface ZoneStats {
  readonly partitions: Map<string, { objects: number; bytes: number }>;
  readonly sizes: number[];
}

/** Objects and bytes per partition directory (`dt=.../hour=...`) under a prefix, ignoring system keys. */
export async function zoneStats(store: ObjectStore, bucket: string, prefix: string, skip: (key: string) => boolean = () => false): Promise<ZoneStats> {
  const partitions = new Map<string, { objects: number; bytes: number }>();
  const sizes: number[] = [];
  for await (const o of store.list(bucket, prefix)) {
    if (skip(o.key)) continue;
    const dir = o.key.slice(prefix.length).split('/').filter((s) => /^[^=/]+=/.test(s) && !s.startsWith('v=')).join('/');
    const p = partitions.get(dir) ?? { objects: 0, bytes: 0 };
    p.objects++;
    p.bytes += o.size;
    partitions.set(dir, p);
    sizes.push(o.size);
  }
  return { partitions, sizes };
}

export { humanBytes, textTable as table } from '../lambdas/core/run-report-text';
export { sizeHistogram } from '../lambdas/core/size-histogram';

/** Prints the text report a run's report step wrote to S3 (what an operator opens first). */
export async function printRunReport(store: ObjectStore, out: ReportOutput | undefined): Promise<void> {
  if (!out) throw new Error('the execution wrote no run report');
  const body = await store.getStream(out.reportBucket, out.textKey);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  console.log(`\nRun report (s3://${out.reportBucket}/${out.textKey}):\n`);
  console.log(Buffer.concat(chunks).toString('utf8'));
}

export interface QueryTiming {
  readonly objects: number;
  readonly fetchMs: number;
  readonly queryMs: number;
  readonly result: Array<Record<string, unknown>>;
}

/**
 * Times one aggregate over a set of objects the way a query engine on S3 pays for it: every
 * object fetched from the S3 server (same concurrency both sides), then one DuckDB query.
 */
export async function timeQuery(
  store: ObjectStore,
  bucket: string,
  keys: readonly string[],
  scratch: string,
  reader: (files: string) => string,
  sql: (source: string) => string,
): Promise<QueryTiming> {
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const t0 = Date.now();
  await mapLimit(keys, 32, async (key, i) => {
    const body = await store.getStream(bucket, key);
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    await writeFile(join(scratch, `${String(i).padStart(7, '0')}${key.slice(key.lastIndexOf('.'))}`), Buffer.concat(chunks));
  });
  const t1 = Date.now();
  const db = await DuckDBInstance.create(':memory:', { threads: '2' });
  const c = await db.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    const r = await c.runAndReadAll(sql(reader(join(scratch, '*'))));
    const t2 = Date.now();
    return { objects: keys.length, fetchMs: t1 - t0, queryMs: t2 - t1, result: r.getRowObjectsJson() };
  } finally {
    c.closeSync();
    db.closeSync();
    await rm(scratch, { recursive: true, force: true });
  }
}
