import { binCount } from './bin-packing';
import { contentId } from './hash';

/** A group of one partition's bins whose outputs the second stage merges into target-size files. */
export interface MergeGroup {
  /**
   * Hash of the target size and its bins' ids: the same bins always give the same merge, and
   * another target (another file count) another merge, so no earlier attempt's files share its keys.
   */
  readonly mergeId: string;
  readonly binIds: readonly string[];
  /** Estimated bytes of the bins' outputs: what the merge reads. */
  readonly estimatedInputBytes: number;
}

/**
 * A partition that needs more bins than target-size files (its bins are bounded by objects or
 * scratch space, not by output size) gets a second stage: contiguous runs of its bins, each
 * read by one merge of at most `maxMergeInputBytes`, written as the fewest target-size files.
 * A partition whose bins already make target-size files (or has one bin) is not merged.
 */
export function mergeGroups(
  bins: ReadonlyArray<{ readonly binId: string; readonly estimatedOutputBytes: number }>,
  targetBytes: number,
  maxMergeInputBytes: number,
): MergeGroup[] {
  const total = bins.reduce((n, b) => n + b.estimatedOutputBytes, 0);
  if (bins.length < 2 || binCount(total, targetBytes) >= bins.length) return [];
  const groups: MergeGroup[] = [];
  let run: Array<(typeof bins)[number]> = [];
  let bytes = 0;
  const close = () => {
    if (run.length) groups.push({ mergeId: contentId(['merge', String(targetBytes), ...run.map((b) => b.binId)]), binIds: run.map((b) => b.binId), estimatedInputBytes: bytes });
    run = [];
    bytes = 0;
  };
  for (const b of bins) {
    if (run.length && bytes + b.estimatedOutputBytes > maxMergeInputBytes) close();
    run.push(b);
    bytes += b.estimatedOutputBytes;
  }
  close();
  return groups;
}

/** How many files a merge writes: the fewest of the target size for its inputs' actual bytes. */
export const mergeOutputFiles = (inputBytes: number, targetBytes: number) => binCount(inputBytes, targetBytes);

/**
 * Intermediate files grouped by their columns (names, types and order all equal), in first-seen
 * order: each group is merged on its own, so every row keeps its columns and its checksum (a bin
 * that saw a new field or a wider type makes a group of its own rather than a retyped column).
 */
export function schemaGroups<T extends { readonly schema: ReadonlyArray<{ readonly name: string; readonly type: string }> }>(files: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const f of files) {
    const sig = JSON.stringify(f.schema.map((c) => [c.name, c.type]));
    const g = groups.get(sig) ?? groups.set(sig, []).get(sig)!;
    g.push(f);
  }
  return [...groups.values()];
}
