/**
 * What a bin leaves out, kept outside any table location: rejected records with their stored
 * bytes, copies of objects set aside whole, a report naming file, line and reason, and the Kafka
 * offsets that therefore did not reach the output.
 */
import type { BinManifest, BinSpec } from '../core/contracts';
import type { RejectedRecord, SetAsideObject } from '../core/engine-contracts';
import { badRecordReason, misfitReason } from '../core/input-rules';
import { NEWLINE } from '../core/bytes';
import { numberFields, numberSpans, type NumberSpan } from '../core/json-numbers';
import { normalize } from '../core/intervals';
import { parseKafkaName, topicPartitionId, type KafkaOffsets } from '../core/kafka';
import { quarantineObjectKey, quarantinePrefix } from '../core/keys';
import type { ObjectStore, ParquetEngine, Workspace } from '../core/ports';
import type { TableSettings } from '../core/settings';

export interface QuarantineDeps {
  readonly store: ObjectStore;
  readonly parquet: ParquetEngine;
  readonly settings: TableSettings;
  readonly maxDecompressedBytes: number;
}

/** Rejected records as their objects hold them: staging may have quoted the numbers of some. */
export async function asStored(deps: QuarantineDeps, spec: BinSpec, rewritten: ReadonlySet<string>, rejected: RejectedRecord[]): Promise<RejectedRecord[]> {
  const keys = new Set(rejected.filter((r) => r.bytes && r.line !== undefined && rewritten.has(r.key)).map((r) => r.key));
  const originals = new Map<string, Map<number, Buffer>>();
  for (const key of keys) {
    const src = spec.files.find((f) => f.key === key)!;
    const lines = new Set(rejected.filter((r) => r.key === key && r.bytes).map((r) => r.line!));
    originals.set(key, await deps.parquet.storedLines(deps.store, deps.settings.landingBucket, src, lines, { maxDecompressedBytes: deps.maxDecompressedBytes }));
  }
  return rejected.map((r) => {
    const original = r.bytes && r.line !== undefined ? originals.get(r.key)?.get(r.line) : undefined;
    const bytes = original ?? r.bytes;
    // The reason is read from the stored record too: parser errors name byte positions, and a
    // misfit's value is shown as the producer wrote it (not quoted by staging, nor rounded by JSON.parse).
    return bytes && (original || r.misfit) ? { ...r, bytes, reason: storedReason(r, bytes) } : r;
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

/** Offsets of Kafka records that went to quarantine (alone, or with their whole object) instead of into the output. */
export function quarantinedOffsets(
  spec: BinSpec,
  rejected: readonly RejectedRecord[],
  setAside: readonly SetAsideObject[],
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
 * Keeps what the output leaves out, outside any table location: the rejected records (their
 * stored bytes) and a copy of every object set aside whole or holding a record too large to keep
 * in memory, with a report naming file, line and reason. Once the version is committed their
 * sources may be retired: this is what remains of them.
 */
export async function writeQuarantine(
  deps: QuarantineDeps,
  spec: BinSpec,
  ws: Workspace,
  rejected: readonly RejectedRecord[],
  setAside: readonly SetAsideObject[],
  partitionFields: NonNullable<BinManifest['partitionFields']> = [],
): Promise<BinManifest['quarantine']> {
  if (!rejected.length && !setAside.length && !partitionFields.length) return undefined;
  const { store, settings: s } = deps;
  const prefix = quarantinePrefix(s.table, spec.partition, spec.binId);
  const landing = (key: string) => `s3://${s.landingBucket}/${key}`;
  const copies = new Map<string, string>();
  for (const key of [...setAside.map((x) => x.key), ...rejected.filter((r) => !r.bytes).map((r) => r.key)]) {
    if (copies.has(key)) continue;
    const to = quarantineObjectKey(prefix, copies.size, key);
    await store.copy({ bucket: s.landingBucket, key }, { bucket: s.goldBucket, key: to }, spec.files.find((f) => f.key === key)?.etag);
    copies.set(key, to);
  }
  const copyOf = (key: string) => (copies.has(key) ? { copy: `s3://${s.goldBucket}/${copies.get(key)}` } : {});
  const kept = rejected.flatMap((r) => (r.bytes ? [r.bytes, NEWLINE] : []));
  if (kept.length) {
    const recordsPath = await ws.save('rejected.jsonl', Buffer.concat(kept));
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
    // Kept in the output as written, reported: the table shows the partition's value in these columns.
    ...(partitionFields.length ? { partitionFields } : {}),
  });
  return {
    records: rejected.length,
    ...(kept.length ? { recordsKey: `${prefix}records.jsonl` } : {}),
    objects: copies.size,
    reportKey: `${prefix}report.json`,
  };
}
