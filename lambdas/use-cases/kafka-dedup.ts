import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetFooters } from '../adapters/duckdb-engine';
import { countJsonRecords, downloadObject } from '../adapters/fetch-inputs';
import { mapLimit } from '../core/concurrency';
import type { BinSpec } from '../core/contracts';
import { InvalidInputError } from '../core/errors';
import { contentId } from '../core/hash';
import { dedupKafka, parseKafkaName, topicPartitionId, type KafkaDedup, type KafkaName, type KafkaObject } from '../core/kafka';
import type { SourceFile } from '../core/partitions';
import type { ObjectStore } from '../core/ports';

export interface KafkaDedupOptions {
  readonly landingBucket: string;
  readonly specBucket: string;
  readonly concurrency: number;
  readonly maxDecompressedBytes: number;
  /** Where objects of later bins are downloaded to be counted (Parquet). */
  readonly scratchDir: string;
}

/** Kafka Connect objects of the landing zone in a format whose records can be told apart (not CSV). */
function kafkaName(f: SourceFile): KafkaName | undefined {
  return !f.fromGold && (f.format.startsWith('jsonl') || f.format === 'parquet') ? parseKafkaName(f.key) : undefined;
}

/** Records of a JSON Lines or Parquet object, counted without staging it. */
async function countRecords(store: ObjectStore, bucket: string, f: SourceFile, o: KafkaDedupOptions): Promise<number> {
  if (f.format !== 'parquet') return countJsonRecords(store, bucket, f, { maxDecompressedBytes: o.maxDecompressedBytes });
  const path = join(o.scratchDir, `count-${contentId([f.key, f.etag])}.parquet`);
  try {
    await downloadObject(store, bucket, f, path);
    // Unreadable: its own bin sets it aside, so it holds no offsets.
    return (await parquetFooters([path])).rows.get(path) ?? 0;
  } finally {
    await rm(path, { force: true });
  }
}

/**
 * Decides which records of a bin's Kafka Connect objects (JSON Lines or Parquet; `records` holds
 * their counts) repeat offsets that are kept elsewhere:
 * in the committed version, in a later-starting object of the bin, or in one of the partition's
 * later bins. Of those later bins only the objects starting below this bin's highest offset can
 * overlap; they are counted (not staged), following the plan's chain of bins.
 */
export async function kafkaDedupFor(
  store: ObjectStore,
  spec: BinSpec,
  records: ReadonlyMap<string, number>,
  o: KafkaDedupOptions,
): Promise<KafkaDedup | undefined> {
  const mine: KafkaObject[] = spec.files.flatMap((f) => {
    const k = kafkaName(f);
    return k ? [{ key: f.key, ...k, records: records.get(f.key) ?? 0 }] : [];
  });
  if (!mine.length) return undefined;
  const reach = new Map<string, number>();
  for (const k of mine) reach.set(topicPartitionId(k), Math.max(reach.get(topicPartitionId(k)) ?? 0, k.startOffset + k.records));

  const later: KafkaObject[] = [];
  const open = new Set(reach.keys());
  for (let nextKey = spec.nextBinKey; nextKey && open.size; ) {
    const next = await store.getJson<BinSpec>(o.specBucket, nextKey);
    if (!next) throw new InvalidInputError(`bin spec s3://${o.specBucket}/${nextKey} (after bin ${spec.binId}) not found: was plan ${spec.planId} removed?`);
    const toCount: Array<{ file: SourceFile; name: KafkaName }> = [];
    for (const tp of [...open]) {
      const objects = next.files.flatMap((file) => {
        const name = kafkaName(file);
        return name && topicPartitionId(name) === tp ? [{ file, name }] : [];
      });
      const overlapping = objects.filter((x) => x.name.startOffset < reach.get(tp)!);
      toCount.push(...overlapping);
      // Bins hold a topic-partition in offset order: past the first object starting beyond reach, none overlaps.
      if (overlapping.length < objects.length || !objects.length) open.delete(tp);
    }
    later.push(
      ...(await mapLimit(toCount, o.concurrency, async ({ file, name }) => ({
        key: file.key,
        ...name,
        records: await countRecords(store, o.landingBucket, file, o),
      }))),
    );
    nextKey = next.nextBinKey;
  }
  return dedupKafka(mine, later, spec.kafkaHeld);
}
