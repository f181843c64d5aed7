import {
  costOf,
  gbSeconds,
  listPages,
  parseCostModel,
  pricesWith,
  transitionsOf,
  uploadPutRequests,
  US_EAST_1_PRICES,
  type StepUsage,
} from '../../lambdas/core/cost';
import { estimateRun } from '../../lambdas/core/run-estimate';
import { ConfigurationError } from '../../lambdas/core/errors';
import { errorMessage, outcomeOf } from '../../lambdas/core/run-report';
import { costLines } from '../../lambdas/core/run-report-text';
import { sizeHistogram } from '../../lambdas/core/size-histogram';

const MB = 1024 * 1024;
const none = { LIST: 0, GET: 0, PUT: 0, COPY: 0, DELETE: 0, HEAD: 0 };
const usage = (step: StepUsage['step'], memoryMb: number, durationMs: number, requests: Partial<StepUsage['requests']> = {}): StepUsage => ({
  step,
  memoryMb,
  durationMs,
  requests: { ...none, ...requests },
});

describe('request counting rules', () => {
  it.each([
    [0, 1],
    [1, 1],
    [1000, 1],
    [1001, 2],
    [2500, 3],
  ])('lists %i keys in %i page(s)', (keys, pages) => expect(listPages(keys)).toBe(pages));

  it.each([
    [0, 1],
    [16 * MB - 1, 1],
    [16 * MB, 3],
    [40 * MB, 5],
  ])('uploads %i bytes in %i PUT-class request(s)', (bytes, puts) => expect(uploadPutRequests(bytes)).toBe(puts));
});

describe('costOf', () => {
  it('prices a million tiny objects at the GETs plus Lambda and Step Functions, next to S3 Tables', () => {
    // 1,000 bins of 1,000 objects, each bin 4 GB x 1.5 s; 1,000,000 GETs and a few thousand writes.
    const bins = Array.from({ length: 1000 }, () => usage('compact', 4096, 1500, { GET: 1002, PUT: 2, HEAD: 2 }));
    const cost = costOf([usage('plan', 1024, 2000, { LIST: 1000, GET: 10, PUT: 1003 }), ...bins], { GET: 1, PUT: 2 }, 1008, { objects: 1_000_000, bytes: 250_000_000 }, US_EAST_1_PRICES);
    expect(cost.requests).toEqual({ LIST: 1000, GET: 1_002_011, PUT: 3005, COPY: 0, DELETE: 0, HEAD: 2000 });
    expect(cost.s3Usd).toBeCloseTo(1000 * 0.000005 + 1_002_011 * 0.0000004 + 3005 * 0.000005 + 2000 * 0.0000004, 10);
    expect(cost.lambda).toEqual([
      { step: 'plan', invocations: 1, gbSeconds: 2, usd: expect.any(Number) },
      { step: 'compact', invocations: 1000, gbSeconds: 6000, usd: expect.any(Number) },
    ]);
    expect(cost.lambda[1].usd).toBeCloseTo(6000 * 0.0000166667 + 1000 * 0.0000002, 10);
    expect(cost.stepFunctionsUsd).toBeCloseTo(1008 * 0.000025, 12);
    expect(cost.perMillionObjectsUsd).toBeCloseTo(cost.totalUsd, 12);
    expect(cost.perMillionObjectsUsd).toBeGreaterThan(0.4);
    expect(cost.perMillionObjectsUsd).toBeLessThan(0.55);
    expect(cost.s3Tables.usd).toBeCloseTo(2 + (250_000_000 / 2 ** 30) * 0.005, 10);
    expect(costLines(cost, US_EAST_1_PRICES)).toEqual([
      `cost: $${cost.totalUsd.toFixed(4)} for 1,000,000 objects = $${cost.perMillionObjectsUsd!.toFixed(2)} per million objects (goal $0.50; floor $0.40, the GETs alone)`,
      'S3 Tables managed compaction, same objects and bytes: $2.0012 ($2.00 per million objects)',
    ]);
  });

  it('bills Lambda per started millisecond and leaves the per-million figure out when nothing was compacted', () => {
    expect(gbSeconds({ memoryMb: 512, durationMs: 100.2 })).toBeCloseTo(0.0505, 10);
    const cost = costOf([usage('plan', 1024, 10)], {}, 4, { objects: 0, bytes: 0 }, US_EAST_1_PRICES);
    expect(cost.perMillionObjectsUsd).toBeUndefined();
    expect(costLines(cost, US_EAST_1_PRICES)[0]).toBe('cost: $0.000100 for 0 objects = no objects compacted (goal $0.50; floor $0.40, the GETs alone)');
  });
});

describe('transitionsOf', () => {
  const base = { planned: true, skipped: false, nothingToCompact: false, mapItems: 0, mapRan: false, swapRan: false, lifecycleRan: false, incomplete: false };
  it.each([
    ['a run compacting 3 bins', { mapRan: true, mapItems: 3, swapRan: true, lifecycleRan: true }, 9 + 3],
    ['a run compacting 12 bins and merging 2 groups of them', { mapRan: true, mapItems: 12, mergeRan: true, mergeItems: 2, swapRan: true, lifecycleRan: true }, 10 + 12 + 2],
    ['a run with nothing to compact', { nothingToCompact: true, swapRan: true, lifecycleRan: true }, 8],
    ['a dry run', { nothingToCompact: true, lifecycleRan: true }, 7],
    ['a skipped run', { skipped: true }, 5],
    ['a run whose plan failed', { planned: false }, 4],
    ['a run leaving partitions incomplete', { mapRan: true, mapItems: 2, swapRan: true, lifecycleRan: true, incomplete: true }, 10 + 2],
  ])('counts %s', (_what, path, n) => expect(transitionsOf({ ...base, ...path })).toBe(n));
});

describe('estimateRun', () => {
  it('predicts each step\'s requests from the plan as the steps make them', () => {
    const e = estimateRun(
      {
        planListRequests: 2,
        statesRead: 2,
        leaseWrites: 1,
        pendingAfter: 2,
        bins: [
          { files: 100, inputBytes: 25_000, estimatedOutputBytes: 5000 },
          { files: 50, inputBytes: 12_500, estimatedOutputBytes: 2500 },
        ],
        partitions: [
          { bins: 1, carried: 0 },
          { bins: 1, carried: 1 },
        ],
      },
      150,
    );
    expect(e.usage.map((u) => [u.step, u.requests])).toEqual([
      ['plan', { ...none, LIST: 2, GET: 4, PUT: 5 }],
      ['compact', { ...none, GET: 105, PUT: 2 }],
      ['compact', { ...none, GET: 55, PUT: 2 }],
      ['swap', { ...none, LIST: 1, GET: 8, HEAD: 3, COPY: 1, PUT: 7 }],
      ['lifecycle', { ...none, LIST: 1, GET: 4 }],
      ['report', { ...none, GET: 5, PUT: 2 }],
    ]);
    expect(e.cost.requests).toEqual({ LIST: 4, GET: 182, PUT: 20, COPY: 1, DELETE: 0, HEAD: 3 });
    expect(e.transitions).toBe(11);
    expect(e.cost.objects).toBe(150);
  });

  it('adds a merge step per merge, its spec and items list to the plan, its manifest and files to the swap, and the merge Map', () => {
    const shape = { planListRequests: 1, statesRead: 0, leaseWrites: 1, pendingAfter: 1, bins: Array(10).fill({ files: 100, inputBytes: 25_000, estimatedOutputBytes: 10_000 }), partitions: [{ bins: 10, carried: 0 }] };
    const plain = estimateRun(shape, 1000);
    const merged = estimateRun({ ...shape, merges: [{ bins: 10, estimatedInputBytes: 100_000 }] }, 1000);
    const of = (e: typeof plain, step: string) => e.usage.filter((u) => u.step === step).map((u) => u.requests);
    expect(of(merged, 'merge')).toEqual([{ ...none, GET: 24, PUT: 2, HEAD: 1 }]);
    expect(of(merged, 'plan')[0].PUT - of(plain, 'plan')[0].PUT).toBe(2);
    expect([of(merged, 'swap')[0].GET - of(plain, 'swap')[0].GET, of(merged, 'swap')[0].HEAD - of(plain, 'swap')[0].HEAD]).toEqual([1, 1]);
    // MergeFiles and its one item; the merge Map's items GET, result file and manifest.
    expect(merged.transitions - plain.transitions).toBe(2);
    expect(merged.cost.requests.GET - plain.cost.requests.GET).toBe(24 + 1 + 1);
  });
});

describe('price table', () => {
  it('overrides any price and keeps the others', () => {
    expect(pricesWith({ s3PerThousandRequests: { GET: 0.00044 }, region: 'sa-east-1' })).toEqual({
      ...US_EAST_1_PRICES,
      region: 'sa-east-1',
      s3PerThousandRequests: { ...US_EAST_1_PRICES.s3PerThousandRequests, GET: 0.00044 },
    });
  });

  it.each([
    [{ lambdaPerGbSecond: -0.1 }, 'price table: lambdaPerGbSecond must be a number >= 0, got -0.1'],
    [{ lambdaPerGB: 1 }, 'price table: lambdaPerGB is not a price (known: region, s3PerThousandRequests, lambdaPerGbSecond, lambdaPerMillionRequests, stepFunctionsPerThousandTransitions, s3TablesPerThousandObjects, s3TablesPerGb)'],
    [{ s3PerThousandRequests: { PUT: '0.005' } }, 'price table: s3PerThousandRequests.PUT must be a number >= 0, got "0.005"'],
  ])('refuses %j', (overrides, message) => {
    expect(() => pricesWith(overrides as never)).toThrow(new ConfigurationError(message));
  });

  it('reads the cost model the construct passes, and refuses a broken one', () => {
    expect(parseCostModel(undefined).prices).toEqual(US_EAST_1_PRICES);
    expect(parseCostModel(JSON.stringify({ memoryMb: { compact: 8192 } })).memoryMb).toEqual({ plan: 1024, compact: 8192, merge: 3008, swap: 512, lifecycle: 512, report: 512 });
    expect(() => parseCostModel('{')).toThrow(ConfigurationError);
    expect(() => parseCostModel(JSON.stringify({ memoryMb: { report: 64 } }))).toThrow(new ConfigurationError('cost model: memoryMb.report must be an integer >= 128, got 64'));
    expect(() => parseCostModel('null')).toThrow(new ConfigurationError('cost model must be a JSON object, got null'));
    expect(() => parseCostModel('[1]')).toThrow(new ConfigurationError('cost model must be a JSON object, got [1]'));
  });
});

describe('run outcome', () => {
  const planned = { table: 't', planId: 'p', dryRun: false, planBucket: 'g', itemsKey: 'i', planKey: 'k', bins: 1, partitions: 1, inputFiles: 1, inputBytes: 1, estimatedCostUsd: 0, usage: usage('plan', 1024, 1) };
  it.each([
    [{ error: { Error: 'AlreadyRunningError', Cause: JSON.stringify({ errorType: 'AlreadyRunningError', errorMessage: 'table t is being compacted by x' }) } }, 'failed: AlreadyRunningError: table t is being compacted by x'],
    [{ error: { Error: 'States.Timeout', Cause: 'Task timed out' } }, 'failed: States.Timeout: Task timed out'],
    [{ plan: { table: 't', skipped: 'run arn:x is in progress', usage: usage('plan', 1024, 1) } }, 'skipped: run arn:x is in progress'],
    [{ plan: { ...planned, dryRun: true } }, 'dry run'],
    [{ plan: planned, swap: { committed: 0, unchanged: 0, incomplete: 2, incompletePartitions: [], catalogUpdated: 0, columnsAdded: [], schemaConflicts: [], kafkaGaps: [], usage: usage('swap', 512, 1) } }, 'failed: 2 partition(s) left at their previous version'],
    [{ plan: planned }, 'succeeded'],
  ])('reads %j as %s', (state, outcome) => expect(outcomeOf(state as never)).toBe(outcome));

  it('takes a Lambda error\'s message from its JSON cause, and a plain cause as it is', () => {
    expect(errorMessage({ Error: 'X', Cause: '{"errorType":"X","errorMessage":"m"}' })).toBe('m');
    expect(errorMessage({ Error: 'X', Cause: 'plain' })).toBe('plain');
  });

  it('buckets file sizes the way the report shows them', () => {
    expect(sizeHistogram([0, 1023, 1024, 65536, 2 * MB, 200 * MB])).toEqual([
      ['< 1 KB', 2],
      ['1-64 KB', 1],
      ['64 KB-1 MB', 1],
      ['1-16 MB', 1],
      ['16-128 MB', 0],
      ['>= 128 MB', 1],
    ]);
  });
});
