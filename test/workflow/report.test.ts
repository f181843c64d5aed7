/**
 * The run report and the cost figures, end to end on the deployed definition: every execution
 * writes its report, the plan's estimate is checked against the requests the run then sends (counted
 * on the wire, below the SDK), and a scheduled run that finds the table busy ends as a skip.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../../lambdas/adapters/logger';
import type { StoredPlan } from '../../lambdas/core/contracts';
import { S3_REQUEST_KINDS, totalRequests, type RequestCounts } from '../../lambdas/core/cost';
import { VerificationError } from '../../lambdas/core/errors';
import { reportKey, reportTextKey } from '../../lambdas/core/keys';
import type { RunReport } from '../../lambdas/core/run-report';
import { sizeHistogram } from '../../lambdas/core/size-histogram';
import { putFiles, sensorFiles } from '../../local/generate';
import { LOCAL_BUCKETS, localPipeline, type LocalPipeline } from '../../local/pipeline';
import { startLocalS3, type LocalS3 } from '../../local/s3-server';
import { executionArn } from '../../local/workflow';
import { failingBinsOf, startHeldRun } from '../helpers/held-run';
import { allKeys, getBytes } from '../helpers/rows';
import { countWireRequests } from '../helpers/wire-requests';

logger.setLogLevel('ERROR');

const HOURS = ['2024-12-19/14', '2024-12-19/15', '2024-12-20/00'];
const files = sensorFiles({ prefix: 'sensors/', hours: HOURS, filesPerHour: 40, rowsPerFile: 3, seed: 5 });
const arn = (name: string) => executionArn('S3Compactor-sensors-compaction', name);

let s3: LocalS3;
let scratch: string;
let pipeline: LocalPipeline;
let wire: ReturnType<typeof countWireRequests>;

beforeEach(async () => {
  s3 = await startLocalS3([LOCAL_BUCKETS.landing, LOCAL_BUCKETS.gold]);
  scratch = await mkdtemp(join(tmpdir(), 'report-test-'));
  pipeline = localPipeline({ s3, scratchDir: scratch });
  await putFiles(s3.client, 'landing', files);
  wire = countWireRequests(s3.client, s3.endpoint);
});
afterEach(async () => {
  await s3?.close();
  await rm(scratch, { recursive: true, force: true });
});

const reportOf = (name: string) => pipeline.store.getJson<RunReport>('gold', reportKey('sensors', arn(name)));
const text = async (name: string) => Buffer.from(await getBytes(s3.client, 'gold', reportTextKey('sensors', arn(name)))).toString('utf8');
const within = (estimated: number, made: number) => Math.abs(estimated - made) <= 0.2 * made;

describe('run report and cost', () => {
  it('estimates the run on a dry run within 20% of the S3 requests the run then makes, and reports what it did and cost', async () => {
    const dry = await pipeline.execute({ table: 'sensors', dryRun: true }, 'dry-run');
    expect(dry.status).toBe('SUCCEEDED');
    const plan = (await wire.quietly(() => pipeline.store.getJson<StoredPlan>('gold', dry.output.plan.planKey)))!;
    const estimated: RequestCounts = plan.estimate.cost.requests;
    expect(dry.output.plan.estimatedCostUsd).toBe(plan.estimate.cost.totalUsd);
    const dryReport = (await wire.quietly(() => reportOf('dry-run')))!;
    expect(dryReport.outcome).toBe('dry run');
    expect(dryReport.estimate).toEqual(plan.estimate.cost);
    expect(await wire.quietly(() => text('dry-run'))).toContain(`\nestimate of the planned run (this was a dry run): $${plan.estimate.cost.totalUsd.toFixed(6)} (`);

    wire.reset();
    const run = await pipeline.execute(pipeline.scheduledInput, 'scheduled-1');
    expect(run.status).toBe('SUCCEEDED');
    const made = { ...wire.counts };
    expect(wire.other).toEqual([]);
    const report = (await wire.quietly(() => reportOf('scheduled-1')))!;

    // What the handlers counted through their stores (plus the Map's own reads and writes) is what went over the wire.
    expect(report.cost.requests).toEqual(made);
    const figures = S3_REQUEST_KINDS.map((k) => `${k} ${estimated[k]}/${made[k]}`).join(', ');
    const retried = totalRequests(wire.attempts) - totalRequests(made);
    console.log(`requests estimated/made: ${figures}; total ${totalRequests(estimated)}/${totalRequests(made)} (${retried} SDK retries against the loopback server not counted)`);
    expect({ total: within(totalRequests(estimated), totalRequests(made)) }).toEqual({ total: true });
    for (const k of S3_REQUEST_KINDS) if (made[k] >= 5) expect({ kind: k, within: within(estimated[k], made[k]) }).toEqual({ kind: k, within: true });

    // Partitions before and after, against the generated files and the gold listing.
    const landingSizes = new Map(files.map((f) => [f.key, Buffer.byteLength(f.body)]));
    const gold = (await wire.quietly(() => allKeys(s3.client, 'gold', 'sensors/'))).filter((o) => o.key.endsWith('.parquet'));
    expect(report.partitions).toEqual(
      HOURS.map((h) => {
        const path = `dt=${h.replace('/', '/hour=')}`;
        const mine = files.filter((f) => f.key.startsWith(`sensors/${path}/`));
        const out = gold.filter((o) => o.key.startsWith(`sensors/${path}/`));
        return {
          path,
          version: expect.any(String),
          status: 'committed',
          before: { objects: 40, bytes: mine.reduce((n, f) => n + landingSizes.get(f.key)!, 0), rows: 120 },
          after: { objects: 1, bytes: out[0].size, rows: 120 },
        };
      }),
    );
    expect(report.sizes).toEqual({ before: sizeHistogram(landingSizes.values()), after: sizeHistogram(gold.map((o) => o.size)) });
    expect(report.outcome).toBe('succeeded');
    expect(report.bins).toEqual({ planned: 3, succeeded: 3, failed: 0, unknown: 0 });
    expect(report.quarantine).toEqual({ records: 0, objects: 0, bins: [] });
    expect(report.cost.objects).toBe(120);
    expect(report.cost.lambda.map((l) => [l.step, l.invocations])).toEqual([['plan', 1], ['compact', 3], ['swap', 1], ['lifecycle', 1], ['report', 1]]);
    // Plan, AnythingToCompact, CompactBins, AnythingToMerge, Swap, Lifecycle, Report, RunOutcome, Done, and one Compact per bin.
    expect(report.cost.transitions).toBe(9 + 3);
    expect(report.cost.s3Tables.usd).toBeCloseTo(120 * 0.000002 + (report.cost.bytes / 2 ** 30) * 0.005, 12);
    const md = await wire.quietly(() => text('scheduled-1'));
    expect(md).toMatch(/^# sensors run scheduled-1: succeeded\n/);
    expect(md).toMatch(/\ncost: \$\d+\.\d{6} for 120 objects = \$\d+\.\d\d per million objects \(goal \$0\.50; floor \$0\.40, the GETs alone\)\n/);
    expect(md).toMatch(/\nS3 Tables managed compaction, same objects and bytes: \$\d+\.\d{6} \(\$2\.\d\d per million objects\)\n/);
    expect(md).toContain(`S3 requests: ${totalRequests(estimated).toLocaleString('en-US')} estimated, ${totalRequests(made).toLocaleString('en-US')} made`);
  });

  it('writes the report on the failure path too, with the failing error, leaving every partition as it was', async () => {
    const failing = failingBinsOf(pipeline, 'dt=2024-12-19/hour=15', new VerificationError('written file has 119 rows, inputs 120 rows'));
    const out = await pipeline.execute({ table: 'sensors' }, 'bad-bin', failing);
    expect(out).toMatchObject({ status: 'FAILED', error: 'States.ExceedToleratedFailureThreshold' });
    const report = (await reportOf('bad-bin'))!;
    expect(report.outcome).toMatch(/^failed: States\.ExceedToleratedFailureThreshold: 1 of 3 items failed \(tolerated 10%\); first: VerificationError: /);
    expect(report.partitions.map((p) => p.status)).toEqual(['not committed', 'not committed', 'not committed']);
    expect(report.unmeasured).toEqual([
      'the step that failed (States.ExceedToleratedFailureThreshold): its invocation returned no usage',
      'the Compact step: the Map ended without returning its results',
      'Lambda retries and Step Functions retries (each attempt is billed)',
    ]);
    expect(report.cost.lambda.map((l) => l.step)).toEqual(['plan', 'report']);
    expect(await text('bad-bin')).toMatch(/^# sensors run bad-bin: failed: States\.ExceedToleratedFailureThreshold/);
  });

  it('ends a scheduled run that finds another run holding the table as a successful skip that changes nothing', async () => {
    const { release, done: first } = await startHeldRun(pipeline, { table: 'sensors' }, 'console-slow');
    const before = (await allKeys(s3.client, 'gold', '')).filter((o) => !o.key.includes('/reports/'));
    pipeline.emf.length = 0;
    const skipped = await pipeline.execute(pipeline.scheduledInput, 'scheduled-while-busy');
    expect(skipped.status).toBe('SUCCEEDED');
    expect(skipped.output.outcome).toBe(`skipped: run ${arn('console-slow')} is in progress`);
    expect((await allKeys(s3.client, 'gold', '')).filter((o) => !o.key.includes('/reports/'))).toEqual(before);
    expect((await reportOf('scheduled-while-busy'))!.outcome).toBe(`skipped: run ${arn('console-slow')} is in progress`);
    expect(pipeline.emf.map((d) => JSON.parse(d)).find((d) => 'RunsSkipped' in d)).toMatchObject({ table: 'sensors', RunsSkipped: 1 });
    release();
    expect((await first).status).toBe('SUCCEEDED');
  });
});
