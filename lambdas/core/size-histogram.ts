/** Object and file sizes in fixed buckets, as the plan and the run report show them. */
import type { SizeHistogram } from './contracts';

const SIZE_BUCKETS: ReadonlyArray<readonly [string, number]> = [
  ['< 1 KB', 1024],
  ['1-64 KB', 64 * 1024],
  ['64 KB-1 MB', 1024 * 1024],
  ['1-16 MB', 16 * 1024 * 1024],
  ['16-128 MB', 128 * 1024 * 1024],
  ['>= 128 MB', Infinity],
];

export function sizeHistogram(sizes: Iterable<number>): SizeHistogram {
  const counts = SIZE_BUCKETS.map(([label]) => [label, 0] as [string, number]);
  for (const s of sizes) counts[SIZE_BUCKETS.findIndex(([, max]) => s < max)][1]++;
  return counts;
}
