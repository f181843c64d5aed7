/** How a partition's files, in order, are cut into contiguous bins. Pure. */

/** A remainder is spread over the other bins when they stay within this overshoot of the target. */
export const SPREAD_TOLERANCE = 0.1;

/** Files `[start, end)` of an ordered list. */
export type Range = readonly [start: number, end: number];

/** How many bins a partition's small files need: the remainder is spread when bins stay within tolerance. */
export function binCount(totalEstimated: number, targetBytes: number): number {
  const n = Math.max(1, Math.ceil(totalEstimated / targetBytes));
  if (n > 1 && totalEstimated / (n - 1) <= targetBytes * (1 + SPREAD_TOLERANCE)) return n - 1;
  return n;
}

/**
 * Splits files (in order) into `count` contiguous bins of near-equal estimated size: each bin is
 * filled up to its fair share of what remains, so no bin is a tiny leftover. Returns undefined
 * when some bin would exceed `cap` (then the caller tries one bin more).
 */
function splitEvenly(sizes: ArrayLike<number>, count: number, cap: number): Range[] | undefined {
  const bins: Range[] = [];
  let remaining = 0;
  for (let i = 0; i < sizes.length; i++) remaining += sizes[i];
  let i = 0;
  for (let b = 0; b < count; b++) {
    const binsLeft = count - b;
    const share = remaining / binsLeft;
    const start = i;
    let filled = 0;
    // Leave at least one file for every later bin.
    while (i < sizes.length && sizes.length - i > binsLeft - 1) {
      const last = b === count - 1;
      if (i > start && !last && (filled + sizes[i] / 2 > share || filled + sizes[i] > cap)) break;
      filled += sizes[i];
      i++;
    }
    if (filled > cap && i - start > 1) return undefined;
    remaining -= filled;
    bins.push([start, i]);
  }
  return bins;
}

export interface PackLimits {
  /** Estimated output bytes a bin aims at (the target file size). */
  readonly targetBytes: number;
  /** Input bytes a bin may hold (the compact step's scratch space). */
  readonly maxInputBytes: number;
  /** Objects a bin may hold (its fetch must finish inside the compact step's timeout). */
  readonly maxObjects: number;
}

/**
 * Cuts files into the fewest balanced bins that respect every limit: `estimated` output and
 * `input` bytes per file, in order. Every file is in exactly one bin.
 */
export function packBins(estimated: ArrayLike<number>, input: ArrayLike<number>, limits: PackLimits): Range[] {
  const n = estimated.length;
  let total = 0;
  let inputTotal = 0;
  for (let i = 0; i < n; i++) {
    total += estimated[i];
    inputTotal += input[i];
  }
  const cap = limits.targetBytes * (1 + SPREAD_TOLERANCE);
  const fits = (bins: Range[] | undefined): bins is Range[] =>
    bins !== undefined &&
    bins.every(([a, b]) => {
      if (b - a > limits.maxObjects) return false;
      let bytes = 0;
      for (let i = a; i < b; i++) bytes += input[i];
      return bytes <= limits.maxInputBytes || b - a === 1;
    });
  let count = Math.min(Math.max(binCount(total, limits.targetBytes), Math.ceil(inputTotal / limits.maxInputBytes), Math.ceil(n / limits.maxObjects)), n);
  // Tiny files bound by objects, not bytes: an even split by count fits where a byte split may not.
  const byObjects = (k: number): Range[] | undefined => {
    const ranges = Array.from({ length: k }, (_, i): Range => [Math.floor((i * n) / k), Math.floor(((i + 1) * n) / k)]);
    return ranges.every(([a, b]) => {
      let bytes = 0;
      for (let i = a; i < b; i++) bytes += estimated[i];
      return bytes <= cap;
    })
      ? ranges
      : undefined;
  };
  let bins = splitEvenly(estimated, count, cap);
  if (!fits(bins)) bins = byObjects(count);
  while (!fits(bins) && count < n) {
    bins = splitEvenly(estimated, ++count, cap);
    if (!fits(bins)) bins = byObjects(count);
  }
  return bins ?? splitEvenly(estimated, n, Infinity)!;
}
