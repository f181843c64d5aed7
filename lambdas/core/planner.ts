import { ConfigurationError } from './errors';
import { DEFAULT_OUTPUT_RATIOS, type InputFormat } from './formats';
import { contentId } from './hash';
import { kafkaSortKey, parseKafkaName } from './kafka';
import { packBins } from './bin-packing';
import { DEFAULT_MAX_BIN_OBJECTS, estimateBinSeconds } from './bin-budget';
import { mergeGroups, type MergeGroup } from './merge-plan';
import { FileTable } from './file-table';
import { inKeyOrder, type Discovery, type PartitionValues, type SourceFile } from './partitions';
import { partitionWindowEnd } from './time-window';
import { sourceId, type CommittedBase } from './state';
import { MB, TARGET_FILE_MB } from './units';

export { MB } from './units';

export interface PlannerOptions {
  /** Output Parquet bytes per compacted file (64 MB-1 GB). */
  readonly targetBytes: number;
  /** A file is small when its estimated output is below this fraction of the target. */
  readonly smallFileFraction: number;
  /** A partition is compacted only when it has at least this many small files. */
  readonly minInputFiles: number;
  /** At most this many bins per run; later partitions wait for the next run. */
  readonly maxBinsPerRun: number;
  /** At most this many input bytes per run. */
  readonly maxInputBytesPerRun: number;
  /** Output bytes per input byte, per format (measured by earlier runs' swaps, else defaults). */
  readonly outputRatios: Readonly<Record<InputFormat, number>>;
  /** A partition is held until its time window ended this long ago (0: never held). */
  readonly quietPeriodMs: number;
  /** A bin's inputs must fit the compact step's scratch space: bins are split below this. */
  readonly maxBinInputBytes: number;
  /** Objects one bin may hold, so that its fetch finishes inside the compact step's timeout. */
  readonly maxBinObjects: number;
  /** Bytes of intermediate outputs one merge reads (they must fit the merge step's scratch space). */
  readonly maxMergeInputBytes: number;
  /** The planning time (ISO-8601), for the quiet period; unset: no partition is held for it. */
  readonly now?: string;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = {
  targetBytes: TARGET_FILE_MB.default * MB,
  smallFileFraction: 0.75,
  minInputFiles: 5,
  maxBinsPerRun: 1000,
  maxInputBytesPerRun: 1024 * 1024 * MB,
  outputRatios: DEFAULT_OUTPUT_RATIOS,
  quietPeriodMs: 3_600_000,
  maxBinInputBytes: 8 * 1024 * MB,
  maxBinObjects: DEFAULT_MAX_BIN_OBJECTS,
  maxMergeInputBytes: 4 * 1024 * MB,
};

export interface Bin {
  /** Hash of the sorted input keys and ETags: the same inputs always give the same id. */
  readonly binId: string;
  /** The bin's inputs, in order (made from the plan's file table on each read). */
  readonly files: SourceFile[];
  readonly fileCount: number;
  /** Input sizes, in the bin's order. */
  sizes(): number[];
  readonly inputBytes: number;
  readonly estimatedOutputBytes: number;
  /** Estimated compact duration (core/bin-budget), well inside the compact step's timeout. */
  readonly estimatedSeconds: number;
}

export interface PartitionPlan {
  readonly path: string;
  readonly values: PartitionValues;
  /** Hash of this partition's bins and carried files: names the gold version prefix. */
  readonly version: string;
  readonly bins: Bin[];
  /**
   * Set when the bins are more than the partition's target-size files: the bins write to stage
   * keys, and these merges write the version's files from them.
   */
  readonly merges: MergeGroup[];
  /** Large files of the base version: copied into the new version as they are. */
  readonly carried: SourceFile[];
  /** The committed version this plan builds on (its files are inputs or carried), if any. */
  readonly baseVersion?: string;
  /** Landing files new since the base version. */
  readonly newFiles: number;
}

export type HoldReason = 'below-min-input-files' | 'run-cap' | 'up-to-date' | 'quiet-period' | 'key-too-long' | 'file-too-large';

export interface HeldPartition {
  readonly path: string;
  readonly reason: HoldReason;
  readonly smallFiles: number;
}

export interface Plan {
  /** Hash of every bin id in the plan: the same listing gives the same plan id. */
  readonly planId: string;
  readonly partitions: PartitionPlan[];
  readonly held: HeldPartition[];
  readonly totals: { readonly bins: number; readonly inputFiles: number; readonly inputBytes: number; readonly estimatedOutputBytes: number };
}

export function validatePlannerOptions(o: PlannerOptions): PlannerOptions {
  const fail = (what: string) => {
    throw new ConfigurationError(`planner option ${what}`);
  };
  if (!(o.targetBytes >= TARGET_FILE_MB.min * MB && o.targetBytes <= TARGET_FILE_MB.max * MB)) {
    fail(`targetBytes must be between ${TARGET_FILE_MB.min} MB and ${TARGET_FILE_MB.max} MB, got ${(o.targetBytes / MB).toFixed(1)} MB`);
  }
  if (!(o.smallFileFraction > 0 && o.smallFileFraction <= 1)) fail(`smallFileFraction must be in (0, 1], got ${o.smallFileFraction}`);
  if (!(Number.isInteger(o.minInputFiles) && o.minInputFiles >= 2)) fail(`minInputFiles must be an integer >= 2, got ${o.minInputFiles}`);
  if (!(Number.isInteger(o.maxBinsPerRun) && o.maxBinsPerRun >= 1)) fail(`maxBinsPerRun must be an integer >= 1, got ${o.maxBinsPerRun}`);
  if (!(o.maxBinObjects >= 1 && Number.isInteger(o.maxBinObjects))) fail(`maxBinObjects must be an integer >= 1, got ${o.maxBinObjects}`);
  if (!(o.maxMergeInputBytes >= o.targetBytes)) fail(`maxMergeInputBytes must be at least targetBytes, got ${o.maxMergeInputBytes}`);
  if (!(o.maxBinInputBytes >= MB)) fail(`maxBinInputBytes must be at least 1 MB, got ${o.maxBinInputBytes}`);
  if (!(o.quietPeriodMs >= 0)) fail(`quietPeriodMs must be >= 0, got ${o.quietPeriodMs}`);
  if (!(o.maxInputBytesPerRun > 0)) fail(`maxInputBytesPerRun must be > 0, got ${o.maxInputBytesPerRun}`);
  for (const [format, ratio] of Object.entries(o.outputRatios)) {
    if (!(ratio > 0 && ratio <= 10)) fail(`outputRatios.${format} must be in (0, 10], got ${ratio}`);
  }
  return o;
}

export function estimateOutputBytes(file: Pick<SourceFile, 'size' | 'format'>, ratios: PlannerOptions['outputRatios']): number {
  return Math.ceil(file.size * ratios[file.format]);
}

const byKey = (x: { key: string; line: string }, y: { key: string; line: string }) =>
  x.key < y.key ? -1 : x.key > y.key ? 1 : x.line < y.line ? -1 : x.line > y.line ? 1 : 0;

/** A bin over rows `[start, end)` of `table` (`keys`: the rows' keys); its files are made only when read. */
function makeBin(table: FileTable, start: number, end: number, keys: readonly string[], ratios: PlannerOptions['outputRatios']): Bin {
  const entries: Array<{ key: string; line: string }> = [];
  let inputBytes = 0;
  let estimatedOutputBytes = 0;
  let ordered = true;
  for (let i = start; i < end; i++) {
    entries.push({ key: keys[i], line: `${table.fromGold(i) ? 'gold:' : ''}${keys[i]}\u0000${table.etag(i)}` });
    if (i > start && keys[i - 1] > keys[i]) ordered = false;
    inputBytes += table.size(i);
    estimatedOutputBytes += Math.ceil(table.size(i) * ratios[table.format(i)]);
  }
  // Ids hash the inputs in key order, whatever order the bin holds them in (Kafka: offset order).
  if (!ordered) entries.sort(byKey);
  return {
    binId: contentId(entries.map((e) => e.line)),
    get files() {
      const files = table.files(start, end);
      return ordered ? files : inKeyOrder(files);
    },
    fileCount: end - start,
    sizes: () => Array.from({ length: end - start }, (_, j) => table.size(start + j)),
    inputBytes,
    estimatedOutputBytes,
    estimatedSeconds: estimateBinSeconds(end - start, inputBytes),
  };
}

/**
 * A partition's small files in bin order: Kafka Connect objects in (topic-partition, offset)
 * order, so bins cut a topic-partition into consecutive ranges, everything else in key order.
 * The listing's own table is used as it is when it already is that order (the usual case).
 */
function orderedCandidates(landing: FileTable, fresh: readonly number[], gold: readonly SourceFile[], allFresh: boolean): { table: FileTable; keys: string[] } {
  const keys = [...gold.map((g) => g.key), ...fresh.map((i) => landing.key(i))];
  const kafka = keys.some((k) => parseKafkaName(k) !== undefined);
  const sortKeys = kafka ? keys.map(kafkaSortKey) : keys;
  const order = keys.map((_, i) => i);
  let sorted = true;
  for (let i = 1; i < sortKeys.length && sorted; i++) if (sortKeys[i - 1] > sortKeys[i]) sorted = false;
  if (!sorted) order.sort((a, b) => (sortKeys[a] < sortKeys[b] ? -1 : sortKeys[a] > sortKeys[b] ? 1 : 0));
  if (sorted && allFresh && gold.length === 0) return { table: landing, keys };
  const table = new FileTable();
  for (const i of order) {
    if (i < gold.length) table.push(gold[i]);
    else table.pushFrom(landing, fresh[i - gold.length]);
  }
  return { table, keys: order.map((i) => keys[i]) };
}

/**
 * Packs each partition's small files into bins. Pure and deterministic.
 *
 * A partition with a committed version is planned from that version's gold files plus the
 * landing files it does not hold yet (late data), so the new version holds old and new rows
 * exactly once, even after the old sources were retired. Landing files it already holds are
 * left out; with nothing new the partition is up to date.
 */
export function planCompaction(
  discovery: Discovery,
  options: PlannerOptions = DEFAULT_PLANNER_OPTIONS,
  committed: ReadonlyMap<string, CommittedBase> = new Map(),
): Plan {
  validatePlannerOptions(options);
  const { targetBytes, outputRatios } = options;
  const smallLimit = targetBytes * options.smallFileFraction;
  const partitions: PartitionPlan[] = [];
  const held: HeldPartition[] = [];
  let binsSoFar = 0;
  let bytesSoFar = 0;

  for (const partition of discovery.partitions) {
    const landing = partition.files;
    const windowEnd = options.now && options.quietPeriodMs > 0 ? partitionWindowEnd(partition.values) : undefined;
    if (windowEnd && Date.parse(options.now!) < windowEnd.getTime() + options.quietPeriodMs) {
      held.push({ path: partition.path, reason: 'quiet-period', smallFiles: landing.length });
      continue;
    }
    const base = committed.get(partition.path);
    const fresh: number[] = [];
    for (let i = 0; i < landing.length; i++) if (!base || !base.sourceIds.has(sourceId(landing.key(i), landing.etag(i)))) fresh.push(i);
    if (base && fresh.length === 0) {
      held.push({ path: partition.path, reason: 'up-to-date', smallFiles: 0 });
      continue;
    }
    // Only our own large gold files are kept as they are (their rows are known from the manifests);
    // everything else, large landing Parquet included, is rewritten into the version.
    const carried: SourceFile[] = [];
    const goldSmall: SourceFile[] = [];
    for (const g of base?.files ?? []) {
      const f: SourceFile = { key: g.key, size: g.bytes, etag: g.etag, format: 'parquet', fromGold: true };
      (estimateOutputBytes(f, outputRatios) >= smallLimit ? carried : goldSmall).push(f);
    }
    const smallCount = goldSmall.length + fresh.length;
    // Late data for a committed partition is always taken: readers see the catalog's version only.
    if (!base && smallCount < options.minInputFiles) {
      held.push({ path: partition.path, reason: 'below-min-input-files', smallFiles: smallCount });
      continue;
    }
    const { table, keys } = orderedCandidates(landing, fresh, goldSmall, !base);
    inKeyOrder(carried);
    const estimated = new Float64Array(table.length);
    const input = new Float64Array(table.length);
    let tooLarge = false;
    for (let i = 0; i < table.length; i++) {
      input[i] = table.size(i);
      estimated[i] = Math.ceil(input[i] * outputRatios[table.format(i)]);
      if (input[i] > options.maxBinInputBytes) tooLarge = true;
    }
    // One object larger than a bin may be cannot be compacted here: reported, never attempted.
    if (tooLarge) {
      held.push({ path: partition.path, reason: 'file-too-large', smallFiles: smallCount });
      continue;
    }
    const ranges = packBins(estimated, input, { targetBytes, maxInputBytes: options.maxBinInputBytes, maxObjects: options.maxBinObjects });
    const bins = ranges.map(([a, b]) => makeBin(table, a, b, keys, outputRatios));
    const inputBytes = bins.reduce((n, b) => n + b.inputBytes, 0);

    // Whole partitions only, so every committed version holds all of its partition; the first always fits.
    const first = partitions.length === 0;
    if (!first && (binsSoFar + bins.length > options.maxBinsPerRun || bytesSoFar + inputBytes > options.maxInputBytesPerRun)) {
      held.push({ path: partition.path, reason: 'run-cap', smallFiles: smallCount });
      continue;
    }
    binsSoFar += bins.length;
    bytesSoFar += inputBytes;
    const merges = mergeGroups(bins, targetBytes, options.maxMergeInputBytes);
    const version = contentId([
      partition.path,
      // A rollback commits an old version anew: what is planned on it gets ids never used before.
      ...(base?.committedAt ? [`base ${base.version} ${base.committedAt}`] : []),
      ...bins.map((b) => `bin ${b.binId}`),
      ...carried.map((f) => `carried ${f.key}\u0000${f.etag}`),
      ...merges.map((m) => `merge ${m.mergeId}`),
    ]);
    partitions.push({
      path: partition.path,
      values: partition.values,
      version,
      bins,
      merges,
      carried,
      ...(base ? { baseVersion: base.version } : {}),
      newFiles: fresh.length,
    });
  }

  return {
    planId: contentId(partitions.map((p) => `${p.path} ${p.version}`)),
    partitions,
    held,
    totals: totalsOf(partitions),
  };
}

export function totalsOf(partitions: readonly PartitionPlan[]): Plan['totals'] {
  const allBins = partitions.flatMap((p) => p.bins);
  return {
    bins: allBins.length,
    inputFiles: allBins.reduce((s, b) => s + b.fileCount, 0),
    inputBytes: allBins.reduce((s, b) => s + b.inputBytes, 0),
    estimatedOutputBytes: allBins.reduce((s, b) => s + b.estimatedOutputBytes, 0),
  };
}
