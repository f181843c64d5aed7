import type { BinManifest } from '../core/contracts';
import { InvalidInputError, RetryableError, VerificationError } from '../core/errors';
import { mergedOutputKey } from '../core/keys';
import { sumChecksums, type MergedFile, type MergeItem, type MergeManifest, type MergeOutput, type MergeSpec } from '../core/merge-contracts';
import { mergeOutputFiles, schemaGroups } from '../core/merge-plan';
import type { ObjectStore } from '../core/ports';
import { refuseCommitted, uploadOnce, writeManifestOnce, type ParquetStepDeps } from './written-once';
import { verifiedMergeManifest } from './verified-manifests';

export interface MergeDeps extends ParquetStepDeps {
  /** Progress for people watching a local run; Lambda logs instead. */
  readonly onStage?: (stage: 'fetched' | 'merged' | 'uploaded', mergeId: string) => void;
}

const outputOf = (m: MergeManifest, manifestKey: string): MergeOutput => ({
  mergeId: m.mergeId,
  partition: m.partition,
  version: m.version,
  manifestKey,
  inputFiles: m.inputs.length,
  outputFiles: m.outputs.length,
  rows: m.rows,
  outputBytes: m.outputs.reduce((n, f) => n + f.bytes, 0),
});


/** The bins' verified manifests; a bin without one was not compacted (yet): the merge cannot run. */
async function binManifests(store: ObjectStore, bucket: string, spec: MergeSpec, where: string): Promise<BinManifest[]> {
  const out: BinManifest[] = [];
  for (const b of spec.bins) {
    const m = await store.getJson<BinManifest>(bucket, b.manifestKey);
    if (!m) throw new RetryableError(`${where}: bin ${b.binId} has no manifest at s3://${bucket}/${b.manifestKey}; its compaction did not finish`);
    if (!m.output.empty && m.output.key !== b.outputKey) {
      throw new VerificationError(`${where}: the manifest of bin ${b.binId} names s3://${bucket}/${m.output.key}, the plan s3://${bucket}/${b.outputKey}`);
    }
    out.push(m);
  }
  return out;
}

/**
 * Merges one partition's intermediate files (bin outputs at stage keys) into the fewest files of
 * the target size in the version. Every intermediate is checked against its bin's manifest (rows
 * and checksum) before it is read, every output is read back, and the outputs' rows and checksums
 * must add up to the inputs'. Outputs and the manifest are written create-only, the manifest last:
 * a retry, redrive or second run adopts an identical earlier output and never rewrites one.
 */
export async function mergeFiles(deps: MergeDeps, item: MergeItem): Promise<MergeOutput> {
  const { store, parquet, settings: s, engine: e } = deps;
  const spec = await store.getJson<MergeSpec>(s.goldBucket, item.mergeKey);
  if (!spec) throw new InvalidInputError(`merge spec s3://${s.goldBucket}/${item.mergeKey} not found: was plan ${item.planId} removed?`);
  if (spec.mergeId !== item.mergeId) throw new InvalidInputError(`merge spec ${item.mergeKey} is for merge ${spec.mergeId}, not ${item.mergeId}`);
  const where = `merge ${spec.mergeId} of ${spec.partition}`;

  const existing = await verifiedMergeManifest(store, s.goldBucket, spec.manifestKey);
  if (existing) return outputOf(existing, spec.manifestKey);
  await refuseCommitted(store, s, spec, where);
  const bins = (await binManifests(store, s.goldBucket, spec, where)).filter((m) => !m.output.empty);

  const ws = await deps.scratch.open(`merge-${spec.mergeId}`);
  try {
    const t0 = deps.clock.now().getTime();
    // Each intermediate exactly as its manifest verified it (If-Match on its ETag).
    const local: string[] = [];
    for (const m of bins) local.push(await ws.save(`in-${m.binId}.parquet`, await store.getStream(s.goldBucket, m.output.key, m.output.etag)));
    const found = await parquet.facts(local, e);
    const inputs = bins.map((m, i) => {
      if (found[i].rows !== m.output.rows || found[i].checksum !== m.output.checksum) {
        throw new VerificationError(
          `${where}: s3://${s.goldBucket}/${m.output.key} holds ${found[i].rows} rows (checksum ${found[i].checksum}), its manifest ${m.output.rows} (checksum ${m.output.checksum})`,
        );
      }
      return { binId: m.binId, path: local[i], key: m.output.key, etag: m.output.etag ?? '', bytes: m.output.bytes, rows: m.output.rows, checksum: m.output.checksum, schema: found[i].schema };
    });
    deps.onStage?.('fetched', spec.mergeId);
    const t1 = deps.clock.now().getTime();

    // One merge per schema: files of one schema become the fewest target-size files.
    const planned: Array<{ key: string; path: string; group: typeof inputs }> = [];
    for (const group of schemaGroups(inputs)) {
      const rows = group.reduce((n, f) => n + f.rows, 0);
      const k = Math.max(1, Math.min(rows, mergeOutputFiles(group.reduce((n, f) => n + f.bytes, 0), spec.targetBytes)));
      const at = planned.length;
      for (let j = 0; j < k; j++) planned.push({ key: mergedOutputKey(s.goldPrefix, spec.partition, spec.version, spec.mergeId, at + j), path: ws.path(`out-${at + j}.parquet`), group });
    }
    const written: Array<{ key: string; path: string; bytes: number; rows: number; checksum: string; schema: MergeManifest['outputs'][number]['schema'] }> = [];
    for (const group of new Set(planned.map((p) => p.group))) {
      const outs = planned.filter((p) => p.group === group);
      const merged = await parquet.merge(group, outs.map((p) => p.path), ws, e);
      const sum = (fs: ReadonlyArray<{ rows: number; checksum: string }>) => ({ rows: fs.reduce((n, f) => n + f.rows, 0), checksum: sumChecksums(fs.map((f) => f.checksum)) });
      const [had, has] = [sum(group), sum(merged)];
      if (had.rows !== has.rows || had.checksum !== has.checksum) {
        throw new VerificationError(`${where}: merged files hold ${has.rows} rows (checksum ${has.checksum}), their inputs ${had.rows} rows (checksum ${had.checksum})`);
      }
      merged.forEach((m, j) => written.push({ ...m, key: outs[j].key }));
    }
    deps.onStage?.('merged', spec.mergeId);
    const t2 = deps.clock.now().getTime();

    // Another run may have finished this merge meanwhile: its verified outputs stand.
    const done = await verifiedMergeManifest(store, s.goldBucket, spec.manifestKey);
    if (done) return outputOf(done, spec.manifestKey);
    await refuseCommitted(store, s, spec, where);
    const outputs: Array<MergedFile & { schema: MergeManifest['outputs'][number]['schema'] }> = [];
    for (const w of written) {
      const up = await uploadOnce({ store, parquet, ws }, s.goldBucket, w.key, w.path, w, where, 'merge');
      outputs.push({ key: w.key, etag: up.etag, bytes: up.bytes, rows: w.rows, checksum: w.checksum, schema: w.schema });
    }
    deps.onStage?.('uploaded', spec.mergeId);
    const t3 = deps.clock.now().getTime();

    const manifest: MergeManifest = {
      table: s.table,
      planId: spec.planId,
      mergeId: spec.mergeId,
      partition: spec.partition,
      version: spec.version,
      inputs: inputs.map(({ binId, key, etag, bytes, rows, checksum }) => ({ binId, key, etag, bytes, rows, checksum })),
      outputs,
      rows: outputs.reduce((n, f) => n + f.rows, 0),
      checksum: sumChecksums(outputs.map((f) => f.checksum)),
      timings: { fetchMs: t1 - t0, mergeMs: t2 - t1, uploadMs: t3 - t2 },
    };
    const files = (m: MergeManifest) => m.outputs.map((f) => `${f.key} ${f.etag}`).join();
    const stands = await writeManifestOnce(store, s.goldBucket, spec.manifestKey, manifest, () => verifiedMergeManifest(store, s.goldBucket, spec.manifestKey), (theirs) => files(theirs) === files(manifest), where);
    return outputOf(stands, spec.manifestKey);
  } finally {
    await ws.close();
  }
}
