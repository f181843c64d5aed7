import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compactToParquet, parquetFooters, type EngineOptions, type EngineResult } from '../adapters/duckdb-engine';
import { badRecordReason, dropRecords, misfitReason, type RejectedRecord } from '../adapters/bad-records';
import { fetchInputs, originalLines, type StagedInputs } from '../adapters/fetch-inputs';
import type { BinItem, BinManifest, BinSpec, CompactOutput } from '../core/contracts';
import { InvalidInputError, VerificationError } from '../core/errors';
import { normalize, parseKafkaName, size, topicPartitionId, withoutOffsets, type Intervals, type KafkaOffsets } from '../core/kafka';
import { quarantinePrefix } from '../core/keys';
import type { ObjectStore } from '../core/ports';
import { numberFields, numberSpans, type NumberSpan } from '../core/json-numbers';
import { isDecimalType } from '../core/schema';
import type { EngineSettings, TableSettings } from '../core/settings';
import { kafkaDedupFor } from './kafka-dedup';

export interface CompactDeps {
  readonly store: ObjectStore;
  readonly settings: TableSettings;
  readonly engine: EngineSettings;
  readonly declaredTypes?: EngineOptions['declaredTypes'];
  /** Progress for people watching a local run; Lambda logs instead. */
  readonly onStage?: (stage: 'fetched' | 'written' | 'uploaded', binId: string) => void;
}

const outputOf = (m: BinManifest, item: Pick<BinItem, 'binId' | 'partition' | 'version'>, manifestKey: string): CompactOutput => ({
  binId: item.binId,
  partition: item.partition,
  version: item.version,
  outputKey: m.output.key,
  manifestKey,
  inputFiles: m.inputs.length,
  inputRows: m.inputs.reduce((s, i) => s + i.rows, 0),
  outputRows: m.output.rows,
  outputBytes: m.output.bytes,
  rejectedRecords: m.quarantine?.records ?? 0,
  rejectedObjects: m.quarantine?.objects ?? 0,
});

/** Rejected records as their objects hold them: staging may have quoted the numbers of some. */
async function asStored(deps: CompactDeps, spec: BinSpec, staged: StagedInputs, rejected: RejectedRecord[]): Promise<RejectedRecord[]> {
  const keys = new Set(rejected.filter((r) => r.bytes && r.line !== undefined && staged.rewritten.has(r.key)).map((r) => r.key));
  if (!keys.size) return rejected;
  const originals = new Map<string, Map<number, Buffer>>();
  for (const key of keys) {
    const src = spec.files.find((f) => f.key === key)!;
    const lines = new Set(rejected.filter((r) => r.key === key && r.bytes).map((r) => r.line!));
    originals.set(key, await originalLines(deps.store, deps.settings.landingBucket, src, lines, { maxDecompressedBytes: deps.engine.maxDecompressedMb * 1024 * 1024 }));
  }
  return rejected.map((r) => {
    const bytes = r.bytes && r.line !== undefined ? originals.get(r.key)?.get(r.line) : undefined;
    // The reason is read from the stored record too (parser errors name byte positions, and a
    // misfit's value is shown as the producer wrote it, not as staging quoted it).
    return bytes ? { ...r, bytes, reason: storedReason(r, bytes) } : r;
  });
}

function storedReason(r: RejectedRecord, stored: Buffer): string {
  if (r.wholeObject) return r.reason;
  if (r.misfit) {
    // A number as its digits (JSON.parse would round a wide one), anything else as JSON.
    const spans: NumberSpan[] = [];
    numberSpans(stored, 0, stored.length, numberFields([r.misfit.field]), spans);
    if (spans.length) return misfitReason(r.misfit.field, stored.toString('latin1', spans[0][0], spans[0][1]), r.misfit.type);
    try {
      return misfitReason(r.misfit.field, JSON.stringify((JSON.parse(stored.toString('utf8')) as Record<string, unknown>)[r.misfit.field]), r.misfit.type);
    } catch {
      return r.reason;
    }
  }
  return badRecordReason(stored) ?? r.reason;
}

/** The duplicates an input left out, as a count and as offsets. */
function droppedOf(key: string, records: Intervals): { duplicates: number; dropped: Intervals } {
  const start = parseKafkaName(key)!.startOffset;
  return { duplicates: size(records), dropped: records.map(([a, b]) => [start + a, start + b] as const) };
}

/** Offsets of Kafka records that went to quarantine (alone, or with their whole object) instead of into the output. */
function quarantinedOffsets(
  spec: BinSpec,
  rejected: readonly RejectedRecord[],
  setAside: StagedInputs['setAside'],
  records: ReadonlyMap<string, number>,
): KafkaOffsets {
  const names = new Map(spec.files.flatMap((f) => {
    const k = f.fromGold ? undefined : parseKafkaName(f.key);
    return k ? [[f.key, k] as const] : [];
  }));
  const out: Record<string, Array<[number, number]>> = {};
  for (const r of rejected) {
    const k = names.get(r.key);
    if (!k || r.record === undefined) continue;
    const at = k.startOffset + r.record;
    (out[topicPartitionId(k)] ??= []).push([at, at + 1]);
  }
  for (const x of setAside) {
    const k = names.get(x.key);
    if (k) (out[topicPartitionId(k)] ??= []).push([k.startOffset, k.startOffset + (records.get(x.key) ?? 0)]);
  }
  return Object.fromEntries(Object.entries(out).map(([tp, iv]) => [tp, normalize(iv)]));
}

/**
 * A handful of bad records is quarantined whatever the bin's size (a small bin, or a rerun taking
 * back a few offsets, must not get stuck on one record); past that, more than `maxPercent` of the
 * records read means the producer is broken: fail the bin rather than guess. 0 % fails on any.
 */
export const BAD_RECORDS_ALWAYS_QUARANTINED = 10;

function checkRejected(where: string, rejected: readonly RejectedRecord[], recordsRead: number, maxPercent: number): void {
  const unreadable = rejected.filter((r) => !r.wholeObject);
  const tolerated = maxPercent > 0 ? BAD_RECORDS_ALWAYS_QUARANTINED : 0;
  if (unreadable.length > tolerated && (unreadable.length * 100) / recordsRead > maxPercent) {
    const first = unreadable.slice(0, 3).map((r) => `${r.key} line ${r.line}: ${r.reason}`).join('; ');
    throw new InvalidInputError(
      `${where}: ${unreadable.length} of ${recordsRead} records cannot be read, over the ${maxPercent}% limit; nothing was written. First: ${first}`,
    );
  }
}

/** The written file holds exactly the rows the inputs hold: same count, same checksum. */
function verifyEngine(where: string, result: EngineResult, inputRows: number): void {
  if (result.stagedRows !== inputRows) {
    throw new VerificationError(`${where}: the engine read ${result.stagedRows} rows but the inputs hold ${inputRows}`);
  }
  if (result.outputRows !== inputRows || result.outputChecksum !== result.inputChecksum) {
    throw new VerificationError(
      `${where}: written file has ${result.outputRows} rows (checksum ${result.outputChecksum}), inputs ${inputRows} rows (checksum ${result.inputChecksum})`,
    );
  }
}

/**
 * Keeps what the output leaves out, outside any table location: the rejected records (their
 * stored bytes) and a copy of every object set aside whole or holding a record too large to keep
 * in memory, with a report naming file, line and reason. Once the version is committed their
 * sources may be retired: this is what remains of them.
 */
async function writeQuarantine(
  deps: CompactDeps,
  spec: BinSpec,
  recordsPath: string,
  rejected: readonly RejectedRecord[],
  setAside: StagedInputs['setAside'],
): Promise<BinManifest['quarantine']> {
  if (!rejected.length && !setAside.length) return undefined;
  const { store, settings: s } = deps;
  const prefix = quarantinePrefix(s.table, spec.partition, spec.binId);
  const landing = (key: string) => `s3://${s.landingBucket}/${key}`;
  const copies = new Map<string, string>();
  for (const key of [...setAside.map((x) => x.key), ...rejected.filter((r) => !r.bytes).map((r) => r.key)]) {
    if (copies.has(key)) continue;
    const to = `${prefix}objects/${copies.size}-${key.slice(key.lastIndexOf('/') + 1).slice(-200)}`;
    await store.copy({ bucket: s.landingBucket, key }, { bucket: s.goldBucket, key: to }, spec.files.find((f) => f.key === key)?.etag);
    copies.set(key, to);
  }
  const copyOf = (key: string) => (copies.has(key) ? { copy: `s3://${s.goldBucket}/${copies.get(key)}` } : {});
  const kept = rejected.flatMap((r) => (r.bytes ? [r.bytes, NEWLINE] : []));
  if (kept.length) {
    await writeFile(recordsPath, Buffer.concat(kept));
    await store.uploadFile(s.goldBucket, `${prefix}records.jsonl`, recordsPath, 'application/x-ndjson');
  }
  await store.putJson(s.goldBucket, `${prefix}report.json`, {
    table: s.table,
    partition: spec.partition,
    binId: spec.binId,
    rejected: [
      ...rejected.filter((r) => !r.wholeObject).map((r) => ({ file: landing(r.key), line: r.line, reason: r.reason, ...(r.bytes ? {} : copyOf(r.key)) })),
      // Whole files set aside: one entry each.
      ...[...new Map(rejected.filter((r) => r.wholeObject).map((r) => [r.key, r.reason]))].map(([key, reason]) => ({ file: landing(key), reason, ...copyOf(key) })),
      ...setAside.map((x) => ({ file: landing(x.key), reason: x.reason, ...copyOf(x.key) })),
    ],
  });
  return {
    records: rejected.length,
    ...(kept.length ? { recordsKey: `${prefix}records.jsonl` } : {}),
    objects: copies.size,
    reportKey: `${prefix}report.json`,
  };
}

const NEWLINE = Buffer.from('\n');

/**
 * Compacts one bin into one Parquet file at its deterministic key, then writes its manifest.
 * The manifest is written last and only after every check passed: it is the proof that the
 * output holds each input row exactly once. A rerun overwrites the same key.
 */
export async function compactBin(deps: CompactDeps, item: BinItem): Promise<CompactOutput> {
  const { store, settings: s, engine: e } = deps;
  const spec = await store.getJson<BinSpec>(s.goldBucket, item.binKey);
  if (!spec) throw new InvalidInputError(`bin spec s3://${s.goldBucket}/${item.binKey} not found: was plan ${item.planId} removed?`);
  if (spec.binId !== item.binId) throw new InvalidInputError(`bin spec ${item.binKey} is for bin ${spec.binId}, not ${item.binId}`);

  // A verified earlier attempt (retry, redrive, rerun) is reused rather than redone.
  const existing = await store.getJson<BinManifest>(s.goldBucket, spec.manifestKey);
  if (existing) {
    const head = existing.output.empty ? undefined : await store.head(s.goldBucket, existing.output.key);
    if (existing.output.empty || (head && head.bytes === existing.output.bytes)) return outputOf(existing, spec, spec.manifestKey);
  }

  const workDir = join(e.scratchDir, spec.binId);
  await rm(workDir, { recursive: true, force: true });
  try {
    const t0 = Date.now();
    const declaredTypes = { ...e.declaredTypes, ...deps.declaredTypes };
    const staged = await fetchInputs(store, { landing: s.landingBucket, gold: s.goldBucket }, spec.files, join(workDir, 'in'), {
      concurrency: e.fetchConcurrency,
      maxDecompressedBytes: e.maxDecompressedMb * 1024 * 1024,
      exactNumberFields: Object.keys(declaredTypes).filter((c) => isDecimalType(declaredTypes[c])),
    });
    // A landing object that is not readable Parquet is set aside whole; the rest is compacted.
    const landingParquet = staged.files.filter((f) => f.source.format === 'parquet' && !f.source.fromGold);
    const footers = await parquetFooters(landingParquet.map((f) => f.path));
    for (const [path, message] of footers.unreadable) {
      const at = staged.files.findIndex((f) => f.path === path);
      const key = staged.files[at].source.key;
      staged.setAside.push({ key, reason: `not a readable Parquet file: ${message.split(path).join(`s3://${s.landingBucket}/${key}`)}` });
      staged.files.splice(at, 1);
    }
    // Kafka Connect redelivery: offsets kept in another copy are left out here.
    const parquet = landingParquet.filter((f) => !footers.unreadable.has(f.path) && parseKafkaName(f.source.key));
    const parquetRows = footers.rows;
    const kafkaRecords = new Map([...staged.jsonRows, ...parquet.map((f) => [f.source.key, parquetRows.get(f.path) ?? 0] as const)]);
    const kafka = await kafkaDedupFor(store, spec, kafkaRecords, {
      landingBucket: s.landingBucket,
      specBucket: s.goldBucket,
      concurrency: e.fetchConcurrency,
      maxDecompressedBytes: e.maxDecompressedMb * 1024 * 1024,
      scratchDir: workDir,
    });
    if (kafka) {
      await dropRecords(staged, kafka.drop);
      for (const f of parquet) f.dropRows = kafka.drop.get(f.source.key);
    }
    deps.onStage?.('fetched', spec.binId);
    const t1 = Date.now();
    const where = `bin ${spec.binId} of ${spec.partition}`;
    const outPath = join(workDir, 'out.parquet');
    const hasRecords = staged.files.length > 0 || [...staged.jsonRows.values()].some((n) => n > 0);
    const engine = hasRecords
      ? await compactToParquet(staged, workDir, outPath, {
          compression: e.compression,
          sortBy: e.sortBy,
          memoryLimitMb: e.memoryLimitMb,
          threads: e.threads,
          rowGroupBytes: e.rowGroupBytes,
          declaredTypes,
          coerceToString: e.coerceToString,
        })
      : undefined;
    // Nothing to write (blank objects, redelivered offsets only, every record set aside): an empty output, no file.
    const result = engine?.written ? engine : undefined;
    deps.onStage?.('written', spec.binId);
    const t2 = Date.now();

    const rowsOf = new Map(staged.files.map((f) => [f.source.key, result?.fileRows.get(f.path) ?? 0]));
    for (const [key, rows] of staged.jsonRows) rowsOf.set(key, rows);
    const inputRows = [...rowsOf.values()].reduce((a, b) => a + b, 0);
    const rejected = await asStored(deps, spec, staged, engine?.rejected ?? []);
    const duplicates = [...(kafka?.drop.values() ?? [])].reduce((n, d) => n + size(d), 0);
    checkRejected(where, rejected, inputRows + rejected.length + duplicates, e.maxRejectedPercent);
    if (result) verifyEngine(where, result, inputRows);
    else if (inputRows) throw new VerificationError(`${where}: the inputs hold ${inputRows} rows but nothing was written`);

    let uploaded = { bytes: 0 };
    if (result) {
      uploaded = await store.uploadFile(s.goldBucket, spec.outputKey, outPath, 'application/vnd.apache.parquet');
      const stored = await store.head(s.goldBucket, spec.outputKey);
      if (!stored || stored.bytes !== result.outputBytes) {
        throw new VerificationError(`${where}: uploaded s3://${s.goldBucket}/${spec.outputKey} has ${stored?.bytes ?? 'no'} bytes, wrote ${result.outputBytes}`);
      }
    }
    deps.onStage?.('uploaded', spec.binId);
    const t3 = Date.now();

    const quarantine = await writeQuarantine(deps, spec, join(workDir, 'rejected.jsonl'), rejected, staged.setAside);
    const rejectedOf = new Map<string, number>();
    for (const r of rejected) rejectedOf.set(r.key, (rejectedOf.get(r.key) ?? 0) + 1);
    const setAside = new Set(staged.setAside.map((x) => x.key));

    const manifest: BinManifest = {
      table: s.table,
      planId: spec.planId,
      binId: spec.binId,
      partition: spec.partition,
      version: spec.version,
      inputs: spec.files.map((f) => ({
        key: f.key,
        etag: f.etag,
        size: f.size,
        rows: rowsOf.get(f.key) ?? 0,
        format: f.format,
        ...(f.fromGold ? { fromGold: true } : {}),
        ...(rejectedOf.has(f.key) ? { rejected: rejectedOf.get(f.key) } : {}),
        ...(setAside.has(f.key) ? { setAside: true } : {}),
        ...(kafka?.drop.has(f.key) ? droppedOf(f.key, kafka.drop.get(f.key)!) : {}),
      })),
      ...(kafka ? { kafka: withoutOffsets(kafka.ranges, quarantinedOffsets(spec, rejected, staged.setAside, kafkaRecords)) } : {}),
      ...(quarantine ? { quarantine } : {}),
      output: {
        bucket: s.goldBucket,
        key: spec.outputKey,
        ...(result ? {} : { empty: true }),
        bytes: uploaded.bytes,
        rows: result?.outputRows ?? 0,
        checksum: result?.outputChecksum ?? '0',
        compression: e.compression,
        schema: result?.schema ?? [],
      },
      timings: { fetchMs: t1 - t0, engineMs: t2 - t1, uploadMs: t3 - t2 },
    };
    await store.putJson(s.goldBucket, spec.manifestKey, manifest);
    return outputOf(manifest, spec, spec.manifestKey);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
