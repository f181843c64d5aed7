/**
 * The race harness: the pipeline on the in-memory S3 with actors that act in the middle of its
 * steps (a producer writing, rewriting and deleting landing keys; CLI runs and workflow
 * executions racing for the table), and a check that trusts none of the pipeline's own records:
 * it counts every record the producer ever wrote and is still entitled to exist (from the
 * producer's log and what readers of the catalog were shown), and every delete and overwrite
 * the store saw.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { LocalCatalog } from '../../lambdas/adapters/local-catalog';
import { LocalProcesses } from '../../lambdas/adapters/local-processes';
import type { RunRequest } from '../../lambdas/core/contracts';
import { CatalogError } from '../../lambdas/core/errors';
import { manifestsPrefix, pendingKey, pendingPrefix, retiredManifestKey, statePrefix } from '../../lambdas/core/keys';
import { cliHolder } from '../../lambdas/core/lease';
import type { CatalogPartition } from '../../lambdas/core/ports';
import type { PartitionState } from '../../lambdas/core/state';
import { retireCompacted } from '../../lambdas/use-cases/lifecycle';
import { rng } from '../../local/generate';
import { MemoryStore } from '../../local/memory-store';
import { localPipeline, type LocalPipeline } from '../../local/pipeline';
import { LocalExecutions } from '../../local/workflow';
import { runLocally, underLease, type LocalRunDeps } from '../../bin/local-run';
import { HookedStore, Script, type StoreCall } from './hooked-store';
import { DAY, ManualClock } from './pipeline';
import { canonicalSensorRow } from './rows';

export const GRACE_MS = 3 * DAY;
export const HOST = 'race-host';
const LANDING = 'sensors/';
const GOLD = 'sensors/';
const MANIFESTS = manifestsPrefix('sensors');

// ---------------------------------------------------------------------------------------------
// Reading Parquet as a reader would, with one DuckDB instance for the whole tier.

let db: Promise<{ instance: DuckDBInstance; c: DuckDBConnection; dir: string }> | undefined;
let fileNo = 0;

async function reader() {
  db ??= (async () => {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const c = await instance.connect();
    await c.run(`SET TimeZone = 'UTC'`);
    return { instance, c, dir: await mkdtemp(join(tmpdir(), 'race-read-')) };
  })();
  return db;
}

export async function closeReader(): Promise<void> {
  if (!db) return;
  const { instance, c, dir } = await db;
  c.closeSync();
  instance.closeSync();
  await rm(dir, { recursive: true, force: true });
  db = undefined;
}

/** Canonical rows of Parquet files given as bytes. */
async function parquetRows(bodies: readonly Buffer[]): Promise<string[]> {
  if (!bodies.length) return [];
  const { c, dir } = await reader();
  const paths: string[] = [];
  for (const b of bodies) {
    const p = join(dir, `f${fileNo++}.parquet`);
    await writeFile(p, b);
    paths.push(`'${p}'`);
  }
  try {
    const r = await c.runAndReadAll(`SELECT device_id, epoch_us(ts) AS ts_us, temperature, humidity, battery, seq FROM read_parquet([${paths.join(',')}])`);
    return r.getRowObjectsJson().map((row) => canonicalSensorRow(row as Record<string, unknown>));
  } finally {
    await Promise.all(paths.map((p) => rm(p.slice(1, -1), { force: true })));
  }
}

// ---------------------------------------------------------------------------------------------
// The producer: every write it makes, with the records in it.

export interface ProducerWrite {
  readonly key: string;
  readonly etag: string;
  readonly rows: readonly string[];
  /** Kafka Connect objects: records are identified by topic-partition and offset. */
  readonly kafka?: { readonly tp: string; readonly start: number };
}

type Reading = { device_id: string; ts: string; temperature: number; humidity: number; battery: number; seq: number };

const rowOf = (r: Reading) => canonicalSensorRow({ ...r, ts_us: BigInt(Date.parse(r.ts)) * 1000n });

export class Producer {
  readonly writes: ProducerWrite[] = [];
  /** Keys the producer deleted, with how many writes had happened by then. */
  readonly deletes: Array<{ key: string; afterWrites: number }> = [];
  private seq = 0;
  private readonly random: () => number;
  private readonly kafkaRecords = new Map<number, Reading>();

  constructor(private readonly store: MemoryStore, seed: number) {
    this.random = rng(seed);
  }

  private record(hour: string): Reading {
    const r = this.random;
    return {
      device_id: `sensor-${String(Math.floor(r() * 500)).padStart(4, '0')}`,
      ts: new Date(Date.parse(`2024-12-19T${hour}:00:00.000Z`) + Math.floor(r() * 3_600_000)).toISOString(),
      temperature: Math.round((15 + r() * 20) * 100) / 100,
      humidity: Math.round(r() * 10000) / 100,
      battery: Math.floor(r() * 101),
      seq: this.seq++,
    };
  }

  private put(key: string, records: Reading[], kafka?: ProducerWrite['kafka'], reversed = false): string {
    const body = records.map((rec) => JSON.stringify(reversed ? Object.fromEntries(Object.entries(rec).reverse()) : rec)).join('\n') + '\n';
    const etag = this.store.putObject('landing', key, body);
    this.writes.push({ key, etag, rows: records.map(rowOf), ...(kafka ? { kafka } : {}) });
    return key;
  }

  /** A new JSON Lines object of 4 fresh records. */
  plain(name: string, hour = '14'): string {
    return this.put(`${LANDING}dt=2024-12-19/hour=${hour}/${name}.json`, Array.from({ length: 4 }, () => this.record(hour)));
  }

  /** A Kafka Connect object holding offsets start..start+3 of readings+0; an offset's record never changes. */
  kafka(start: number, hour = '14'): string {
    const records = Array.from({ length: 4 }, (_, i) => {
      if (!this.kafkaRecords.has(start + i)) this.kafkaRecords.set(start + i, this.record(hour));
      return this.kafkaRecords.get(start + i)!;
    });
    return this.put(`${LANDING}dt=2024-12-19/hour=${hour}/readings+0+${String(start).padStart(10, '0')}.json`, records, { tp: 'readings+0', start });
  }

  /** The same key with new records. */
  rewriteDifferent(key: string): void {
    this.put(key, Array.from({ length: 4 }, () => this.record(key.match(/hour=(\d+)/)![1])));
  }

  /** The same key with the same records in new bytes (a Kafka Connect redelivery). */
  rewriteSame(key: string): void {
    const last = [...this.writes].reverse().find((w) => w.key === key)!;
    const start = last.kafka?.start;
    const records = start === undefined ? undefined : Array.from({ length: 4 }, (_, i) => this.kafkaRecords.get(start + i)!);
    if (!records) throw new Error(`${key} is not a Kafka object: same-record rewrites are Kafka redeliveries here`);
    this.put(key, records, last.kafka, true);
  }

  delete(key: string): void {
    this.store.deleteObject('landing', key);
    this.deletes.push({ key, afterWrites: this.writes.length });
  }

  /** The write each key holds now (none for a key the producer deleted since). */
  finalWrites(): ProducerWrite[] {
    const last = new Map<string, number>();
    this.writes.forEach((w, i) => last.set(w.key, i));
    for (const d of this.deletes) if (last.get(d.key)! < d.afterWrites) last.delete(d.key);
    return [...last.values()].map((i) => this.writes[i]);
  }
}

// ---------------------------------------------------------------------------------------------
// The catalog as readers see it: every entry it was given, when, and the rows there at that moment.

interface CatalogEvent {
  readonly at: number;
  readonly partition: string;
  readonly location: string;
}

export class HarnessCatalog extends LocalCatalog {
  /** While set, every update fails as Glue would under an outage. */
  failing = false;
  readonly history: CatalogEvent[] = [];
  readonly rowsAt = new Map<string, string[]>();

  constructor(private readonly world: { clock: ManualClock; store: MemoryStore }) {
    super();
  }

  async putPartitions(partitions: readonly CatalogPartition[]): Promise<{ created: number; updated: number }> {
    if (this.failing) throw new CatalogError('Glue answered InternalServiceException for BatchUpdatePartition');
    const out = await super.putPartitions(partitions);
    for (const p of partitions) {
      this.history.push({ at: this.world.clock.t, partition: JSON.stringify(p.values), location: p.location });
      if (!this.rowsAt.has(p.location)) this.rowsAt.set(p.location, await rowsUnder(this.world.store, p.location));
    }
    return out;
  }
}

async function rowsUnder(store: MemoryStore, location: string): Promise<string[]> {
  const prefix = location.replace('s3://gold/', '');
  return parquetRows(store.keys('gold', prefix).filter((k) => k.endsWith('.parquet')).map((k) => store.object('gold', k)!.body));
}

// ---------------------------------------------------------------------------------------------
// A world: one table, its store, clock, catalog, producer, and the runs acting on it.

export interface Figures {
  lost: number;
  duplicated: number;
  deletedEarly: number;
  overwritten: number;
}

const partitionOfKey = (key: string) => {
  const m = /dt=([^/]+)\/hour=([^/]+)\//.exec(key)!;
  return JSON.stringify([m[1], m[2]]);
};
const dirOf = (key: string) => key.slice(0, key.lastIndexOf('/') + 1);

export class World {
  readonly clock = new ManualClock();
  readonly store = new MemoryStore(['landing', 'gold'], this.clock);
  readonly script = new Script();
  readonly catalog = new HarnessCatalog(this);
  readonly executions = new LocalExecutions();
  readonly producer: Producer;
  /** Pids of the CLI processes still alive on HOST. */
  readonly alive = new Set<number>();
  private nextPid = 1000;
  private pipelines = new Map<string, LocalPipeline>();

  private constructor(seed: number, readonly scratch: string) {
    this.producer = new Producer(this.store, seed);
  }

  static async create(seed: number): Promise<World> {
    return new World(seed, await mkdtemp(join(tmpdir(), 'race-')));
  }

  async dispose(): Promise<void> {
    this.script.clear();
    await rm(this.scratch, { recursive: true, force: true });
  }

  storeOf(actor: string): HookedStore {
    return new HookedStore(this.store, this.script, actor);
  }

  /** The deployed workflow, its store seen as `actor`. */
  workflow(actor: string): LocalPipeline {
    let p = this.pipelines.get(actor);
    if (!p) {
      p = localPipeline({ store: this.storeOf(actor), catalog: this.catalog, clock: this.clock, executions: this.executions, scratchDir: join(this.scratch, actor) });
      this.pipelines.set(actor, p);
    }
    return p;
  }

  async execute(actor: string, executionName = actor, input: unknown = { table: 'sensors' }, onStart?: (abort: () => void) => void) {
    return this.workflow(actor).execute(input, executionName, undefined, onStart);
  }

  /** A CLI process: on HOST (its pid alive until killed), or on another host (nobody here can ask). */
  cli(actor: string, host = HOST) {
    const pid = this.nextPid++;
    if (host === HOST) this.alive.add(pid);
    const wf = this.workflow('template');
    const deps: LocalRunDeps = {
      store: this.storeOf(actor),
      catalog: this.catalog,
      settings: wf.settings,
      engine: { ...wf.engine, scratchDir: join(this.scratch, actor) },
      clock: this.clock,
      executions: this.executions,
      processes: new LocalProcesses(HOST, (p) => this.alive.has(p)),
      holder: cliHolder({ host, pid, startedAt: this.clock.t }),
      renewEveryMs: 0,
    };
    return {
      holder: deps.holder,
      kill: () => this.alive.delete(pid),
      run: (request: RunRequest = { table: 'sensors' }) => runLocally(deps, request),
      retire: () => underLease(deps, () => retireCompacted({ store: deps.store, catalog: this.catalog, settings: deps.settings, clock: this.clock })),
    };
  }

  /** Pauses the first matching call of `actor` until `action` is done (never, for a process killed there). */
  at(actor: string, point: PausePoint, action: (call: StoreCall) => Promise<void> | void): void {
    this.script.on({ ...POINTS[point], match: (c) => c.actor === actor && POINTS[point].match(c), action });
  }

  /** Starts a CLI run and kills its process at `point`; resolves once it is dead there, its lease left behind. */
  async killedCliRun(point: PausePoint, host = HOST): Promise<void> {
    const dead = this.cli('killed', host);
    let reached!: () => void;
    const there = new Promise<void>((r) => (reached = r));
    this.at('killed', point, () => {
      dead.kill();
      reached();
      return killed();
    });
    void dead.run();
    await there;
  }

  /** Runs until nothing is left to compact, as later scheduled runs would. */
  async drain(): Promise<void> {
    this.script.clear();
    for (let i = 0; i < 4; i++) {
      this.clock.advance(10 * 60_000);
      const out = await this.cli(`drain-${this.nextPid}`).run();
      if (!out.plan.output.bins && !out.swap?.catalogUpdated) return;
    }
  }

  /** Past the grace, retire; take what was kept; past the grace again, retire again. */
  async settle(): Promise<void> {
    await this.drain();
    for (let i = 0; i < 2; i++) {
      this.clock.advance(GRACE_MS + DAY);
      await this.cli(`retire-${this.nextPid}`).retire();
      await this.drain();
    }
  }

  /** The independent check: what readers see now against what the producer is entitled to. */
  async check(): Promise<Figures & { detail: string[] }> {
    const detail: string[] = [];
    const finalRows: string[] = [];
    for (const e of await this.catalog.all()) finalRows.push(...(await rowsUnder(this.store, e.location)));
    const observed = new Set([...finalRows, ...[...this.catalog.rowsAt.values()].flat()]);

    // Entitled: what each key holds now, and every write readers were ever shown (all of it).
    const finals = new Set(this.producer.finalWrites());
    const entitled = this.producer.writes.filter((w) => finals.has(w) || w.rows.some((r) => observed.has(r)));
    const expected = new Map<string, number>();
    const offsets = new Map<string, string>();
    for (const w of entitled) {
      if (w.kafka) w.rows.forEach((r, i) => offsets.set(`${w.kafka!.tp}@${w.kafka!.start + i}`, r));
      else for (const r of w.rows) expected.set(r, (expected.get(r) ?? 0) + 1);
    }
    for (const r of offsets.values()) expected.set(r, (expected.get(r) ?? 0) + 1);
    const actual = new Map<string, number>();
    for (const r of finalRows) actual.set(r, (actual.get(r) ?? 0) + 1);
    let lost = 0;
    let duplicated = 0;
    for (const r of new Set([...expected.keys(), ...actual.keys()])) {
      const d = (actual.get(r) ?? 0) - (expected.get(r) ?? 0);
      if (d < 0) lost -= d;
      if (d > 0) duplicated += d;
    }
    if (lost || duplicated) detail.push(`rows: ${lost} lost, ${duplicated} duplicated`);

    // Deletes: a landing object only once readers saw all its records for the whole grace; a gold
    // file only once no reader was shown its version within the grace; nothing else, ever.
    let deletedEarly = 0;
    const history = (partition: string) => this.catalog.history.filter((h) => h.partition === partition);
    for (const e of this.store.events.filter((ev) => ev.op === 'delete' && ev.via === 'deleteKeys')) {
      // Pending index entries are bookkeeping; that none was lost while work was pending is checked below.
      if (e.bucket === 'gold' && e.key.startsWith(pendingPrefix('sensors'))) continue;
      const t = Date.parse(e.at);
      const h = history(partitionOfKey(e.key));
      const inEffect = (x: number) => [...h].reverse().find((ev) => ev.at <= x);
      if (e.bucket === 'landing' && e.key.startsWith(LANDING)) {
        const w = this.producer.writes.find((x) => x.key === e.key && x.etag === e.etag);
        const shown = [inEffect(t - GRACE_MS), ...h.filter((ev) => ev.at > t - GRACE_MS && ev.at <= t)];
        const ok = w && shown.every((ev) => ev && w.rows.every((r) => this.catalog.rowsAt.get(ev.location)!.includes(r)));
        if (!ok) {
          deletedEarly++;
          detail.push(`landing ${e.key} (${e.etag}) deleted at ${e.at} before its records were shown for the grace`);
        }
      } else if (e.bucket === 'gold' && e.key.startsWith(GOLD) && !e.key.startsWith('_')) {
        const location = `s3://gold/${dirOf(e.key)}`;
        const shownWithin = h.some((ev, i) => ev.location === location && (h[i + 1]?.at ?? Infinity) > t - GRACE_MS);
        if (shownWithin) {
          deletedEarly++;
          detail.push(`gold ${e.key} deleted at ${e.at} while readers may still read its version`);
        }
      } else if (e.bucket === 'gold' && e.key.startsWith(MANIFESTS)) {
        // A retired version's manifest moves: deleted only once the same bytes sit at its retired
        // key (written before the delete) and no reader may still read its version.
        const version = `s3://gold/${GOLD}${dirOf(e.key.slice(MANIFESTS.length))}`;
        const moved = this.store.events.some((x) => x.op === 'put' && x.seq < e.seq && x.key === retiredManifestKey('sensors', e.key) && x.etag === e.etag);
        const shownWithin = h.some((ev, i) => ev.location === version && (h[i + 1]?.at ?? Infinity) > t - GRACE_MS);
        if (!moved || shownWithin) {
          deletedEarly++;
          detail.push(`manifest ${e.key} deleted at ${e.at}${moved ? ' while readers may still read its version' : ' without a copy at its retired key'}`);
        }
      } else {
        deletedEarly++;
        detail.push(`s3://${e.bucket}/${e.key} deleted: outside the table data`);
      }
    }

    // The pending index: every partition with work left (sources or versions still to retire, a
    // catalog entry not verified) has its entry, whatever crashed or raced.
    for (const key of this.store.keys('gold', statePrefix('sensors')).filter((k) => k.endsWith('/state.json'))) {
      const st = (await this.store.getJson<PartitionState>('gold', key))!;
      const left = !st.verifiedAt || st.sources.length > 0 || st.superseded.length > 0;
      if (left && !this.store.object('gold', pendingKey('sensors', st.partition))) detail.push(`${st.partition} has work pending and no index entry`);
    }

    // Committed bytes: table data and manifests are written once.
    const overwrites = this.store.events.filter(
      (e) => e.op === 'put' && e.bucket === 'gold' && (e.key.startsWith(GOLD) || e.key.startsWith(manifestsPrefix('sensors'))) && e.replaced && e.replaced !== e.etag,
    );
    for (const e of overwrites) detail.push(`s3://gold/${e.key} overwritten at ${e.at}`);
    return { lost, duplicated, deletedEarly, overwritten: overwrites.length, detail };
  }
}

// ---------------------------------------------------------------------------------------------
// Where a run can be paused: the first call of a step that matches.

export type PausePoint =
  | 'plan: after listing landing'
  | 'compact: after fetching an input'
  | 'compact: before uploading the output'
  | 'compact: before writing the manifest'
  | 'swap: before the state commit'
  | 'swap: after the state commit, before the catalog'
  | 'retire: before deleting sources'
  | 'retire: after deleting, before the state update';

const POINTS: Record<PausePoint, { when: 'before' | 'after'; match: (c: StoreCall) => boolean }> = {
  'plan: after listing landing': { when: 'after', match: (c) => c.op === 'list' && c.bucket === 'landing' },
  'compact: after fetching an input': { when: 'after', match: (c) => c.op === 'getStream' && c.bucket === 'landing' },
  'compact: before uploading the output': { when: 'before', match: (c) => c.op === 'uploadFile' && c.key.endsWith('.parquet') },
  'compact: before writing the manifest': { when: 'before', match: (c) => c.op === 'putJsonIf' && c.key.includes('/manifests/') },
  'swap: before the state commit': { when: 'before', match: (c) => c.op === 'putJsonIf' && c.key.endsWith('/state.json') },
  'swap: after the state commit, before the catalog': { when: 'after', match: (c) => c.op === 'putJsonIf' && c.key.endsWith('/state.json') },
  'retire: before deleting sources': { when: 'before', match: (c) => c.op === 'deleteKeys' && c.bucket === 'landing' },
  'retire: after deleting, before the state update': { when: 'before', match: (c) => c.op === 'putJsonIf' && c.key.endsWith('/state.json') },
};

export const PAUSE_POINTS = Object.keys(POINTS) as PausePoint[];

/** A promise that never settles: the process was killed there. */
const killed = () => new Promise<void>(() => undefined);
