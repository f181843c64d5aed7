/**
 * The report step reading a Map's results as Step Functions writes them (WriterConfig COMPACT: a
 * succeeded child's output as it is, a failed child's whole record), for a run whose failed bin was
 * within the tolerated percentage.
 */
import type { CompactOutput, Metered, PlanOutput, StoredPlan } from '../../lambdas/core/contracts';
import { US_EAST_1_PRICES, type StepUsage } from '../../lambdas/core/cost';
import { estimateRun } from '../../lambdas/core/run-estimate';
import { renderRunReport } from '../../lambdas/core/run-report-text';
import { writeRunReport } from '../../lambdas/use-cases/run-report';
import { useLoopback } from '../helpers/loopback';
import { testSettings } from '../helpers/pipeline';

const env = useLoopback('all', 'run-report-test');
const none = { LIST: 0, GET: 0, PUT: 0, COPY: 0, DELETE: 0, HEAD: 0 };
const usage = (step: StepUsage['step'], GET: number): StepUsage => ({ step, memoryMb: step === 'compact' ? 4096 : 1024, durationMs: 1000, requests: { ...none, GET } });

it('lists the failed bins with their error, and counts the succeeded bins\' usage only', async () => {
  const bin = (binId: string) => ({ binId, files: 10, inputBytes: 2500, estimatedOutputBytes: 500 });
  const plan = {
    table: 'sensors',
    planId: 'p1',
    request: { table: 'sensors' },
    partitions: [
      { path: 'dt=2024-12-19/hour=14', values: { dt: '2024-12-19', hour: '14' }, version: 'v14', bins: [bin('b1')], carried: [], newFiles: 10 },
      { path: 'dt=2024-12-19/hour=15', values: { dt: '2024-12-19', hour: '15' }, version: 'v15', bins: [bin('b2')], carried: [], newFiles: 10 },
    ],
    totals: { bins: 2, inputFiles: 20, inputBytes: 5000, estimatedOutputBytes: 1000 },
    report: { skipped: {}, skippedExamples: [], held: [], stats: { backlog: { objects: 0, bytes: 0 }, inputSizes: [], pendingPartitions: 0 } },
    estimate: {
      cost: estimateRun({ planListRequests: 2, statesRead: 2, leaseWrites: 1, pendingAfter: 2, bins: [bin('b1'), bin('b2')], partitions: [{ bins: 1, carried: 0 }, { bins: 1, carried: 0 }] }, 20).cost,
      requestsByStep: {},
    },
  } as unknown as StoredPlan;
  const planned = { table: 'sensors', planId: 'p1', dryRun: false, planBucket: 'gold', planKey: 'x/plan.json', itemsKey: 'x/items.json', bins: 2, merges: 0, mergeItemsKey: 'x/merges.json', partitions: 2, inputFiles: 20, inputBytes: 5000, estimatedCostUsd: 0, usage: usage('plan', 5) } satisfies Metered<PlanOutput>;
  const ok: Metered<CompactOutput> = {
    binId: 'b1', partition: 'dt=2024-12-19/hour=14', version: 'v14', outputKey: 'sensors/dt=2024-12-19/hour=14/v=v14/part-b1.parquet', manifestKey: 'm/b1.json',
    inputFiles: 10, inputRows: 20, outputRows: 20, outputBytes: 900, rejectedRecords: 0, rejectedObjects: 0, usage: usage('compact', 12),
  };
  const failedItem = { table: 'sensors', planId: 'p1', binId: 'b2', partition: 'dt=2024-12-19/hour=15', version: 'v15', binKey: 'k', inputFiles: 10, inputBytes: 2500 };
  await env.store.putJson('gold', 'x/plan.json', plan);
  await env.store.putJson('gold', 'r/SUCCEEDED_0.json', [ok]);
  await env.store.putJson('gold', 'r/FAILED_0.json', [
    { Status: 'FAILED', Input: JSON.stringify(failedItem), Error: 'VerificationError', Cause: JSON.stringify({ errorType: 'VerificationError', errorMessage: 'written file has 19 rows, inputs 20 rows' }) },
  ]);
  await env.store.putJson('gold', 'r/manifest.json', { DestinationBucket: 'gold', MapRunArn: 'arn:x', ResultFiles: { SUCCEEDED: [{ Key: 'r/SUCCEEDED_0.json' }], FAILED: [{ Key: 'r/FAILED_0.json' }], PENDING: [] } });
  await env.store.putJson('gold', '_compactor/sensors/state/dt=2024-12-19/hour=14/state.json', {
    version: 'v14', rows: 20, files: [{ key: ok.outputKey, etag: '', bytes: 900, rows: 20 }],
  });

  const { output, report } = await writeRunReport(
    { store: env.store, settings: testSettings, clock: { now: () => new Date('2026-01-01T00:01:00Z') }, prices: US_EAST_1_PRICES, usage: () => usage('report', 4) },
    {
      executionId: 'arn:aws:states:us-east-1:000000000000:execution:sm:run-7',
      startedAt: '2026-01-01T00:00:00Z',
      state: { plan: planned, compaction: { MapRunArn: 'arn:x', ResultWriterDetails: { Bucket: 'gold', Key: 'r/manifest.json' } } },
    },
  );
  expect(report.bins).toEqual({ planned: 2, succeeded: 1, failed: 1, unknown: 0 });
  expect(report.failedBins).toEqual([{ binId: 'b2', partition: 'dt=2024-12-19/hour=15', error: 'VerificationError: written file has 19 rows, inputs 20 rows' }]);
  expect(report.partitions.map((p) => [p.path, p.status, p.before.rows, p.after?.rows])).toEqual([
    ['dt=2024-12-19/hour=14', 'committed', 20, 20],
    ['dt=2024-12-19/hour=15', 'not committed', undefined, undefined],
  ]);
  expect(report.cost.lambda.map((l) => [l.step, l.invocations])).toEqual([['plan', 1], ['compact', 1], ['report', 1]]);
  // plan 5 + the succeeded bin 12 + report 4, and the Map's items read; the report's two writes and the Map's three result files.
  expect([report.cost.requests.GET, report.cost.requests.PUT]).toEqual([5 + 12 + 4 + 1, 2 + 3]);
  expect(report.cost.objects).toBe(10);
  expect(report.unmeasured[0]).toBe('1 failed bin(s): their invocations returned no usage');
  expect(output).toMatchObject({ outcome: 'succeeded', reportKey: '_compactor/sensors/reports/run-7/report.json', textKey: '_compactor/sensors/reports/run-7/report.md' });
  expect(renderRunReport(report)).toContain('\n- failed bin b2 of dt=2024-12-19/hour=15: VerificationError: written file has 19 rows, inputs 20 rows\n');
  expect(await env.store.getJson('gold', output.reportKey)).toEqual(report);
});
