import { formatOf, isUnsupportedFormat, type InputFormat } from './formats';

/** One object as a listing returns it. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  /** ISO-8601 */
  readonly lastModified: string;
  /** Set when the listing could not give the key's exact bytes: reported and skipped, never read. */
  readonly keyError?: string;
}

/** A data file selected for compaction. */
export interface SourceFile extends ListedObject {
  readonly format: InputFormat;
  /** Set for compacted files of the committed version (in the gold bucket); landing otherwise. */
  readonly fromGold?: boolean;
}

export type PartitionValues = Readonly<Record<string, string>>;

export interface PartitionListing {
  /** Canonical Hive path, e.g. `dt=2024-12-19/hour=14` (values re-encoded). */
  readonly path: string;
  readonly values: PartitionValues;
  readonly files: SourceFile[];
}

export const SKIP_REASONS = [
  'empty-object',
  'marker-file',
  'checksum-file',
  'temporary-file',
  'companion-file',
  'hidden-file',
  'unsupported-format',
  'unknown-format',
  'outside-layout',
  'unreadable-key',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface SkippedKey {
  readonly key: string;
  readonly reason: SkipReason;
}

export interface Discovery {
  readonly partitions: PartitionListing[];
  readonly skipped: Readonly<Record<SkipReason, number>>;
  /** The first few skipped keys of each reason, for the run report. */
  readonly skippedExamples: SkippedKey[];
}

/**
 * How producers lay out keys: `hive` (`k=v/` segments, Kafka Connect's partitioners included) or
 * `firehose` (Kinesis Data Firehose's default `YYYY/MM/DD/HH/`, objects often without extension).
 */
export type LayoutKind = 'hive' | 'firehose';
export const LAYOUT_KINDS: readonly LayoutKind[] = ['hive', 'firehose'];

export interface TableLayout {
  /** Key prefix of the table in the landing bucket, ending in `/`. */
  readonly prefix: string;
  /** Partition columns in path order, e.g. `['dt', 'hour']`. */
  readonly partitionKeys: readonly string[];
  /** @default 'hive' */
  readonly kind?: LayoutKind;
}

const EXAMPLES_PER_REASON = 5;

/** Why a key is not data, or undefined when it is a data file. */
export function skipReason(key: string, size: number): SkipReason | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (key.includes('/_temporary/') || key.startsWith('_temporary/') || key.includes('/+tmp/') || key.startsWith('+tmp/')) {
    return 'temporary-file';
  }
  if (name === '_SUCCESS' || name.endsWith('_$folder$')) return 'marker-file';
  if (name.endsWith('.crc')) return 'checksum-file';
  if (name.includes('.keys.') || name.includes('.headers.')) return 'companion-file';
  if (name.startsWith('_') || name.startsWith('.')) return 'hidden-file';
  if (size === 0) return 'empty-object';
  if (isUnsupportedFormat(name)) return 'unsupported-format';
  if (!formatOf(name)) return 'unknown-format';
  return undefined;
}

/** A string holding a UTF-16 surrogate half that is not part of a pair: no UTF-8 bytes can spell it. */
export const hasLoneSurrogate = (s: string) => /\p{Cs}/u.test(s);

/**
 * Hive path escaping: keep a conservative set, percent-encode the UTF-8 bytes of every other code
 * point (so `/` can never appear). Injective on well-formed strings, which is all a partition value
 * can be (parsing rejects the rest), so every value has its own path and decodes back to itself.
 */
export function encodePartitionValue(value: string): string {
  return value.replace(/[^A-Za-z0-9._~-]/gu, (c) =>
    Array.from(Buffer.from(c, 'utf8'))
      .map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0'))
      .join(''),
  );
}

export function partitionPath(keys: readonly string[], values: PartitionValues): string {
  return keys.map((k) => `${k}=${encodePartitionValue(values[k] ?? '')}`).join('/');
}

/**
 * Partition values of a key under a Hive-style layout: the directory segments between
 * the table prefix and the file name must be exactly `k=v` for the table's keys, in order.
 */
export function parseHivePartition(
  relativeKey: string,
  partitionKeys: readonly string[],
): PartitionValues | undefined {
  const segments = relativeKey.split('/');
  const dirs = segments.slice(0, -1);
  if (dirs.length !== partitionKeys.length) return undefined;
  const values: Record<string, string> = {};
  for (let i = 0; i < dirs.length; i++) {
    const eq = dirs[i].indexOf('=');
    if (eq <= 0 || dirs[i].slice(0, eq) !== partitionKeys[i]) return undefined;
    try {
      values[partitionKeys[i]] = decodeURIComponent(dirs[i].slice(eq + 1));
    } catch {
      return undefined;
    }
    if (hasLoneSurrogate(values[partitionKeys[i]])) return undefined;
  }
  return values;
}

/**
 * Partition values of a key under Firehose's `YYYY/MM/DD/HH/` layout, for partition keys
 * `dt, hour` (dt = YYYY-MM-DD) or `year, month, day, hour`.
 */
export function parseFirehosePartition(relativeKey: string, partitionKeys: readonly string[]): PartitionValues | undefined {
  const dirs = relativeKey.split('/').slice(0, -1);
  if (dirs.length !== 4 || !/^\d{4}$/.test(dirs[0]) || !dirs.slice(1).every((d) => /^\d{2}$/.test(d))) return undefined;
  const [year, month, day, hour] = dirs;
  if (partitionKeys.join() === 'dt,hour') return { dt: `${year}-${month}-${day}`, hour };
  if (partitionKeys.join() === 'year,month,day,hour') return { year, month, day, hour };
  return undefined;
}

/** Firehose writes JSON records without a file extension, or with `.gz` when it compresses them. */
function firehoseFormat(key: string): InputFormat | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const hasExtension = (n: string) => /\.[A-Za-z0-9]{1,8}$/.test(n);
  if (name.endsWith('.gz')) return hasExtension(name.slice(0, -3)) ? undefined : 'jsonl.gz';
  return hasExtension(name) ? undefined : 'jsonl';
}

/** Groups a listing into partitions of data files; everything else is counted by reason. */
export function discover(objects: Iterable<ListedObject>, layout: TableLayout): Discovery {
  const skipped = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
  const skippedExamples: SkippedKey[] = [];
  const byPath = new Map<string, { values: PartitionValues; files: SourceFile[] }>();

  const skip = (key: string, reason: SkipReason) => {
    skipped[reason]++;
    if (skipped[reason] <= EXAMPLES_PER_REASON) skippedExamples.push({ key, reason });
  };

  for (const obj of objects) {
    if (obj.keyError) {
      skip(obj.key, 'unreadable-key');
      continue;
    }
    if (!obj.key.startsWith(layout.prefix)) continue;
    const relative = obj.key.slice(layout.prefix.length);
    const firehose = layout.kind === 'firehose';
    let reason = skipReason(obj.key, obj.size);
    const fhFormat = firehose && reason === 'unknown-format' ? firehoseFormat(obj.key) : undefined;
    if (fhFormat) reason = undefined;
    if (reason) {
      skip(obj.key, reason);
      continue;
    }
    const values = firehose ? parseFirehosePartition(relative, layout.partitionKeys) : parseHivePartition(relative, layout.partitionKeys);
    if (!values) {
      skip(obj.key, 'outside-layout');
      continue;
    }
    const path = partitionPath(layout.partitionKeys, values);
    let entry = byPath.get(path);
    if (!entry) byPath.set(path, (entry = { values, files: [] }));
    entry.files.push({ ...obj, format: formatOf(obj.key) ?? fhFormat! });
  }

  const partitions = [...byPath.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, { values, files }]) => ({
      path,
      values,
      files: files.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    }));
  return { partitions, skipped, skippedExamples };
}
