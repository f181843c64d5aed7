import { ConfigurationError } from '../../lambdas/core/errors';
import { DEFAULT_OUTPUT_RATIOS } from '../../lambdas/core/formats';
import { FileTable } from '../../lambdas/core/file-table';
import type { Discovery, SourceFile } from '../../lambdas/core/partitions';
import { sourceId } from '../../lambdas/core/state';
import { binCount } from '../../lambdas/core/bin-packing';
import { DEFAULT_PLANNER_OPTIONS, MB, planCompaction, type PlannerOptions } from '../../lambdas/core/planner';
import { mergeOutputRatios } from '../../lambdas/core/output-ratios';
import { partitionWindowEnd } from '../../lambdas/core/time-window';

const ratio1 = { ...DEFAULT_OUTPUT_RATIOS, jsonl: 1 };
const opts = (o: Partial<PlannerOptions> = {}): PlannerOptions => ({ ...DEFAULT_PLANNER_OPTIONS, targetBytes: 100 * MB, outputRatios: ratio1, ...o });

function file(partition: string, i: number, sizeMb: number, etag = 'e'): SourceFile {
  return { key: `t/${partition}/f-${String(i).padStart(4, '0')}.json`, size: Math.round(sizeMb * MB), etag, format: 'jsonl' };
}
function discovery(parts: Record<string, number[]>): Discovery {
  return {
    partitions: Object.entries(parts).map(([path, sizes]) => ({ path, values: {}, files: FileTable.from(sizes.map((s, i) => file(path, i, s))) })),
    skipped: {} as Discovery['skipped'],
    skippedExamples: [],
  };
}
const mbOf = (bytes: number) => Math.round(bytes / MB);

describe('binCount', () => {
  it.each([
    // total, target -> bins
    [50, 100, 1],
    [100, 100, 1],
    [105, 100, 1], // remainder 5 spreads: 105 <= 110
    [110, 100, 1],
    [111, 100, 2],
    [205, 100, 2], // 205/2 = 102.5 <= 110
    [250, 100, 3],
    [1000, 100, 10],
  ])('%d MB at a %d MB target -> %d bins', (total, target, bins) => {
    expect(binCount(total * MB, target * MB)).toBe(bins);
  });
});

describe('planCompaction', () => {
  it.each([
    ['below minInputFiles', { p: [1, 1, 1, 1] }, [], ['below-min-input-files']],
    ['exactly minInputFiles', { p: [1, 1, 1, 1, 1] }, [[5]], []],
    ['a large JSON file is converted too, packed with the small ones', { p: [1, 1, 1, 1, 1, 80] }, [[6]], []],
    ['a JSON file over the target gets a bin of its own', { p: [1, 1, 1, 1, 1, 150] }, [[5, 1]], []],
    ['even split, no tiny leftover', { p: Array(25).fill(10) }, [[8, 9, 8]], []],
    ['one bin more when contiguous packing would overshoot', { p: [70, 70, 70, 1, 1] }, [[1, 1, 3]], []],
  ])('%s', (_name, parts, expectedBinSizes, heldReasons) => {
    const plan = planCompaction(discovery(parts), opts());
    expect(plan.partitions.map((p) => p.bins.map((b) => b.files.length))).toEqual(expectedBinSizes);
    expect(plan.held.map((h) => h.reason)).toEqual(heldReasons);
  });

  it('keeps every bin within 10% of the target and every small file in exactly one bin', () => {
    const sizes = Array.from({ length: 400 }, (_, i) => 0.5 + ((i * 7919) % 100) / 20);
    const plan = planCompaction(discovery({ p: sizes }), opts());
    const bins = plan.partitions[0].bins;
    for (const b of bins) expect(b.estimatedOutputBytes).toBeLessThanOrEqual(110 * MB);
    // Contiguous (key-ordered) packing may need one bin more than the ideal count.
    expect(bins.length).toBeLessThanOrEqual(binCount(sizes.reduce((a, b) => a + b, 0) * MB, 100 * MB) + 1);
    const keys = bins.flatMap((b) => b.files.map((f) => f.key));
    expect(new Set(keys).size).toBe(400);
    const smallest = Math.min(...bins.map((b) => b.estimatedOutputBytes));
    const largest = Math.max(...bins.map((b) => b.estimatedOutputBytes));
    expect(mbOf(largest - smallest)).toBeLessThanOrEqual(6);
  });

  describe('with a committed version', () => {
    const committed = (path: string, sources: SourceFile[], gold: Array<{ key: string; mb: number }>) =>
      new Map([[path, {
        version: 'v1',
        files: gold.map((g) => ({ key: g.key, etag: `"${g.key}"`, bytes: g.mb * MB, rows: 10 })),
        sourceIds: new Set(sources.map((f) => sourceId(f.key, f.etag))),
      }]]);

    it('is up to date when the landing zone holds nothing new', () => {
      const d = discovery({ p: [1, 1, 1, 1, 1] });
      const plan = planCompaction(d, opts(), committed('p', d.partitions[0].files.files(), [{ key: 'g/p/v=v1/part-a.parquet', mb: 5 }]));
      expect(plan.partitions).toEqual([]);
      expect(plan.held).toEqual([{ path: 'p', reason: 'up-to-date', smallFiles: 0 }]);
    });

    it('takes even one late file, recompacting small gold files and carrying large ones', () => {
      const d = discovery({ p: [1, 1, 1, 1, 1, 2] });
      const old = d.partitions[0].files.files(0, 5);
      const plan = planCompaction(d, opts(), committed('p', old, [
        { key: 'g/p/v=v1/part-big.parquet', mb: 90 },
        { key: 'g/p/v=v1/part-small.parquet', mb: 5 },
      ]));
      const p = plan.partitions[0];
      expect(p.baseVersion).toBe('v1');
      expect(p.newFiles).toBe(1);
      expect(p.carried.map((f) => f.key)).toEqual(['g/p/v=v1/part-big.parquet']);
      expect(p.bins.map((b) => b.files.map((f) => [f.key, f.fromGold ?? false]))).toEqual([
        [['g/p/v=v1/part-small.parquet', true], ['t/p/f-0005.json', false]],
      ]);
    });
  });

  it('estimates output size with the per-format ratio', () => {
    // 50 files of 10 MB JSON at ratio 0.1 = 50 MB output: one bin; at ratio 1 it would be 5 bins.
    const d = discovery({ p: Array(50).fill(10) });
    expect(planCompaction(d, opts({ outputRatios: { ...ratio1, jsonl: 0.1 } })).partitions[0].bins).toHaveLength(1);
    expect(planCompaction(d, opts()).partitions[0].bins).toHaveLength(5);
  });

  it('gives the same plan, bin ids and versions for the same listing, in any listing order', () => {
    const d = discovery({ a: [1, 2, 3, 4, 5, 6], b: Array(30).fill(10) });
    const reversed: Discovery = { ...d, partitions: d.partitions.map((p) => ({ ...p, files: FileTable.from(p.files.files().reverse()) })) };
    const one = planCompaction(d, opts());
    const two = planCompaction(reversed, opts());
    expect(two.planId).toBe(one.planId);
    expect(two.partitions.map((p) => [p.version, p.bins.map((b) => b.binId)])).toEqual(one.partitions.map((p) => [p.version, p.bins.map((b) => b.binId)]));
  });

  it('changes the bin id when an input ETag changes', () => {
    const d = discovery({ a: [1, 1, 1, 1, 1] });
    const changed: Discovery = { ...d, partitions: [{ ...d.partitions[0], files: FileTable.from(d.partitions[0].files.files().map((f, i) => (i === 2 ? { ...f, etag: 'new' } : f))) }] };
    expect(planCompaction(changed, opts()).partitions[0].bins[0].binId).not.toBe(planCompaction(d, opts()).partitions[0].bins[0].binId);
  });

  it.each([
    ['bins', { maxBinsPerRun: 3 }, ['a', 'b'], ['c']],
    ['bytes', { maxInputBytesPerRun: 120 * MB }, ['a'], ['b', 'c']],
    ['first partition always fits', { maxBinsPerRun: 1 }, ['a'], ['b', 'c']],
  ])('caps the run by %s, whole partitions at a time', (_n, cap, planned, held) => {
    const d = discovery({ a: Array(20).fill(10), b: [1, 1, 1, 1, 1], c: Array(20).fill(10) });
    const plan = planCompaction(d, opts(cap));
    expect(plan.partitions.map((p) => p.path)).toEqual(planned);
    expect(plan.held.filter((h) => h.reason === 'run-cap').map((h) => h.path)).toEqual(held);
  });

  it.each([
    [{ targetBytes: 10 * MB }, 'planner option targetBytes must be between 64 MB and 1024 MB, got 10.0 MB'],
    [{ targetBytes: 2048 * MB }, 'planner option targetBytes must be between 64 MB and 1024 MB, got 2048.0 MB'],
    [{ minInputFiles: 1 }, 'planner option minInputFiles must be an integer >= 2, got 1'],
    [{ smallFileFraction: 0 }, 'planner option smallFileFraction must be in (0, 1], got 0'],
  ])('rejects %p', (o, message) => {
    expect(() => planCompaction(discovery({}), opts(o))).toThrow(new ConfigurationError(message));
  });
});

describe('mergeOutputRatios', () => {
  it('moves halfway toward the byte-weighted observed ratio of each format', () => {
    const next = mergeOutputRatios(DEFAULT_OUTPUT_RATIOS, [
      { format: 'jsonl', inputBytes: 900, outputBytes: 90 },
      { format: 'jsonl', inputBytes: 100, outputBytes: 30 },
    ]);
    expect(next.jsonl).toBeCloseTo(0.5 * 0.15 + 0.5 * 0.12, 10);
    expect(next.csv).toBe(DEFAULT_OUTPUT_RATIOS.csv);
  });
});

describe('quiet period', () => {
  const values = (v: Record<string, string>) => v;
  it.each([
    [{ dt: '2024-12-19', hour: '14' }, '2024-12-19T15:00:00.000Z'],
    [{ dt: '2024-12-19', hour: '7' }, '2024-12-19T08:00:00.000Z'],
    [{ dt: '2024-12-19' }, '2024-12-20T00:00:00.000Z'],
    [{ year: '2024', month: '12', day: '19', hour: '23' }, '2024-12-20T00:00:00.000Z'],
    [{ partition: '3' }, undefined],
    [{ dt: 'yesterday' }, undefined],
  ])('window of %j ends at %s', (v, end) => {
    expect(partitionWindowEnd(values(v))?.toISOString()).toBe(end);
  });

  it.each([
    ['2024-12-19T15:59:59Z', ['quiet-period'], []],
    ['2024-12-19T16:00:00Z', [], ['p']],
  ])('at %s a dt=2024-12-19/hour=14 partition is held %j', (now, heldReasons, planned) => {
    const d = discovery({ p: [1, 1, 1, 1, 1] });
    d.partitions[0] = { ...d.partitions[0], values: { dt: '2024-12-19', hour: '14' } };
    const plan = planCompaction(d, opts({ now, quietPeriodMs: 3_600_000 }));
    expect(plan.held.map((h) => h.reason)).toEqual(heldReasons);
    expect(plan.partitions.map((p) => p.path)).toEqual(planned);
  });
});

describe('bin input cap (the compact step\'s scratch space)', () => {
  it('splits a partition whose output fits one bin but whose inputs do not fit one Lambda', () => {
    // 40 files of 10 MB at ratio 0.1: 40 MB of output (one bin by size), 400 MB of input.
    const d = discovery({ p: Array(40).fill(10) });
    const plan = planCompaction(d, opts({ outputRatios: { ...ratio1, jsonl: 0.1 }, maxBinInputBytes: 150 * MB }));
    const bins = plan.partitions[0].bins;
    expect(bins).toHaveLength(3);
    for (const b of bins) expect(b.inputBytes).toBeLessThanOrEqual(150 * MB);
    expect(bins.reduce((n, b) => n + b.files.length, 0)).toBe(40);
  });

  it('reports a partition holding one object larger than a bin may be', () => {
    const d = discovery({ p: [1, 1, 1, 1, 1, 200] });
    const plan = planCompaction(d, opts({ outputRatios: { ...ratio1, jsonl: 0.1 }, maxBinInputBytes: 150 * MB }));
    expect(plan.partitions).toEqual([]);
    expect(plan.held).toEqual([{ path: 'p', reason: 'file-too-large', smallFiles: 6 }]);
  });
});

describe('planCompaction: merges', () => {
  it('gives a partition bounded by objects into more bins than target-size files one merge of all its bins', () => {
    const plan = planCompaction(discovery({ p: Array(1000).fill(0.001) }), opts({ maxBinObjects: 100 }));
    const [p] = plan.partitions;
    expect(p.bins.map((b) => b.fileCount)).toEqual(Array(10).fill(100));
    expect(p.merges.map((m) => m.binIds)).toEqual([p.bins.map((b) => b.binId)]);
    // The version names its merges: the same bins merged otherwise are another version.
    const bounded = planCompaction(discovery({ p: Array(1000).fill(0.001) }), opts({ maxBinObjects: 100, maxMergeInputBytes: 100 * MB }));
    expect(bounded.partitions[0].merges).toHaveLength(1);
    expect(planCompaction(discovery({ p: Array(1000).fill(0.001) }), opts({ maxBinObjects: 100 })).partitions[0].version).toBe(p.version);
  });

  it('cuts tiny files of uneven sizes bound by objects into the fewest bins (by count where bytes do not bind)', () => {
    const sizes = Array.from({ length: 1000 }, (_, i) => 0.0001 + ((i * 7919) % 13) / 100_000);
    const bins = planCompaction(discovery({ p: sizes }), opts({ maxBinObjects: 100 })).partitions[0].bins;
    expect(bins.map((b) => b.fileCount)).toEqual(Array(10).fill(100));
  });

  it('merges nothing where the bins are already target-size files', () => {
    const plan = planCompaction(discovery({ p: Array(25).fill(10) }), opts());
    expect(plan.partitions[0].bins).toHaveLength(3);
    expect(plan.partitions[0].merges).toEqual([]);
  });

  it('rejects a merge bound below the target', () => {
    expect(() => planCompaction(discovery({ p: [1, 1, 1, 1, 1] }), opts({ maxMergeInputBytes: 50 * MB }))).toThrow(
      new ConfigurationError(`planner option maxMergeInputBytes must be at least targetBytes, got ${50 * MB}`),
    );
  });
});
