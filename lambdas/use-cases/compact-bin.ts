import type { BinItem, BinManifest, BinSpec, CompactOutput } from '../core/contracts';
import type { EngineOptions, EngineResult, RejectedRecord } from '../core/engine-contracts';
import { InvalidInputError, VerificationError } from '../core/errors';
import { size, type Intervals } from '../core/intervals';
import { parseKafkaName, withoutOffsets } from '../core/kafka';
import { kafkaDedupFor } from './kafka-dedup';
import { asStored, quarantinedOffsets, writeQuarantine, type QuarantineDeps } from './quarantine';
import { refuseCommitted, uploadOnce, writeManifestOnce, type ParquetStepDeps } from './written-once';
import { verifiedManifest } from './verified-manifests';

export interface CompactDeps extends ParquetStepDeps {
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

/** The duplicates an input left out, as a count and as offsets. */
function droppedOf(key: string, records: Intervals): { duplicates: number; dropped: Intervals } {
  const start = parseKafkaName(key)!.startOffset;
  return { duplicates: size(records), dropped: records.map(([a, b]) => [start + a, start + b] as const) };
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
 * Compacts one bin into one Parquet file at its deterministic key, then writes its manifest.
 * The manifest is written last and only after every check passed: it is the proof that the
 * output holds each input row exactly once. Both are written create-only, so a late or racing
 * attempt never replaces them; a rerun reuses a verified earlier attempt.
 */
export async function compactBin(deps: CompactDeps, item: BinItem): Promise<CompactOutput> {
  const { store, parquet, settings: s, engine: e } = deps;
  const maxDecompressedBytes = e.maxDecompressedMb * 1024 * 1024;
  const quarantine: QuarantineDeps = { store, parquet, settings: s, maxDecompressedBytes };
  const spec = await store.getJson<BinSpec>(s.goldBucket, item.binKey);
  if (!spec) throw new InvalidInputError(`bin spec s3://${s.goldBucket}/${item.binKey} not found: was plan ${item.planId} removed?`);
  if (spec.binId !== item.binId) throw new InvalidInputError(`bin spec ${item.binKey} is for bin ${spec.binId}, not ${item.binId}`);
  const where = `bin ${spec.binId} of ${spec.partition}`;

  // A verified earlier attempt (retry, redrive, rerun) is reused rather than redone.
  const existing = await verifiedManifest(store, s.goldBucket, spec.manifestKey);
  if (existing) return outputOf(existing, spec, spec.manifestKey);
  await refuseCommitted(store, s, spec, where);

  // Private to this attempt: another run may compact the same bin at the same time.
  const ws = await deps.scratch.open(spec.binId);
  try {
    const t0 = deps.clock.now().getTime();
    const declaredTypes = { ...e.declaredTypes, ...deps.declaredTypes };
    const staged = await parquet.stage(store, { landing: s.landingBucket, gold: s.goldBucket }, spec.files, ws, {
      concurrency: e.fetchConcurrency,
      maxDecompressedBytes,
      // Declared fields are cast from the number as written (never through a double that rounds it).
      exactNumberFields: Object.keys(declaredTypes),
    });
    // Kafka Connect redelivery: offsets kept in another copy are left out here.
    const kafka = await kafkaDedupFor(store, parquet, ws, spec, staged.records, {
      landingBucket: s.landingBucket,
      specBucket: s.goldBucket,
      concurrency: e.fetchConcurrency,
      maxDecompressedBytes,
    });
    deps.onStage?.('fetched', spec.binId);
    const t1 = deps.clock.now().getTime();
    const outPath = ws.path('out.parquet');
    const engine = await staged.compact(kafka?.drop ?? new Map(), outPath, {
      compression: e.compression,
      sortBy: e.sortBy,
      memoryLimitMb: e.memoryLimitMb,
      threads: e.threads,
      rowGroupBytes: e.rowGroupBytes,
      declaredTypes,
      coerceToString: e.coerceToString,
      partitionValues: spec.partitionValues,
    });
    // Nothing to write (blank objects, redelivered offsets only, every record set aside): an empty output, no file.
    const result = engine.written ? engine : undefined;
    deps.onStage?.('written', spec.binId);
    const t2 = deps.clock.now().getTime();

    const rowsOf = engine.inputRows;
    const inputRows = [...rowsOf.values()].reduce((a, b) => a + b, 0);
    const rejected = await asStored(quarantine, spec, engine.rewritten, engine.rejected);
    const duplicates = [...(kafka?.drop.values() ?? [])].reduce((n, d) => n + size(d), 0);
    checkRejected(where, rejected, inputRows + rejected.length + duplicates, e.maxRejectedPercent);
    if (result) verifyEngine(where, result, inputRows);
    else if (inputRows) throw new VerificationError(`${where}: the inputs hold ${inputRows} rows but nothing was written`);

    // Another run may have committed this version meanwhile: its verified output stands.
    const done = await verifiedManifest(store, s.goldBucket, spec.manifestKey);
    if (done) return outputOf(done, spec, spec.manifestKey);
    await refuseCommitted(store, s, spec, where);
    const uploaded: { bytes: number; etag?: string } = result
      ? await uploadOnce({ store, parquet, ws }, s.goldBucket, spec.outputKey, outPath, { rows: result.outputRows, checksum: result.outputChecksum, bytes: result.outputBytes }, where)
      : { bytes: 0 };
    deps.onStage?.('uploaded', spec.binId);
    const t3 = deps.clock.now().getTime();

    const quarantined = await writeQuarantine(quarantine, spec, ws, rejected, engine.setAside, engine.partitionFields);
    const rejectedOf = new Map<string, number>();
    for (const r of rejected) rejectedOf.set(r.key, (rejectedOf.get(r.key) ?? 0) + 1);
    const setAside = new Set(engine.setAside.map((x) => x.key));

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
      ...(kafka ? { kafka: withoutOffsets(kafka.ranges, quarantinedOffsets(spec, rejected, engine.setAside, staged.records)) } : {}),
      ...(quarantined ? { quarantine: quarantined } : {}),
      ...(engine.partitionFields.length ? { partitionFields: engine.partitionFields } : {}),
      output: {
        bucket: s.goldBucket,
        key: spec.outputKey,
        ...(result ? {} : { empty: true }),
        bytes: uploaded.bytes,
        ...(uploaded.etag ? { etag: uploaded.etag } : {}),
        rows: result?.outputRows ?? 0,
        checksum: result?.outputChecksum ?? '0',
        compression: e.compression,
        schema: result?.schema ?? [],
      },
      timings: { fetchMs: t1 - t0, engineMs: t2 - t1, uploadMs: t3 - t2 },
    };
    const same = (theirs: BinManifest) => theirs.output.key === manifest.output.key && theirs.output.bytes === manifest.output.bytes;
    const stands = await writeManifestOnce(store, s.goldBucket, spec.manifestKey, manifest, () => verifiedManifest(store, s.goldBucket, spec.manifestKey), same, where);
    return outputOf(stands, spec, spec.manifestKey);
  } finally {
    await ws.close();
  }
}
