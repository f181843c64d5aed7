import { DEFAULT_OUTPUT_RATIOS } from '../../lambdas/core/formats';
import { binObservations, effectiveRatios, mergeOutputRatios } from '../../lambdas/core/output-ratios';

const input = (format: 'jsonl' | 'csv' | 'parquet', size: number, extra: { setAside?: boolean } = {}) => ({ key: `k.${format}`, etag: '"e"', size, rows: 1, format, ...extra });
const output = (bytes: number, empty = false) => ({ bucket: 'gold', key: 'o.parquet', bytes, rows: 1, checksum: '0', compression: 'zstd', schema: [], ...(empty ? { empty } : {}) });

describe('binObservations', () => {
  it('measures a one-format bin as its output bytes over its input bytes', () => {
    expect(binObservations({ inputs: [input('jsonl', 600), input('jsonl', 400)], output: output(120) }, DEFAULT_OUTPUT_RATIOS)).toEqual([{ format: 'jsonl', inputBytes: 1000, outputBytes: 120 }]);
  });

  it('shares a mixed bin\'s output in proportion to what the ratios in use predicted per format', () => {
    // Predicted: jsonl 1000 x 0.15 = 150, parquet 100 x 1 = 100; the file is 500 bytes, twice that.
    expect(binObservations({ inputs: [input('jsonl', 1000), input('parquet', 100)], output: output(500) }, DEFAULT_OUTPUT_RATIOS)).toEqual([
      { format: 'jsonl', inputBytes: 1000, outputBytes: 300 },
      { format: 'parquet', inputBytes: 100, outputBytes: 200 },
    ]);
  });

  it('leaves out inputs set aside whole, and measures nothing from an empty output', () => {
    expect(binObservations({ inputs: [input('jsonl', 1000), input('csv', 5000, { setAside: true })], output: output(90) }, DEFAULT_OUTPUT_RATIOS)).toEqual([{ format: 'jsonl', inputBytes: 1000, outputBytes: 90 }]);
    expect(binObservations({ inputs: [input('jsonl', 1000)], output: output(0, true) }, DEFAULT_OUTPUT_RATIOS)).toEqual([]);
  });
});

describe('mergeOutputRatios', () => {
  it('takes a first measurement as it is, clamped to the planner\'s range, and keeps formats not observed', () => {
    expect(mergeOutputRatios({ csv: 0.25 }, [{ format: 'jsonl', inputBytes: 1000, outputBytes: 120 }])).toEqual({ csv: 0.25, jsonl: 0.12 });
    expect(mergeOutputRatios({}, [{ format: 'jsonl', inputBytes: 10, outputBytes: 1000 }, { format: 'csv', inputBytes: 1e9, outputBytes: 1 }])).toEqual({ jsonl: 10, csv: 0.001 });
  });

  it('fills unmeasured formats with the defaults for the planner', () => {
    expect(effectiveRatios({ jsonl: 0.12 })).toEqual({ ...DEFAULT_OUTPUT_RATIOS, jsonl: 0.12 });
  });
});
