import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';

/** A sensor reading in a form both sides can produce independently: ts as epoch microseconds. */
export function canonicalSensorRow(r: Record<string, unknown>): string {
  return JSON.stringify([r.device_id, String(r.ts_us), Number(r.temperature), Number(r.humidity), String(r.battery), String(r.seq)]);
}

export function rowsFromJsonLines(body: string): string[] {
  return body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const o = JSON.parse(l);
      return canonicalSensorRow({ ...o, ts_us: BigInt(Date.parse(o.ts)) * 1000n });
    });
}

export async function allKeys(s3: S3Client, Bucket: string, Prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return out;
}

export async function getBytes(s3: S3Client, Bucket: string, Key: string): Promise<Uint8Array> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return out.Body!.transformToByteArray();
}

/** Runs `sql` over Parquet objects (`$OUT` stands for them), downloaded as a query engine on S3 would. */
export async function queryParquetObjects(s3: S3Client, bucket: string, keys: readonly string[], dir: string, sql: string) {
  const paths: string[] = [];
  for (const [i, k] of keys.entries()) {
    const p = join(dir, `out-${i}.parquet`);
    await writeFile(p, await getBytes(s3, bucket, k));
    paths.push(`'${p}'`);
  }
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    return (await c.runAndReadAll(sql.replace('$OUT', `read_parquet([${paths.join(',')}])`))).getRowObjectsJson();
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** Reads Parquet objects back through DuckDB, as a query engine would, into canonical rows. */
export async function rowsFromParquetObjects(s3: S3Client, bucket: string, keys: readonly string[], dir: string): Promise<string[]> {
  const bodies: Uint8Array[] = [];
  for (const key of keys) bodies.push(await getBytes(s3, bucket, key));
  return rowsFromParquetBuffers(bodies, dir);
}

/** Canonical rows of Parquet files given as bytes (read by DuckDB from a scratch copy). */
export async function rowsFromParquetBuffers(bodies: readonly Uint8Array[], dir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const [i, body] of bodies.entries()) {
    const p = join(dir, `read-${i}.parquet`);
    await writeFile(p, body);
    paths.push(p);
  }
  if (!paths.length) return [];
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const list = paths.map((p) => `'${p}'`).join(', ');
    const r = await c.runAndReadAll(
      `SELECT device_id, epoch_us(ts) AS ts_us, temperature, humidity, battery, seq FROM read_parquet([${list}])`,
    );
    return r.getRowObjectsJson().map((row) => canonicalSensorRow(row as Record<string, unknown>));
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** Multiset difference in both directions, as counts: what is lost and what is duplicated. */
export function compareRows(expected: readonly string[], actual: readonly string[]): { lost: number; extra: number; digest: string } {
  const counts = new Map<string, number>();
  for (const r of expected) counts.set(r, (counts.get(r) ?? 0) + 1);
  let extra = 0;
  for (const r of actual) {
    const n = counts.get(r) ?? 0;
    if (n === 0) extra++;
    else counts.set(r, n - 1);
  }
  let lost = 0;
  for (const n of counts.values()) lost += n;
  const digest = createHash('sha256').update([...actual].sort().join('\n')).digest('hex').slice(0, 16);
  return { lost, extra, digest };
}
