import type { BinManifest } from '../core/contracts';
import { locationOfStage, mergeManifestKey } from '../core/keys';
import { sumChecksums } from '../core/merge-contracts';
import type { ObjectStore } from '../core/ports';
import type { TableSettings } from '../core/settings';
import type { GoldFile, SupersededVersion } from '../core/state';
import type { StoredPlan } from '../core/contracts';
import { verifiedMergeManifest } from './verified-manifests';

/** A merged partition's files: what the merges wrote, and the intermediates they were made from. */
export type MergedFiles = { files: GoldFile[]; intermediates: SupersededVersion } | { incomplete: string };

/**
 * The files a merged partition commits, checked across both stages: every merge has a verified
 * manifest whose inputs are its bins' files as their manifests verified them, and the merged files'
 * rows and checksums add up to the bins'. The intermediates are recorded as a superseded entry
 * of their own (`intermediate`), so lifecycle deletes them after the grace, as it does replaced versions.
 */
export async function mergedFiles(store: ObjectStore, s: TableSettings, p: StoredPlan['partitions'][number], bins: readonly BinManifest[], now: string): Promise<MergedFiles> {
  const byBin = new Map(bins.map((m) => [m.binId, m]));
  const files: GoldFile[] = [];
  const outputs: Array<{ rows: number; checksum: string }> = [];
  for (const g of p.merges ?? []) {
    const m = await verifiedMergeManifest(store, s.goldBucket, mergeManifestKey(s.table, p.path, p.version, g.mergeId));
    if (!m) return { incomplete: `merge ${g.mergeId} has no verified output` };
    const expected = g.binIds.map((id) => byBin.get(id)!).filter((b) => !b.output.empty);
    const read = new Map(m.inputs.map((i) => [i.binId, i]));
    const mismatch = expected.find((b) => read.get(b.binId)?.checksum !== b.output.checksum || read.get(b.binId)?.rows !== b.output.rows || read.get(b.binId)?.key !== b.output.key);
    if (mismatch || m.inputs.length !== expected.length) return { incomplete: `merge ${g.mergeId} did not read the files its bins verified${mismatch ? ` (bin ${mismatch.binId})` : ''}` };
    for (const f of m.outputs) files.push({ key: f.key, etag: f.etag, bytes: f.bytes, rows: f.rows });
    outputs.push(...m.outputs);
  }
  const written = bins.filter((b) => !b.output.empty);
  const [had, has] = [
    { rows: written.reduce((n, b) => n + b.output.rows, 0), checksum: sumChecksums(written.map((b) => b.output.checksum)) },
    { rows: outputs.reduce((n, f) => n + f.rows, 0), checksum: sumChecksums(outputs.map((f) => f.checksum)) },
  ];
  if (had.rows !== has.rows || had.checksum !== has.checksum) {
    return { incomplete: `merged files hold ${has.rows} rows (checksum ${has.checksum}), the bins ${had.rows} rows (checksum ${had.checksum})` };
  }
  const intermediateFiles = written.map((b) => ({ key: b.output.key, etag: b.output.etag ?? '', bytes: b.output.bytes, rows: b.output.rows }));
  return {
    files,
    intermediates: { version: p.version, location: locationOfStage(s.goldBucket, s.table, p.path, p.version), files: intermediateFiles, rows: had.rows, committedAt: now, intermediate: true },
  };
}
