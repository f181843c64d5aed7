import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mapLimit } from '../lambdas/core/concurrency';
import type { TableSettings } from '../lambdas/core/settings';
import { DEFAULT_MAX_BIN_OBJECTS } from '../lambdas/core/bin-budget';

/** A small deterministic PRNG (mulberry32), so a seed always gives the same landing zone. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SensorZoneOptions {
  readonly prefix: string;
  /** Partition hours as `YYYY-MM-DD/HH`. */
  readonly hours: readonly string[];
  readonly filesPerHour: number;
  readonly rowsPerFile: number;
  readonly seed: number;
}

export interface GeneratedFile {
  readonly key: string;
  readonly body: string;
}

/** Sensor readings as a Firehose or IoT rule would drop them: one small JSON Lines object per flush. */
export function sensorFiles(o: SensorZoneOptions): GeneratedFile[] {
  const random = rng(o.seed);
  const files: GeneratedFile[] = [];
  let seq = 0;
  for (const hour of o.hours) {
    const [dt, hh] = hour.split('/');
    const base = Date.parse(`${dt}T${hh}:00:00.000Z`);
    for (let f = 0; f < o.filesPerHour; f++) {
      const lines: string[] = [];
      for (let r = 0; r < o.rowsPerFile; r++) {
        lines.push(
          JSON.stringify({
            device_id: `sensor-${String(Math.floor(random() * 500)).padStart(4, '0')}`,
            ts: new Date(base + Math.floor(random() * 3_600_000)).toISOString(),
            temperature: Math.round((15 + random() * 20) * 100) / 100,
            humidity: Math.round(random() * 10000) / 100,
            battery: Math.floor(random() * 101),
            seq: seq++,
          }),
        );
      }
      const name = `reading-${String(f).padStart(6, '0')}-${Math.floor(random() * 1e9).toString(36)}.json`;
      files.push({ key: `${o.prefix}dt=${dt}/hour=${hh}/${name}`, body: lines.join('\n') + '\n' });
    }
  }
  return files;
}

export async function putFiles(
  client: S3Client,
  bucket: string,
  files: readonly GeneratedFile[],
  concurrency = 32,
  onProgress?: (done: number) => void,
): Promise<void> {
  let done = 0;
  await mapLimit(files, concurrency, async (f) => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: f.key, Body: Buffer.from(f.body) }));
    if (++done % 1000 === 0) onProgress?.(done);
  });
}

/** The generated sensors table on the local buckets, as the tests and the benchmark use it. */
export const SENSORS_SETTINGS: TableSettings = {
  table: 'sensors',
  landingBucket: 'landing',
  landingPrefix: 'sensors/',
  goldBucket: 'gold',
  goldPrefix: 'sensors/',
  partitionKeys: ['dt', 'hour'],
  layout: 'hive',
  targetFileMb: 512,
  minInputFiles: 5,
  maxBinsPerRun: 1000,
  maxBinObjects: DEFAULT_MAX_BIN_OBJECTS,
  graceDays: 3,
  quietPeriodMinutes: 60,
};
