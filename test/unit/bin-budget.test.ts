import { packBins } from '../../lambdas/core/bin-packing';
import { BUDGET_SECONDS, COMPACT_TIMEOUT_SECONDS, DEFAULT_MAX_BIN_OBJECTS, estimateBinSeconds, MAX_BIN_OBJECTS_LIMIT } from '../../lambdas/core/bin-budget';
import { ConfigurationError } from '../../lambdas/core/errors';
import { DEFAULT_OUTPUT_RATIOS } from '../../lambdas/core/formats';
import { FileTable } from '../../lambdas/core/file-table';
import type { Discovery, SourceFile } from '../../lambdas/core/partitions';
import { DEFAULT_PLANNER_OPTIONS, planCompaction } from '../../lambdas/core/planner';

describe('the bin budget', () => {
  it('derives the default object bound from the measured costs, inside half the compact timeout', () => {
    expect([COMPACT_TIMEOUT_SECONDS, BUDGET_SECONDS, DEFAULT_MAX_BIN_OBJECTS, MAX_BIN_OBJECTS_LIMIT]).toEqual([900, 450, 200_000, 293_000]);
    expect(DEFAULT_PLANNER_OPTIONS.maxBinObjects).toBe(200_000);
    // A full bin of 1 KB objects, and of empty ones at the most a setting allows, stay within the budget.
    expect(estimateBinSeconds(200_000, 200_000 * 1024)).toBe(389);
    expect(estimateBinSeconds(MAX_BIN_OBJECTS_LIMIT, 0)).toBe(450);
  });

  it.each([
    [1, 250, 11],
    [10_000, 10_000 * 250, 26],
    [1, 1024 * 1024 * 1024, 420],
  ])('estimates %d object(s) of %d bytes in all at %d s', (objects, bytes, seconds) => {
    expect(estimateBinSeconds(objects, bytes)).toBe(seconds);
  });

  it('cuts a day partition of 10,000,000 tiny objects into 50 bins, each within the budget', () => {
    const n = 10_000_000;
    const sizes = new Float64Array(n).fill(250);
    const estimated = new Float64Array(n).fill(Math.ceil(250 * DEFAULT_OUTPUT_RATIOS.jsonl));
    const bins = packBins(estimated, sizes, { targetBytes: DEFAULT_PLANNER_OPTIONS.targetBytes, maxInputBytes: DEFAULT_PLANNER_OPTIONS.maxBinInputBytes, maxObjects: DEFAULT_MAX_BIN_OBJECTS });
    expect(bins).toHaveLength(50);
    expect(bins[0][0]).toBe(0);
    expect(bins[bins.length - 1][1]).toBe(n);
    for (let i = 1; i < bins.length; i++) expect(bins[i][0]).toBe(bins[i - 1][1]);
    const seconds = bins.map(([a, b]) => estimateBinSeconds(b - a, (b - a) * 250));
    expect(Math.max(...bins.map(([a, b]) => b - a))).toBe(200_000);
    expect(Math.max(...seconds)).toBe(330);
    expect(Math.max(...seconds)).toBeLessThanOrEqual(BUDGET_SECONDS);
  });

  const tiny = (n: number): Discovery => {
    const files: SourceFile[] = Array.from({ length: n }, (_, i) => ({ key: `s/dt=1/f-${String(i).padStart(7, '0')}.json`, size: 250, etag: `"${i}"`, format: 'jsonl' }));
    return { partitions: [{ path: 'dt=1', values: { dt: '1' }, files: FileTable.from(files) }], skipped: {} as Discovery['skipped'], skippedExamples: [] };
  };

  it('plans a partition over the bound into bins under it, each with its estimate', () => {
    const plan = planCompaction(tiny(400_001), DEFAULT_PLANNER_OPTIONS, new Map());
    const bins = plan.partitions[0].bins;
    expect(bins.map((b) => [b.fileCount, b.inputBytes, b.estimatedSeconds])).toEqual([
      [133_334, 133_334 * 250, 223],
      [133_334, 133_334 * 250, 223],
      [133_333, 133_333 * 250, 223],
    ]);
    expect(bins.every((b) => b.estimatedSeconds === estimateBinSeconds(b.fileCount, b.inputBytes))).toBe(true);
  });

  it('takes a lower bound as given, and refuses one that is not a whole number', () => {
    expect(planCompaction(tiny(1_000), { ...DEFAULT_PLANNER_OPTIONS, maxBinObjects: 100 }, new Map()).partitions[0].bins.map((b) => b.fileCount)).toEqual(Array(10).fill(100));
    expect(() => planCompaction(tiny(10), { ...DEFAULT_PLANNER_OPTIONS, maxBinObjects: Number.POSITIVE_INFINITY }, new Map())).toThrow(
      new ConfigurationError('planner option maxBinObjects must be an integer >= 1, got Infinity'),
    );
  });
});
