import { FileTable } from './file-table';
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
export interface SourceFile {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly format: InputFormat;
  /** Set for compacted files of the committed version (in the gold bucket); landing otherwise. */
  readonly fromGold?: boolean;
}

export type PartitionValues = Readonly<Record<string, string>>;

export interface PartitionListing {
  /** Canonical Hive path, e.g. `dt=2024-12-19/hour=14` (values re-encoded). */
  readonly path: string;
  readonly values: PartitionValues;
  readonly files: FileTable;
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

/** Why a key is not data, judged by its directory alone (temporary output of a job), if it is not. */
function dirSkipReason(key: string): SkipReason | undefined {
  if (key.includes('/_temporary/') || key.startsWith('_temporary/') || key.includes('/+tmp/') || key.startsWith('+tmp/')) return 'temporary-file';
  return undefined;
}

/** Why a file name is not data, or its format when it is a data file. */
function classifyName(name: string, size: number): SkipReason | InputFormat {
  if (name === '_SUCCESS' || name.endsWith('_$folder$')) return 'marker-file';
  if (name.endsWith('.crc')) return 'checksum-file';
  if (name.includes('.keys.') || name.includes('.headers.')) return 'companion-file';
  if (name.startsWith('_') || name.startsWith('.')) return 'hidden-file';
  if (size === 0) return 'empty-object';
  const format = formatOf(name);
  if (format) return format;
  return isUnsupportedFormat(name) ? 'unsupported-format' : 'unknown-format';
}

/** Why a key is not data, or its format when it is a data file. */
function classify(key: string, size: number): SkipReason | InputFormat {
  const slash = key.lastIndexOf('/') + 1;
  return dirSkipReason(key.slice(0, slash)) ?? classifyName(key.slice(slash), size);
}

const isSkip = (c: SkipReason | InputFormat): c is SkipReason => (SKIP_REASONS as readonly string[]).includes(c);

/** Why a key is not data, or undefined when it is a data file. */
export function skipReason(key: string, size: number): SkipReason | undefined {
  const c = classify(key, size);
  return isSkip(c) ? c : undefined;
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

type Entry = { values: PartitionValues; files: FileTable; lastKey: string; sorted: boolean };

/**
 * Groups a listing into partitions of data files as it streams by; everything else is counted
 * by reason. A directory is parsed once, however many objects it holds (a million-object listing
 * has a few thousand directories), and each data file is kept as one small object.
 */
export class Discoverer {
  private readonly skipped = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
  private readonly skippedExamples: SkippedKey[] = [];
  private readonly byPath = new Map<string, Entry>();
  /** Directory (key up to its last `/`) -> its partition, or null when it is outside the layout. */
  private readonly dirs = new Map<string, Entry | null>();
  /** The previous object's directory: a listing in key order holds a directory's objects together. */
  private lastDir = '';
  private lastEntry: Entry | null = null;
  private lastDirReason: SkipReason | undefined;

  constructor(private readonly layout: TableLayout) {}

  private skip(key: string, reason: SkipReason): void {
    this.skipped[reason]++;
    if (this.skipped[reason] <= EXAMPLES_PER_REASON) this.skippedExamples.push({ key, reason });
  }

  private partitionOf(dir: string): Entry | null {
    let entry = this.dirs.get(dir);
    if (entry !== undefined) return entry;
    const relative = `${dir.slice(this.layout.prefix.length)}x`;
    const values = this.layout.kind === 'firehose' ? parseFirehosePartition(relative, this.layout.partitionKeys) : parseHivePartition(relative, this.layout.partitionKeys);
    if (values) {
      const path = partitionPath(this.layout.partitionKeys, values);
      entry = this.byPath.get(path) ?? { values, files: new FileTable(), lastKey: '', sorted: true };
      this.byPath.set(path, entry);
    } else entry = null;
    this.dirs.set(dir, entry);
    return entry;
  }

  add(obj: ListedObject): void {
    const key = obj.key;
    if (obj.keyError) return this.skip(key, 'unreadable-key');
    if (!key.startsWith(this.layout.prefix)) return;
    const slash = key.lastIndexOf('/') + 1;
    // The same directory as the previous object: no new string, no lookup.
    if (slash !== this.lastDir.length || !key.startsWith(this.lastDir)) {
      this.lastDir = key.slice(0, slash);
      this.lastDirReason = dirSkipReason(this.lastDir);
      this.lastEntry = this.lastDirReason ? null : this.partitionOf(this.lastDir);
    }
    const name = key.slice(slash);
    let c = this.lastDirReason ?? classifyName(name, obj.size);
    if (c === 'unknown-format' && this.layout.kind === 'firehose') c = firehoseFormat(key) ?? c;
    if (isSkip(c)) return this.skip(key, c);
    const entry = this.lastEntry;
    if (!entry) return this.skip(key, 'outside-layout');
    entry.files.pushParts(this.lastDir, name, obj.size, obj.etag, c, false, obj.lastModified);
    // S3 lists in strictly increasing key order: anything else is sorted (and a key listed twice dropped) at the end.
    if (key <= entry.lastKey) entry.sorted = false;
    entry.lastKey = key;
  }

  result(): Discovery {
    const partitions = [...this.byPath.entries()]
      // A directory holding only skipped objects made an empty entry.
      .filter(([, e]) => e.files.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      // Listings come in key order (S3 lists lexicographically); others are sorted here.
      .map(([path, { values, files, sorted }]) => ({ path, values, files: sorted ? files : resorted(files) }));
    return { partitions, skipped: { ...this.skipped }, skippedExamples: [...this.skippedExamples] };
  }
}

/** Sorts by key in place, unless the files are in key order already (S3 lists lexicographically). */
export function inKeyOrder<T extends { readonly key: string }>(files: T[]): T[] {
  for (let i = 1; i < files.length; i++) {
    if (files[i - 1].key > files[i].key) return files.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
  return files;
}

/** The table's files in key order, a key listed twice kept once (an input planned twice would be written twice). */
function resorted(t: FileTable): FileTable {
  const order = Array.from({ length: t.length }, (_, i) => ({ i, key: t.key(i) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
  const out = new FileTable();
  order.forEach((x, n) => (n === 0 || x.key !== order[n - 1].key) && out.pushFrom(t, x.i));
  return out;
}

/** Groups a listing into partitions of data files; everything else is counted by reason. */
export function discover(objects: Iterable<ListedObject>, layout: TableLayout): Discovery {
  const d = new Discoverer(layout);
  for (const obj of objects) d.add(obj);
  return d.result();
}
