import { MB } from '../../lambdas/core/planner';
import { mergeGroups, mergeOutputFiles } from '../../lambdas/core/merge-plan';

const bins = (mbs: number[]) => mbs.map((mb, i) => ({ binId: `b${i}`, estimatedOutputBytes: mb * MB }));

describe('mergeGroups', () => {
  it.each([
    ['one bin', [30], []],
    ['bins that already make target-size files', [500, 480, 510], []],
    ['ten small bins: one merge of all', Array(10).fill(20), [['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9']]],
    ['two small bins', [100, 100], [['b0', 'b1']]],
  ])('%s', (_name, mbs, expected) => {
    expect(mergeGroups(bins(mbs as number[]), 512 * MB, 4096 * MB).map((g) => g.binIds)).toEqual(expected);
  });

  it('cuts contiguous runs of at most the merge input bound', () => {
    const groups = mergeGroups(bins(Array(12).fill(100)), 512 * MB, 450 * MB);
    expect(groups.map((g) => g.binIds.length)).toEqual([4, 4, 4]);
    expect(groups.map((g) => g.estimatedInputBytes / MB)).toEqual([400, 400, 400]);
  });

  it('names a merge by its bins, the same every time', () => {
    const [a] = mergeGroups(bins([10, 10, 10]), 512 * MB, 4096 * MB);
    const [b] = mergeGroups(bins([10, 10, 10]), 512 * MB, 4096 * MB);
    const [c] = mergeGroups(bins([10, 10, 11]).map((x, i) => (i === 2 ? { ...x, binId: 'other' } : x)), 512 * MB, 4096 * MB);
    expect(a.mergeId).toMatch(/^[0-9a-f]{16}$/);
    expect(b.mergeId).toBe(a.mergeId);
    expect(c.mergeId).not.toBe(a.mergeId);
  });

  it('names the same bins merged to another target size another merge (its files are other keys)', () => {
    const [a] = mergeGroups(bins([10, 10, 10]), 512 * MB, 4096 * MB);
    const [b] = mergeGroups(bins([10, 10, 10]), 64 * MB, 4096 * MB);
    expect(b.binIds).toEqual(a.binIds);
    expect(b.mergeId).not.toBe(a.mergeId);
  });
});

describe('mergeOutputFiles', () => {
  it.each([
    [50, 1],
    [560, 1],
    [600, 2],
    [2000, 4],
  ])('%d MB of intermediate Parquet at a 512 MB target -> %d file(s)', (mb, files) => {
    expect(mergeOutputFiles(mb * MB, 512 * MB)).toBe(files);
  });
});
