/**
 * Child process of the benchmark's planner section: the plan step (planRun) over a listing of N
 * generated objects in P hourly partitions, against a store that makes the listing as it is read
 * (the listing is never in memory at once, as S3's pages are not) and counts what is written.
 * Prints one JSON line: wall and CPU seconds, peak RSS, bins, bytes written. The store's own
 * cost (making keys, serializing specs as the S3 adapter would) is inside the figures.
 *
 *   node --import tsx bench/planner-worker.ts <objects> <partitions>
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ListedObject } from '../lambdas/core/partitions';
import type { DeleteOutcome, ObjectRef, ObjectStore } from '../lambdas/core/ports';
import { planRun } from '../lambdas/use-cases/plan-run';
import { SENSORS_SETTINGS } from '../local/generate';

export interface PlannerResult {
  readonly objects: number;
  readonly partitions: number;
  readonly bins: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly peakRssMb: number;
  readonly writtenMb: number;
}

/** S3's LastModified has one-second resolution: an hour of objects shares 3,600 values. */
const STAMPS = Array.from({ length: 3600 }, (_, i) => new Date(Date.parse('2024-12-19T15:00:00Z') + i * 1000).toISOString());

/**
 * A landing zone of `objects` sensor files over `partitions` hours, in key order as S3 lists it.
 * Names and ETags come from pools and keys are joined, not formatted, so making the listing costs
 * little next to reading it (the SDK's own cost of a real listing is not what is measured here).
 */
function* landing(prefix: string, objects: number, partitions: number): Generator<ListedObject> {
  const per = Math.ceil(objects / partitions);
  const names = Array.from({ length: per }, (_, i) => `reading-${String(i).padStart(7, '0')}-${((i * 2654435761) >>> 0).toString(36)}.json`);
  const etags = Array.from({ length: 4096 }, (_, i) => `"${((i * 2654435761) >>> 0).toString(16).padStart(32, '7')}"`);
  for (let p = 0, n = 0; p < partitions; p++) {
    const day = new Date(Date.parse('2024-01-01T00:00:00Z') + Math.floor(p / 24) * 86_400_000).toISOString().slice(0, 10);
    const dir = `${prefix}dt=${day}/hour=${String(p % 24).padStart(2, '0')}/`;
    for (let i = 0; i < per && n < objects; i++, n++) {
      yield { key: dir + names[i], size: 230 + (n % 41), etag: etags[n % 4096], lastModified: STAMPS[n % 3600] };
    }
  }
}

class SyntheticStore implements ObjectStore {
  written = 0;
  constructor(private readonly objects: number, private readonly partitions: number) {}
  async *list(_bucket: string, prefix: string): AsyncIterable<ListedObject> {
    for (const o of landing(SENSORS_SETTINGS.landingPrefix, this.objects, this.partitions)) if (o.key.startsWith(prefix)) yield o;
  }
  async putJson(_bucket: string, _key: string, value: unknown): Promise<void> {
    this.written += Buffer.byteLength(JSON.stringify(value));
  }
  async getJson<T>(): Promise<T | undefined> {
    return undefined;
  }
  async getStream(): Promise<Readable> {
    throw new Error('not used by the plan step');
  }
  async uploadFile(): Promise<{ bytes: number; etag: string }> {
    throw new Error('not used by the plan step');
  }
  async head() {
    return undefined;
  }
  async getJsonVersioned<T>(): Promise<{ value: T; etag: string } | undefined> {
    return undefined;
  }
  async putText(_bucket: string, _key: string, body: string): Promise<void> {
    this.written += Buffer.byteLength(body);
  }
  async putJsonIf(): Promise<void> {}
  async copy(_from: ObjectRef, _to: ObjectRef): Promise<void> {}
  async deleteKeys(): Promise<DeleteOutcome> {
    return { changed: [], missing: [] };
  }
}

async function main(): Promise<void> {
  const [objects, partitions] = process.argv.slice(2).map(Number);
  const store = new SyntheticStore(objects, partitions);
  const cpu = process.cpuUsage();
  const t = performance.now();
  const { output } = await planRun(
    { store, settings: SENSORS_SETTINGS, clock: { now: () => new Date('2025-06-01T00:00:00Z') } },
    { table: SENSORS_SETTINGS.table },
  );
  const wallMs = performance.now() - t;
  const u = process.cpuUsage(cpu);
  const peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
  const result: PlannerResult = {
    objects: output.inputFiles,
    partitions: output.partitions,
    bins: output.bins,
    wallMs,
    cpuMs: (u.user + u.system) / 1000,
    peakRssMb,
    writtenMb: store.written / 1024 / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
