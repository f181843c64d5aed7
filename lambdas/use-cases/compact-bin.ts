import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compactToParquet, type EngineOptions } from '../adapters/duckdb-engine';
import { dropLeadingRecords } from '../adapters/bad-records';
import { fetchInputs } from '../adapters/fetch-inputs';
import type { BinItem, BinManifest, BinSpec, CompactOutput } from '../core/contracts';
import { InvalidInputError, VerificationError } from '../core/errors';
import { kafkaCoverage, parseKafkaName } from '../core/kafka';
import { quarantinePrefix } from '../core/keys';
import type { ObjectStore } from '../core/ports';
import type { EngineSettings, TableSettings } from '../core/settings';

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
});

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
    const head = await store.head(s.goldBucket, existing.output.key);
    if (head && head.bytes === existing.output.bytes) return outputOf(existing, spec, spec.manifestKey);
  }

  const workDir = join(e.scratchDir, spec.binId);
  await rm(workDir, { recursive: true, force: true });
  try {
    const t0 = Date.now();
    const staged = await fetchInputs(store, { landing: s.landingBucket, gold: s.goldBucket }, spec.files, join(workDir, 'in'), {
      concurrency: e.fetchConcurrency,
      maxDecompressedBytes: e.maxDecompressedMb * 1024 * 1024,
    });
    // Kafka Connect redelivery: an object repeating offsets another object of the bin holds.
    const kafkaObjects = spec.files.flatMap((f) => {
      const k = !f.fromGold && f.format.startsWith('jsonl') ? parseKafkaName(f.key) : undefined;
      return k ? [{ key: f.key, ...k, records: staged.jsonRows.get(f.key) ?? 0 }] : [];
    });
    const kafka = kafkaObjects.length ? kafkaCoverage(kafkaObjects) : undefined;
    if (kafka) await dropLeadingRecords(staged, kafka.dropLeading);
    deps.onStage?.('fetched', spec.binId);
    const t1 = Date.now();
    const outPath = join(workDir, 'out.parquet');
    const result = await compactToParquet(staged, workDir, outPath, {
      compression: e.compression,
      sortBy: e.sortBy,
      memoryLimitMb: e.memoryLimitMb,
      threads: e.threads,
      rowGroupBytes: e.rowGroupBytes,
      declaredTypes: { ...e.declaredTypes, ...deps.declaredTypes },
      coerceToString: e.coerceToString,
    });
    deps.onStage?.('written', spec.binId);
    const t2 = Date.now();

    const rowsOf = new Map(staged.files.map((f) => [f.source.key, result.fileRows.get(f.path) ?? 0]));
    for (const [key, rows] of staged.jsonRows) rowsOf.set(key, rows);
    const inputRows = [...rowsOf.values()].reduce((a, b) => a + b, 0);
    const where = `bin ${spec.binId} of ${spec.partition}`;
    const rejected = result.rejected;
    const unreadable = rejected.filter((r) => !r.wholeObject);
    if (unreadable.length && (unreadable.length * 100) / (inputRows + rejected.length) > e.maxRejectedPercent) {
      const first = unreadable.slice(0, 3).map((r) => `${r.key} line ${r.line}: ${r.reason}`).join('; ');
      throw new InvalidInputError(
        `${where}: ${unreadable.length} of ${inputRows + rejected.length} records cannot be read, over the ${e.maxRejectedPercent}% limit; nothing was written. First: ${first}`,
      );
    }
    if (result.stagedRows !== inputRows) {
      throw new VerificationError(`${where}: the engine read ${result.stagedRows} rows but the inputs hold ${inputRows}`);
    }
    if (result.outputRows !== inputRows || result.outputChecksum !== result.inputChecksum) {
      throw new VerificationError(
        `${where}: written file has ${result.outputRows} rows (checksum ${result.outputChecksum}), inputs ${inputRows} rows (checksum ${result.inputChecksum})`,
      );
    }

    const uploaded = await store.uploadFile(s.goldBucket, spec.outputKey, outPath, 'application/vnd.apache.parquet');
    const stored = await store.head(s.goldBucket, spec.outputKey);
    if (!stored || stored.bytes !== result.outputBytes) {
      throw new VerificationError(`${where}: uploaded s3://${s.goldBucket}/${spec.outputKey} has ${stored?.bytes ?? 'no'} bytes, wrote ${result.outputBytes}`);
    }
    deps.onStage?.('uploaded', spec.binId);
    const t3 = Date.now();

    let quarantine: BinManifest['quarantine'];
    const rejectedOf = new Map<string, number>();
    if (rejected.length) {
      const prefix = quarantinePrefix(s.table, spec.partition, spec.binId);
      const recordsPath = join(workDir, 'rejected.jsonl');
      await writeFile(recordsPath, Buffer.concat(rejected.flatMap((r) => [r.bytes, Buffer.from('\n')])));
      await store.uploadFile(s.goldBucket, `${prefix}records.jsonl`, recordsPath, 'application/x-ndjson');
      await store.putJson(s.goldBucket, `${prefix}report.json`, {
        table: s.table,
        partition: spec.partition,
        binId: spec.binId,
        rejected: [
          ...unreadable.map((r) => ({ file: `s3://${s.landingBucket}/${r.key}`, line: r.line, reason: r.reason })),
          // Whole files set aside: one entry each.
          ...[...new Map(rejected.filter((r) => r.wholeObject).map((r) => [r.key, r.reason]))].map(([key, reason]) => ({ file: `s3://${s.landingBucket}/${key}`, reason })),
        ],
      });
      quarantine = { records: rejected.length, recordsKey: `${prefix}records.jsonl`, reportKey: `${prefix}report.json` };
      for (const r of rejected) rejectedOf.set(r.key, (rejectedOf.get(r.key) ?? 0) + 1);
    }

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
        ...(kafka?.dropLeading.has(f.key) ? { duplicates: kafka.dropLeading.get(f.key) } : {}),
      })),
      ...(kafka ? { kafka: kafka.ranges } : {}),
      ...(quarantine ? { quarantine } : {}),
      output: {
        bucket: s.goldBucket,
        key: spec.outputKey,
        bytes: uploaded.bytes,
        rows: result.outputRows,
        checksum: result.outputChecksum,
        compression: e.compression,
        schema: result.schema,
      },
      timings: { fetchMs: t1 - t0, engineMs: t2 - t1, uploadMs: t3 - t2 },
    };
    await store.putJson(s.goldBucket, spec.manifestKey, manifest);
    return outputOf(manifest, spec, spec.manifestKey);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
