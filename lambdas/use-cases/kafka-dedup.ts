import { mapLimit } from '../core/concurrency';
import type { BinSpec } from '../core/contracts';
import { InvalidInputError } from '../core/errors';
import { dedupKafka, parseKafkaName, topicPartitionId, type KafkaDedup, type KafkaName, type KafkaObject } from '../core/kafka';
import type { SourceFile } from '../core/partitions';
import type { ObjectStore, ParquetEngine, Workspace } from '../core/ports';

export interface KafkaDedupOptions {
  readonly landingBucket: string;
  readonly specBucket: string;
  readonly concurrency: number;
  readonly maxDecompressedBytes: number;
}

/** Kafka Connect objects of the landing zone in a format whose records can be told apart (not CSV). */
function kafkaName(f: SourceFile): KafkaName | undefined {
  return !f.fromGold && (f.format.startsWith('jsonl') || f.format === 'parquet') ? parseKafkaName(f.key) : undefined;
}

/**
 * Decides which records of a bin's Kafka Connect objects (JSON Lines or Parquet; `records` holds
 * their counts) repeat offsets that are kept elsewhere:
 * in the committed version, in a later-starting object of the bin, or in one of the partition's
 * later bins. Of those later bins only the objects starting below this bin's highest offset can
 * overlap; they are counted (not staged; a Parquet one is downloaded into `ws`), following the
 * plan's chain of bins.
 */
export async function kafkaDedupFor(
  store: ObjectStore,
  parquet: ParquetEngine,
  ws: Workspace,
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
        records: await parquet.countRecords(store, o.landingBucket, file, ws, o),
      }))),
    );
    nextKey = next.nextBinKey;
  }
  return dedupKafka(mine, later, spec.kafkaHeld);
}
