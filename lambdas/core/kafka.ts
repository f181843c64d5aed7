/** Kafka Connect S3 sink objects: `<topic>+<kafkaPartition>+<zero-padded startOffset>.<ext>`. */
export interface KafkaObject {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  readonly startOffset: number;
  /** Records the object holds (counted while fetching). */
  readonly records: number;
}

export interface OffsetRange {
  readonly topic: string;
  readonly partition: number;
  /** First offset held. */
  readonly from: number;
  /** One past the last offset held. */
  readonly to: number;
  /** Records dropped because an earlier object of the bin already held their offsets (redelivery). */
  readonly duplicates: number;
  /** Offsets missing between the objects of the bin, as [from, to) pairs. */
  readonly gaps: ReadonlyArray<readonly [number, number]>;
}

const NAME = /^(.+)\+(\d+)\+(\d+)\.[^/]+$/;

export function parseKafkaName(key: string): { topic: string; partition: number; startOffset: number } | undefined {
  const m = NAME.exec(key.slice(key.lastIndexOf('/') + 1));
  if (!m) return undefined;
  const partition = Number(m[2]);
  const startOffset = Number(m[3]);
  if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(startOffset)) return undefined;
  return { topic: m[1], partition, startOffset };
}

/**
 * Per topic-partition, in offset order: the range the objects cover, how many leading records of
 * each object repeat offsets an earlier object already holds (to be dropped), and the gaps.
 */
export function kafkaCoverage(objects: readonly KafkaObject[]): { ranges: OffsetRange[]; dropLeading: Map<string, number> } {
  const groups = new Map<string, KafkaObject[]>();
  for (const o of objects) {
    const id = `${o.topic}\u0000${o.partition}`;
    groups.set(id, [...(groups.get(id) ?? []), o]);
  }
  const ranges: OffsetRange[] = [];
  const dropLeading = new Map<string, number>();
  for (const group of [...groups.values()].sort((a, b) => (a[0].topic + a[0].partition < b[0].topic + b[0].partition ? -1 : 1))) {
    const sorted = [...group].sort((a, b) => a.startOffset - b.startOffset || (a.key < b.key ? -1 : 1));
    let end = sorted[0].startOffset;
    let duplicates = 0;
    const gaps: Array<[number, number]> = [];
    for (const o of sorted) {
      if (o.startOffset > end) gaps.push([end, o.startOffset]);
      const repeated = Math.min(o.records, Math.max(0, end - o.startOffset));
      if (repeated) dropLeading.set(o.key, repeated);
      duplicates += repeated;
      end = Math.max(end, o.startOffset + o.records);
    }
    ranges.push({ topic: sorted[0].topic, partition: sorted[0].partition, from: sorted[0].startOffset, to: end, duplicates, gaps });
  }
  return { ranges, dropLeading };
}
