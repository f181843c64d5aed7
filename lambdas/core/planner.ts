import { ConfigurationError } from './errors';
import { DEFAULT_OUTPUT_RATIOS, type InputFormat } from './formats';
import { contentId } from './hash';
import { kafkaSortKey } from './kafka';
import type { Discovery, PartitionValues, SourceFile } from './partitions';
import { sourceId, type CommittedBase } from './state';

export const MB = 1024 * 1024;

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
  /** Output bytes per input byte, per format (measured by earlier runs, else defaults). */
  readonly outputRatios: Readonly<Record<InputFormat, number>>;
  /** A partition is held until its time window ended this long ago (0: never held). */
  readonly quietPeriodMs: number;
  /** A bin's inputs must fit the compact step's scratch space: bins are split below this. */
  readonly maxBinInputBytes: number;
  /** The planning time (ISO-8601), for the quiet period; unset: no partition is held for it. */
  readonly now?: string;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = {
  targetBytes: 512 * MB,
  smallFileFraction: 0.75,
  minInputFiles: 5,
  maxBinsPerRun: 1000,
  maxInputBytesPerRun: 1024 * 1024 * MB,
  outputRatios: DEFAULT_OUTPUT_RATIOS,
  quietPeriodMs: 3_600_000,
  maxBinInputBytes: 8 * 1024 * MB,
};

/** A remainder is spread over the other bins when they stay within this overshoot of the target. */
export const SPREAD_TOLERANCE = 0.1;

export interface Bin {
  /** Hash of the sorted input keys and ETags: the same inputs always give the same id. */
  readonly binId: string;
  readonly files: SourceFile[];
  readonly inputBytes: number;
  readonly estimatedOutputBytes: number;
}

export interface PartitionPlan {
  readonly path: string;
  readonly values: PartitionValues;
  /** Hash of this partition's bins and carried files: names the gold version prefix. */
  readonly version: string;
  readonly bins: Bin[];
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
  if (!(o.targetBytes >= 64 * MB && o.targetBytes <= 1024 * MB)) {
    fail(`targetBytes must be between 64 MB and 1024 MB, got ${(o.targetBytes / MB).toFixed(1)} MB`);
  }
  if (!(o.smallFileFraction > 0 && o.smallFileFraction <= 1)) fail(`smallFileFraction must be in (0, 1], got ${o.smallFileFraction}`);
  if (!(Number.isInteger(o.minInputFiles) && o.minInputFiles >= 2)) fail(`minInputFiles must be an integer >= 2, got ${o.minInputFiles}`);
  if (!(Number.isInteger(o.maxBinsPerRun) && o.maxBinsPerRun >= 1)) fail(`maxBinsPerRun must be an integer >= 1, got ${o.maxBinsPerRun}`);
  if (!(o.maxBinInputBytes >= MB)) fail(`maxBinInputBytes must be at least 1 MB, got ${o.maxBinInputBytes}`);
  if (!(o.quietPeriodMs >= 0)) fail(`quietPeriodMs must be >= 0, got ${o.quietPeriodMs}`);
  if (!(o.maxInputBytesPerRun > 0)) fail(`maxInputBytesPerRun must be > 0, got ${o.maxInputBytesPerRun}`);
  for (const [format, ratio] of Object.entries(o.outputRatios)) {
    if (!(ratio > 0 && ratio <= 10)) fail(`outputRatios.${format} must be in (0, 10], got ${ratio}`);
  }
  return o;
}

const pad2 = (s: string) => s.padStart(2, '0');

/**
 * End of a partition's time window, from `dt` (YYYY-MM-DD) or `year`/`month`/`day`, narrowed by
 * `hour`; undefined when the partition has no time keys.
 */
export function partitionWindowEnd(values: PartitionValues): Date | undefined {
  let day: string | undefined;
  if (values.dt && /^\d{4}-\d{2}-\d{2}$/.test(values.dt)) day = values.dt;
  else if (values.year && values.month && values.day) day = `${values.year}-${pad2(values.month)}-${pad2(values.day)}`;
  if (!day) return undefined;
  const hour = values.hour !== undefined && /^\d{1,2}$/.test(values.hour) ? Number(values.hour) : undefined;
  const start = Date.parse(`${day}T${hour === undefined ? '00' : pad2(String(hour))}:00:00Z`);
  if (Number.isNaN(start)) return undefined;
  return new Date(start + (hour === undefined ? 86_400_000 : 3_600_000));
}

export function estimateOutputBytes(file: SourceFile, ratios: PlannerOptions['outputRatios']): number {
  return Math.ceil(file.size * ratios[file.format]);
}

/**
 * Splits files (in key order) into `count` contiguous bins of near-equal estimated size: each
 * bin is filled up to its fair share of what remains, so no bin is a tiny leftover. Returns
 * undefined when some bin would exceed `cap` (then the caller tries one bin more).
 */
function splitEvenly(files: SourceFile[], sizes: number[], count: number, cap: number): SourceFile[][] | undefined {
  const bins: SourceFile[][] = [];
  let remaining = sizes.reduce((a, b) => a + b, 0);
  let i = 0;
  for (let b = 0; b < count; b++) {
    const binsLeft = count - b;
    const share = remaining / binsLeft;
    const bin: SourceFile[] = [];
    let filled = 0;
    // Leave at least one file for every later bin.
    while (i < files.length && files.length - i > binsLeft - 1) {
      const last = b === count - 1;
      if (bin.length > 0 && !last && (filled + sizes[i] / 2 > share || filled + sizes[i] > cap)) break;
      bin.push(files[i]);
      filled += sizes[i];
      i++;
    }
    if (filled > cap && bin.length > 1) return undefined;
    remaining -= filled;
    bins.push(bin);
  }
  return bins;
}

/** How many bins a partition's small files need: the remainder is spread when bins stay within tolerance. */
export function binCount(totalEstimated: number, targetBytes: number): number {
  const n = Math.max(1, Math.ceil(totalEstimated / targetBytes));
  if (n > 1 && totalEstimated / (n - 1) <= targetBytes * (1 + SPREAD_TOLERANCE)) return n - 1;
  return n;
}

function makeBin(files: SourceFile[], ratios: PlannerOptions['outputRatios']): Bin {
  const sorted = [...files].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    binId: contentId(sorted.map((f) => `${f.fromGold ? 'gold:' : ''}${f.key}\u0000${f.etag}`)),
    files: sorted,
    inputBytes: sorted.reduce((s, f) => s + f.size, 0),
    estimatedOutputBytes: sorted.reduce((s, f) => s + estimateOutputBytes(f, ratios), 0),
  };
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
    const windowEnd = options.now && options.quietPeriodMs > 0 ? partitionWindowEnd(partition.values) : undefined;
    if (windowEnd && Date.parse(options.now!) < windowEnd.getTime() + options.quietPeriodMs) {
      held.push({ path: partition.path, reason: 'quiet-period', smallFiles: partition.files.length });
      continue;
    }
    const base = committed.get(partition.path);
    const fresh = base ? partition.files.filter((f) => !base.sourceIds.has(sourceId(f.key, f.etag))) : partition.files;
    if (base && fresh.length === 0) {
      held.push({ path: partition.path, reason: 'up-to-date', smallFiles: 0 });
      continue;
    }
    const goldFiles: SourceFile[] = (base?.files ?? []).map((g) => ({
      key: g.key,
      size: g.bytes,
      etag: g.etag,
      lastModified: '',
      format: 'parquet',
      fromGold: true,
    }));
    const small: SourceFile[] = [];
    const carried: SourceFile[] = [];
    // Only our own large gold files are kept as they are (their rows are known from the manifests);
    // everything else, large landing Parquet included, is rewritten into the version.
    for (const f of [...goldFiles, ...fresh]) (f.fromGold && estimateOutputBytes(f, outputRatios) >= smallLimit ? carried : small).push(f);

    // Late data for a committed partition is always taken: readers see the catalog's version only.
    if (!base && small.length < options.minInputFiles) {
      held.push({ path: partition.path, reason: 'below-min-input-files', smallFiles: small.length });
      continue;
    }
    // Kafka Connect objects in offset order, so bins cut a topic-partition into consecutive ranges.
    const sortKey = new Map(small.map((f) => [f, kafkaSortKey(f.key)]));
    small.sort((a, b) => (sortKey.get(a)! < sortKey.get(b)! ? -1 : sortKey.get(a)! > sortKey.get(b)! ? 1 : 0));
    carried.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const sizes = small.map((f) => estimateOutputBytes(f, outputRatios));
    const total = sizes.reduce((a, b) => a + b, 0);
    // One object larger than a bin may be cannot be compacted here: reported, never attempted.
    if (small.some((f) => f.size > options.maxBinInputBytes)) {
      held.push({ path: partition.path, reason: 'file-too-large', smallFiles: small.length });
      continue;
    }
    const inputTotal = small.reduce((n, f) => n + f.size, 0);
    let count = Math.min(Math.max(binCount(total, targetBytes), Math.ceil(inputTotal / options.maxBinInputBytes)), small.length);
    const cap = targetBytes * (1 + SPREAD_TOLERANCE);
    const fits = (bins: SourceFile[][] | undefined) => bins?.every((b) => b.reduce((n, f) => n + f.size, 0) <= options.maxBinInputBytes);
    let split = splitEvenly(small, sizes, count, cap);
    while (!fits(split)) split = splitEvenly(small, sizes, ++count, cap);
    const bins = split!.map((files) => makeBin(files, outputRatios));
    const inputBytes = bins.reduce((s, b) => s + b.inputBytes, 0);

    // Whole partitions only, so every committed version holds all of its partition; the first always fits.
    const first = partitions.length === 0;
    if (!first && (binsSoFar + bins.length > options.maxBinsPerRun || bytesSoFar + inputBytes > options.maxInputBytesPerRun)) {
      held.push({ path: partition.path, reason: 'run-cap', smallFiles: small.length });
      continue;
    }
    binsSoFar += bins.length;
    bytesSoFar += inputBytes;
    const version = contentId([
      partition.path,
      // A rollback commits an old version anew: what is planned on it gets ids never used before.
      ...(base?.committedAt ? [`base ${base.version} ${base.committedAt}`] : []),
      ...bins.map((b) => `bin ${b.binId}`),
      ...carried.map((f) => `carried ${f.key}\u0000${f.etag}`),
    ]);
    partitions.push({
      path: partition.path,
      values: partition.values,
      version,
      bins,
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
    inputFiles: allBins.reduce((s, b) => s + b.files.length, 0),
    inputBytes: allBins.reduce((s, b) => s + b.inputBytes, 0),
    estimatedOutputBytes: allBins.reduce((s, b) => s + b.estimatedOutputBytes, 0),
  };
}

/**
 * Folds observed output/input ratios into the ones the planner uses next time
 * (weighted by input bytes, so one tiny bin cannot swing the estimate).
 */
export function mergeOutputRatios(
  previous: Readonly<Record<InputFormat, number>>,
  observations: ReadonlyArray<{ format: InputFormat; inputBytes: number; outputBytes: number }>,
  weightOfPrevious = 0.5,
): Record<InputFormat, number> {
  const next = { ...previous };
  const byFormat = new Map<InputFormat, { inputBytes: number; outputBytes: number }>();
  for (const o of observations) {
    if (o.inputBytes <= 0) continue;
    const acc = byFormat.get(o.format) ?? { inputBytes: 0, outputBytes: 0 };
    acc.inputBytes += o.inputBytes;
    acc.outputBytes += o.outputBytes;
    byFormat.set(o.format, acc);
  }
  for (const [format, { inputBytes, outputBytes }] of byFormat) {
    const observed = Math.min(10, Math.max(0.001, outputBytes / inputBytes));
    next[format] = weightOfPrevious * previous[format] + (1 - weightOfPrevious) * observed;
  }
  return next;
}
