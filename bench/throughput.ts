/**
 * THROUGHPUT: one bin from the loopback S3 server, each stage against its floor in the same runs
 * (medians of --runs, the two sides alternating which goes first):
 *   fetch   fetchInputs                vs a bare SDK GetObject loop at the same concurrency; prints
 *           `fetch CPU per object: ours <us> us, bare SDK loop <us> us, ratio <r>` (ratio = bare / ours)
 *   engine  compactToParquet on staged vs a bare DuckDB COPY over the same objects, one local file each
 *   e2e     compactBin                 vs fetch floor + engine floor
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { compactToParquet } from '../lambdas/adapters/duckdb-engine';
import { sqlString } from '../lambdas/adapters/duckdb-sql';
import { duckdbStepDeps } from '../lambdas/adapters/duckdb-parquet-engine';
import { fetchInputs, type StagedInputs } from '../lambdas/adapters/fetch-inputs';
import type { S3ObjectStore } from '../lambdas/adapters/s3';
import type { BinItem, BinManifest, BinSpec } from '../lambdas/core/contracts';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from '../lambdas/core/settings';
import { compactBin } from '../lambdas/use-cases/compact-bin';
import { mapLimit } from '../lambdas/core/concurrency';
import { table } from '../local/report';
import {
  engineOptions, fmtInt, load, log, MB, median, passFail, secs, SETTINGS, sum, TARGET_RATIO, timed,
  type BenchOptions, type S3Process, type Timed,
} from './common';

const rowsIn = (body: string) => body.split('\n').filter((l) => l.trim() !== '').length;

/** The engine floor: a bare COPY, the fastest correct way DuckDB turns these files into Parquet. */
async function duckdbCopyFloor(glob: string, out: string, e: EngineSettings, unionByName: boolean): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(e.threads),
    memory_limit: `${e.memoryLimitMb}MB`,
    preserve_insertion_order: 'false',
  });
  const c = await instance.connect();
  try {
    const r = await c.runAndReadAll(
      `COPY (SELECT * FROM read_json(${sqlString(glob)}, format='newline_delimited', hive_partitioning=false` +
        `${unionByName ? ', union_by_name=true' : ''})) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION ${e.compression})`,
    );
    return Number(r.getRows()[0][0]);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

interface Samples {
  ms: number[];
  cpuMs: number[];
}
const samples = (): Samples => ({ ms: [], cpuMs: [] });
const add = (s: Samples, t: Timed<unknown>) => {
  s.ms.push(t.ms);
  s.cpuMs.push(t.cpuMs);
};

export async function throughput(o: BenchOptions, s3: S3Process, store: S3ObjectStore, root: string, item: BinItem, spec: BinSpec, bodies: Map<string, string>) {
  const engine: EngineSettings = { ...DEFAULT_ENGINE_SETTINGS, fetchConcurrency: o.concurrency, scratchDir: join(root, 'work') };
  const rows = sum(spec.files.map((f) => rowsIn(bodies.get(f.key)!)));
  const bytes = sum(spec.files.map((f) => f.size));

  // The same objects on local disk, one file per object, for the engine floor.
  const localDir = join(root, 'local-objects');
  await mkdir(localDir, { recursive: true });
  await mapLimit(spec.files, 64, (f, i) => writeFile(join(localDir, `obj-${String(i).padStart(6, '0')}.json`), bodies.get(f.key)!));
  const glob = join(localDir, '*.json');
  log(`bin ${item.binId} (${item.partition}): ${fmtInt(spec.files.length)} objects, ${fmtInt(rows)} rows, ${(bytes / MB).toFixed(1)} MB; the same objects written to local disk for the engine floor`);

  const fetchFloor = samples();
  const fetchOurs = samples();
  const engineFloor = samples();
  const engineUnion = samples();
  const engineOurs = samples();
  const e2e = samples();
  const breakdown: BinManifest['timings'][] = [];
  let staged: StagedInputs | undefined;

  const bareGets = (files: BinSpec['files']) =>
    mapLimit(files, o.concurrency, async (f) => {
      const r = await s3.client.send(new GetObjectCommand({ Bucket: SETTINGS.landingBucket, Key: f.key }));
      return (await r.Body!.transformToByteArray()).length;
    });
  // The server's GET path is cold after seeding (its first GETs are measurably slower).
  const warm = await timed(() => bareGets(spec.files.slice(0, 1000)));
  log(`warm-up: ${fmtInt(Math.min(1000, spec.files.length))} GETs in ${secs(warm.ms)} s`);

  for (let run = 1; run <= o.runs; run++) {
    const runFloor = async () => {
      const ff = await timed(() => bareGets(spec.files));
      if (sum(ff.value) !== bytes) throw new Error(`fetch floor read ${sum(ff.value)} bytes, expected ${bytes}`);
      return ff;
    };
    const runOurs = async () => {
      const stageDir = join(root, `staged-${run}`);
      const fo = await timed(() => fetchInputs(store, { landing: SETTINGS.landingBucket, gold: SETTINGS.goldBucket }, spec.files, stageDir, { concurrency: o.concurrency }));
      const counted = sum([...fo.value.jsonRows.values()]);
      if (counted !== rows) throw new Error(`fetchInputs counted ${counted} rows, expected ${rows}`);
      if (staged) await rm(stageDir, { recursive: true, force: true });
      else staged = fo.value;
      return fo;
    };
    // Alternating order, so neither side always meets a colder server.
    const floorFirst = run % 2 === 1;
    const first = floorFirst ? await runFloor() : await runOurs();
    const second = floorFirst ? await runOurs() : await runFloor();
    const ff = floorFirst ? first : second;
    const fo = floorFirst ? second : first;
    add(fetchFloor, ff);
    add(fetchOurs, fo);

    // Engine floor over the local files (and the union_by_name reference), then ours on the staged inputs.
    const ef = await timed(() => duckdbCopyFloor(glob, join(root, 'floor.parquet'), engine, false));
    if (ef.value !== rows) throw new Error(`bare COPY wrote ${ef.value} rows, expected ${rows}`);
    add(engineFloor, ef);
    const eu = await timed(() => duckdbCopyFloor(glob, join(root, 'floor-union.parquet'), engine, true));
    if (eu.value !== rows) throw new Error(`bare COPY (union_by_name) wrote ${eu.value} rows, expected ${rows}`);
    add(engineUnion, eu);
    const workDir = join(root, `engine-${run}`);
    const eo = await timed(() => compactToParquet(staged!, workDir, join(workDir, 'out.parquet'), engineOptions(engine)));
    if (eo.value.outputRows !== rows || eo.value.inputChecksum !== eo.value.outputChecksum) throw new Error('engine output does not verify');
    add(engineOurs, eo);
    await rm(workDir, { recursive: true, force: true });

    // End to end: a verified manifest would be reused, so drop the previous run's output first.
    await s3.client.send(new DeleteObjectCommand({ Bucket: SETTINGS.goldBucket, Key: spec.manifestKey }));
    await s3.client.send(new DeleteObjectCommand({ Bucket: SETTINGS.goldBucket, Key: spec.outputKey }));
    const ee = await timed(() => compactBin({ store, settings: SETTINGS, engine, ...duckdbStepDeps(engine.scratchDir) }, item));
    if (ee.value.outputRows !== rows) throw new Error(`compactBin wrote ${ee.value.outputRows} rows, expected ${rows}`);
    add(e2e, ee);
    breakdown.push((await store.getJson<BinManifest>(SETTINGS.goldBucket, spec.manifestKey))!.timings);

    log(
      `run ${run}/${o.runs} (load ${load()}): fetch floor ${secs(ff.ms)} s, ours ${secs(fo.ms)} s; engine floor ${secs(ef.ms)} s ` +
        `(union_by_name ${secs(eu.ms)} s), ours ${secs(eo.ms)} s; end to end ${secs(ee.ms)} s`,
    );
  }

  const row = (stage: string, ours: Samples, floorMs: number, floorCpuMs: number) => {
    const oursMs = median(ours.ms);
    const ratio = floorMs / oursMs;
    return [
      stage, secs(oursMs), secs(floorMs), ratio.toFixed(2), fmtInt((rows * 1000) / oursMs), fmtInt((rows * 1000) / floorMs),
      passFail(ratio >= TARGET_RATIO), secs(median(ours.cpuMs)), secs(floorCpuMs),
    ];
  };
  const ffMs = median(fetchFloor.ms);
  const efMs = median(engineFloor.ms);
  console.log();
  console.log(
    `Throughput: one bin of ${fmtInt(spec.files.length)} objects / ${fmtInt(rows)} rows / ${(bytes / MB).toFixed(1)} MB, median of ${o.runs} run(s); ` +
      `fetch concurrency ${o.concurrency}, DuckDB threads ${engine.threads}, memory_limit ${engine.memoryLimitMb} MB`,
  );
  console.log(
    table(
      ['stage', 'ours (s)', 'floor (s)', 'ratio', 'ours rows/s', 'floor rows/s', `>= ${TARGET_RATIO}`, 'ours CPU (s)', 'floor CPU (s)'],
      [
        row('fetch: fetchInputs vs bare GET loop', fetchOurs, ffMs, median(fetchFloor.cpuMs)),
        row('engine: compactToParquet vs bare COPY', engineOurs, efMs, median(engineFloor.cpuMs)),
        row('end to end: compactBin vs fetch + engine floors', e2e, ffMs + efMs, median(fetchFloor.cpuMs) + median(engineFloor.cpuMs)),
      ],
    ),
  );
  console.log('ratio = floor time / our time (1.0 = as fast as the floor). CPU = this process only (s3rver runs in its own process).');
  // Both sides in the same runs, on the same objects; CPU of this process, all threads (s3rver runs in its own).
  const oursUs = (median(fetchOurs.cpuMs) * 1000) / spec.files.length;
  const bareUs = (median(fetchFloor.cpuMs) * 1000) / spec.files.length;
  console.log(`fetch CPU per object: ours ${oursUs.toFixed(0)} us, bare SDK loop ${bareUs.toFixed(0)} us, ratio ${(bareUs / oursUs).toFixed(2)}`);
  const union = median(engineUnion.ms);
  console.log(
    `reference: bare COPY with union_by_name=true (what a bare COPY needs when objects may differ in columns): ` +
      `${secs(union)} s, ${fmtInt((rows * 1000) / union)} rows/s; floor/ours = ${(union / median(engineOurs.ms)).toFixed(2)}`,
  );
  const b = { fetch: median(breakdown.map((x) => x.fetchMs)), engine: median(breakdown.map((x) => x.engineMs)), upload: median(breakdown.map((x) => x.uploadMs)) };
  console.log(
    `end to end, from the manifests (medians): fetch ${secs(b.fetch)} s + engine ${secs(b.engine)} s + verify/upload ${secs(b.upload)} s ` +
      `+ spec/manifest I/O ${secs(median(e2e.ms) - b.fetch - b.engine - b.upload)} s (the floors have no upload)`,
  );
}
