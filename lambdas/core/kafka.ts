/**
 * Kafka Connect S3 sink objects: `<topic>+<kafkaPartition>+<zero-padded startOffset>.<ext>`, each
 * holding consecutive offsets from its start. Redelivery writes some offsets twice (another object,
 * or the same key rewritten); every offset is written once by keeping one copy of it, decided from
 * names, record counts and the offsets the committed version already holds.
 */
import { normalize, size, subtract, union, type Intervals } from './intervals';

/** Offsets per topic-partition, keyed `topic+partition` (Kafka topic names cannot hold `+`). */
export type KafkaOffsets = Readonly<Record<string, Intervals>>;

export interface KafkaName {
  readonly topic: string;
  readonly partition: number;
  readonly startOffset: number;
}

export interface KafkaObject extends KafkaName {
  readonly key: string;
  /** Records the object holds (counted while fetching): its offsets are `[start, start + records)`. */
  readonly records: number;
}

/** What one output holds of one topic-partition. */
export interface OffsetRange {
  readonly topic: string;
  readonly partition: number;
  /** Offsets whose records this output holds. */
  readonly offsets: Intervals;
  /** Records left out because another copy of their offset is kept (redelivery). */
  readonly duplicates: number;
}

const NAME = /^(.+)\+(\d+)\+(\d+)\.[^/]+$/;

export function parseKafkaName(key: string): KafkaName | undefined {
  if (!key.includes('+')) return undefined;
  const m = NAME.exec(key.slice(key.lastIndexOf('/') + 1));
  if (!m) return undefined;
  const partition = Number(m[2]);
  const startOffset = Number(m[3]);
  if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(startOffset)) return undefined;
  return { topic: m[1], partition, startOffset };
}

export const topicPartitionId = (o: Pick<KafkaName, 'topic' | 'partition'>) => `${o.topic}+${o.partition}`;

/**
 * Sort key that puts one topic-partition's objects together in (start offset, key) order, whatever
 * their folder or zero-padding, so a partition's bins cut a topic-partition into consecutive ranges.
 */
export function kafkaSortKey(key: string): string {
  const k = parseKafkaName(key);
  if (!k) return key;
  return `\u0000${k.topic}+${String(k.partition).padStart(10, '0')}+${String(k.startOffset).padStart(20, '0')}\u0000${key}`;
}

export function mergeOffsets(...sets: ReadonlyArray<KafkaOffsets | undefined>): KafkaOffsets {
  const out: Record<string, Intervals> = {};
  for (const s of sets) for (const [tp, iv] of Object.entries(s ?? {})) out[tp] = union(out[tp] ?? [], iv);
  return out;
}

/** Offsets missing between the first and last offset held, per topic-partition. */
export function offsetGaps(held: KafkaOffsets): Array<{ topicPartition: string; gaps: Intervals }> {
  return Object.keys(held)
    .sort()
    .flatMap((tp) => {
      const iv = held[tp];
      if (!iv.length) return [];
      const gaps = subtract([[iv[0][0], iv[iv.length - 1][1]]], iv);
      return gaps.length ? [{ topicPartition: tp, gaps }] : [];
    });
}

// ---- which copy of each offset is kept ----

const order = (a: KafkaObject, b: KafkaObject) => a.startOffset - b.startOffset || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export interface KafkaDedup {
  /** Per object of the bin: record indices (0-based, `[from, to)`) to leave out. */
  readonly drop: Map<string, Intervals>;
  /** Per topic-partition of the bin: what its output holds and how many duplicates it left out. */
  readonly ranges: OffsetRange[];
}

/**
 * Chooses the copy of every offset to keep: an offset the committed version holds (`held`) keeps
 * that copy; otherwise the object with the latest start (then the greatest key) covering it keeps
 * it. `later` are the partition's objects planned in later bins that may overlap this bin's
 * (counted too), so two bins of a run never both keep an offset. Pure: the same inputs give the
 * same choice on every retry.
 */
export function dedupKafka(bin: readonly KafkaObject[], later: readonly KafkaObject[], held: KafkaOffsets = {}): KafkaDedup {
  const mine = new Set(bin.map((o) => o.key));
  const groups = new Map<string, KafkaObject[]>();
  for (const o of [...bin, ...later]) {
    const tp = topicPartitionId(o);
    (groups.get(tp) ?? groups.set(tp, []).get(tp)!).push(o);
  }
  const drop = new Map<string, Intervals>();
  const ranges: OffsetRange[] = [];
  for (const tp of [...groups.keys()].sort()) {
    const objects = groups.get(tp)!.sort(order);
    if (!objects.some((o) => mine.has(o.key))) continue;
    const committed = held[tp] ?? [];
    // Offsets of the objects already visited (all start at or after the current one), as a stack
    // of disjoint ranges with the lowest on top: each object only touches the ranges it overlaps.
    const later: Array<[number, number]> = [];
    const kept: Array<readonly [number, number]> = [];
    let duplicates = 0;
    for (let i = objects.length - 1; i >= 0; i--) {
      const o = objects[i];
      if (o.records <= 0) continue;
      const [from, to] = [o.startOffset, o.startOffset + o.records];
      if (mine.has(o.key)) {
        const repeated = normalize([...overlapping(committed, from, to), ...overlappingStack(later, from, to)]);
        if (repeated.length) drop.set(o.key, repeated.map(([a, b]) => [a - from, b - from] as const));
        duplicates += size(repeated);
        kept.push(...subtract([[from, to]], repeated));
      }
      let end = to;
      while (later.length && later[later.length - 1][0] <= end) end = Math.max(end, later.pop()![1]);
      later.push([from, end]);
    }
    const [topic, partition] = [tp.slice(0, tp.lastIndexOf('+')), Number(tp.slice(tp.lastIndexOf('+') + 1))];
    ranges.push({ topic, partition, offsets: normalize(kept), duplicates });
  }
  return { drop, ranges };
}

/** The parts of sorted, disjoint `set` inside `[from, to)` (binary search to the first). */
function overlapping(set: Intervals, from: number, to: number): Array<[number, number]> {
  let lo = 0;
  let hi = set.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (set[mid][1] <= from) lo = mid + 1;
    else hi = mid;
  }
  const out: Array<[number, number]> = [];
  for (let k = lo; k < set.length && set[k][0] < to; k++) out.push([Math.max(from, set[k][0]), Math.min(to, set[k][1])]);
  return out;
}

/** The parts of a stack of disjoint ranges (lowest on top, none starting below `from`) inside `[from, to)`. */
function overlappingStack(stack: ReadonlyArray<readonly [number, number]>, from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let k = stack.length - 1; k >= 0 && stack[k][0] < to; k--) out.push([Math.max(from, stack[k][0]), Math.min(to, stack[k][1])]);
  return out;
}

/** The offsets an output holds, per topic-partition. */
export const offsetsOf = (ranges: readonly OffsetRange[] | undefined): KafkaOffsets =>
  mergeOffsets(...(ranges ?? []).map((r) => ({ [topicPartitionId(r)]: r.offsets })));

/**
 * The ranges without offsets whose kept record went to quarantine: the version does not hold them,
 * so a later redelivery of those offsets is written instead of being dropped as a duplicate.
 */
export function withoutOffsets(ranges: readonly OffsetRange[], missing: KafkaOffsets): OffsetRange[] {
  return ranges.map((r) => {
    const gone = missing[topicPartitionId(r)];
    return gone ? { ...r, offsets: subtract(r.offsets, gone) } : r;
  });
}
