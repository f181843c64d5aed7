import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../../lambdas/adapters/logger';
import { CatalogError, RetryableError, VerificationError } from '../../lambdas/core/errors';
import { stateKey } from '../../lambdas/core/keys';
import type { PartitionState } from '../../lambdas/core/state';
import { putFiles, sensorFiles } from '../../local/generate';
import { LOCAL_BUCKETS, localPipeline, type LocalPipeline } from '../../local/pipeline';
import { startLocalS3, type LocalS3 } from '../../local/s3-server';
import { failingBinsOf, startHeldRun } from '../helpers/held-run';
import { allKeys, compareRows, rowsFromJsonLines, rowsFromParquetObjects } from '../helpers/rows';

logger.setLogLevel('ERROR');

let s3: LocalS3;
let scratch: string;
let pipeline: LocalPipeline;
const files = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14', '2024-12-19/15', '2024-12-20/00'], filesPerHour: 30, rowsPerFile: 4, seed: 11 });
const expected = files.flatMap((f) => rowsFromJsonLines(f.body));

beforeEach(async () => {
  s3 = await startLocalS3([LOCAL_BUCKETS.landing, LOCAL_BUCKETS.gold]);
  scratch = await mkdtemp(join(tmpdir(), 'workflow-test-'));
  pipeline = localPipeline({ s3, scratchDir: scratch });
  await putFiles(s3.client, 'landing', files);
});
afterEach(async () => {
  await s3?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A step's result without the usage its handler measured (asserted where it matters). */
const bare = ({ usage: _usage, ...rest }: Record<string, unknown>) => rest;

const parquetKeys = async () => (await allKeys(s3.client, 'gold', 'sensors/')).map((o) => o.key).filter((k) => k.endsWith('.parquet'));
const state = (partition: string) => pipeline.store.getJson<PartitionState>('gold', stateKey('sensors', partition));

describe('the deployed state machine, executed offline', () => {
  it('compacts the landing zone on the scheduled input and points the catalog at verified versions', async () => {
    expect(pipeline.scheduledInput).toEqual({ table: 'sensors', ifRunning: 'skip' });
    const out = await pipeline.execute(pipeline.scheduledInput, 'scheduled-1');
    expect(out.status).toBe('SUCCEEDED');
    expect(out.output.plan).toMatchObject({ table: 'sensors', bins: 3, partitions: 3, inputFiles: 90, dryRun: false });
    expect(bare(out.output.swap)).toEqual({ committed: 3, unchanged: 0, incomplete: 0, incompletePartitions: [], catalogUpdated: 3, columnsAdded: [], schemaConflicts: [], kafkaGaps: [], catalogDrift: [], rewrittenSources: [] });
    expect(bare(out.output.lifecycle)).toEqual({ retired: 0, waiting: 90 });
    expect(out.output.compaction.ResultWriterDetails).toEqual({ Bucket: 'gold', Key: '_compactor/sensors/results/scheduled-1/manifest.json' });

    const keys = await parquetKeys();
    expect(keys).toHaveLength(3);
    expect(compareRows(expected, await rowsFromParquetObjects(s3.client, 'gold', keys, scratch))).toMatchObject({ lost: 0, extra: 0 });
    const catalog = await pipeline.catalog.all();
    expect(catalog.map((c) => c.values)).toEqual([['2024-12-19', '14'], ['2024-12-19', '15'], ['2024-12-20', '00']]);
    for (const c of catalog) expect(c.location).toBe((await state(`dt=${c.values[0]}/hour=${c.values[1]}`))!.location);
    // Landing is untouched until the grace period is over.
    expect((await allKeys(s3.client, 'landing', 'sensors/')).length).toBe(files.length);
  });

  it('does nothing on a console rerun of the same input', async () => {
    await pipeline.execute({ table: 'sensors' }, 'first');
    const before = await allKeys(s3.client, 'gold', 'sensors/');
    const catalogBefore = await pipeline.catalog.all();
    const rerun = await pipeline.execute({ table: 'sensors' }, 'console-rerun');
    expect(rerun.status).toBe('SUCCEEDED');
    expect(rerun.output.plan.bins).toBe(0);
    // Nothing to compact still reconciles the catalog and runs the lifecycle, so sources retire
    // even when data stops coming.
    expect(bare(rerun.output.swap)).toEqual({ committed: 0, unchanged: 0, incomplete: 0, incompletePartitions: [], catalogUpdated: 0, columnsAdded: [], schemaConflicts: [], kafkaGaps: [], catalogDrift: [], rewrittenSources: [] });
    expect(bare(rerun.output.lifecycle)).toEqual({ retired: 0, waiting: 90 });
    expect(await allKeys(s3.client, 'gold', 'sensors/')).toEqual(before);
    expect(await pipeline.catalog.all()).toEqual(catalogBefore);
  });

  it('plans only, on a dry run', async () => {
    const out = await pipeline.execute({ table: 'sensors', dryRun: true }, 'dry');
    expect(out.status).toBe('SUCCEEDED');
    expect(out.output.plan).toMatchObject({ dryRun: true, bins: 3 });
    expect(out.output.swap).toBeUndefined();
    expect(await parquetKeys()).toEqual([]);
    expect(await pipeline.store.getJson('gold', out.output.plan.planKey)).toMatchObject({ planId: out.output.plan.planId });
  });

  it('fails at once, naming the field, on a mistyped console input', async () => {
    const out = await pipeline.execute({ table: 'sensors', dryrun: true }, 'typo');
    expect(out).toMatchObject({ status: 'FAILED', error: 'InvalidInputError' });
    expect(JSON.parse(out.cause!)).toEqual({
      errorType: 'InvalidInputError',
      errorMessage: 'run input has unknown field(s) dryrun; allowed: table, partitions, dryRun, targetFileMb, ifRunning',
    });
    expect(await parquetKeys()).toEqual([]);
  });

  it('retries a bin that failed with a retryable error', async () => {
    let failures = 0;
    const compact = pipeline.handlers[pipeline.functionIds.compact];
    const out = await pipeline.execute({ table: 'sensors', partitions: ['dt=2024-12-20'] }, 'flaky', {
      [pipeline.functionIds.compact]: async (e) => {
        if (failures++ === 0) throw new RetryableError('connection reset by peer');
        return compact(e);
      },
    });
    expect(out.status).toBe('SUCCEEDED');
    expect(failures).toBe(2);
    expect(out.output.swap.committed).toBe(1);
  });

  it('leaves every partition as it was when more bins fail than tolerated', async () => {
    const failing = failingBinsOf(pipeline, 'dt=2024-12-19/hour=15', new VerificationError('written file has 119 rows, inputs 120 rows'));
    const out = await pipeline.execute({ table: 'sensors' }, 'bad-bin', failing);
    expect(out).toMatchObject({ status: 'FAILED', error: 'States.ExceedToleratedFailureThreshold' });
    expect(out.cause).toContain('1 of 3 items failed (tolerated 10%)');
    expect(out.cause).toContain('written file has 119 rows, inputs 120 rows');
    expect(await pipeline.catalog.all()).toEqual([]);
    expect(await state('dt=2024-12-19/hour=14')).toBeUndefined();
  });

  it('refuses a console rerun while a run is active, naming the holder, and lets the next run in afterwards', async () => {
    const { release, done: first } = await startHeldRun(pipeline, { table: 'sensors' }, 'scheduled-slow');
    const second = await pipeline.execute({ table: 'sensors' }, 'console-rerun');
    expect(second).toMatchObject({ status: 'FAILED', error: 'AlreadyRunningError' });
    expect(JSON.parse(second.cause!).errorMessage).toMatch(
      /^table sensors is being compacted by arn:aws:states:us-east-1:000000000000:execution:S3Compactor-sensors-compaction:scheduled-slow \(since .*\); this run changed nothing\. Wait for it to finish, or stop it, then rerun\.$/,
    );
    release();
    expect((await first).status).toBe('SUCCEEDED');
    expect(compareRows(expected, await rowsFromParquetObjects(s3.client, 'gold', await parquetKeys(), scratch))).toMatchObject({ lost: 0, extra: 0 });
    const third = await pipeline.execute({ table: 'sensors' }, 'next-hour');
    expect(third.status).toBe('SUCCEEDED');
  });

  it('retries the swap through Glue throttling within the run', async () => {
    const put = pipeline.catalog.putPartitions.bind(pipeline.catalog);
    let calls = 0;
    pipeline.catalog.putPartitions = async (parts) => {
      if (calls++ === 0) throw new RetryableError('Glue kept throttling create of 3 partition(s) of compactor.sensors after 6 attempts');
      return put(parts);
    };
    const out = await pipeline.execute({ table: 'sensors' }, 'throttled');
    expect(out.status).toBe('SUCCEEDED');
    expect(calls).toBe(2);
    expect((await pipeline.catalog.all()).length).toBe(3);
  });

  it('fails with the catalog error when Glue refuses a partition, and the next run repairs the catalog', async () => {
    const put = pipeline.catalog.putPartitions.bind(pipeline.catalog);
    pipeline.catalog.putPartitions = async () => {
      throw new CatalogError('Glue refused to create 1 partition(s) of compactor.sensors: 2024-12-19/15: InvalidInputException bad location');
    };
    const failed = await pipeline.execute({ table: 'sensors' }, 'glue-refused');
    expect(failed).toMatchObject({ status: 'FAILED', error: 'CatalogError' });
    expect(JSON.parse(failed.cause!).errorMessage).toBe('Glue refused to create 1 partition(s) of compactor.sensors: 2024-12-19/15: InvalidInputException bad location');
    expect(await pipeline.catalog.all()).toEqual([]);
    // Nothing retired while the catalog does not show the versions, whatever the clock says.
    expect((await allKeys(s3.client, 'landing', 'sensors/')).length).toBe(files.length);

    pipeline.catalog.putPartitions = put;
    const next = await pipeline.execute({ table: 'sensors' }, 'next');
    expect(next.status).toBe('SUCCEEDED');
    expect(next.output.swap).toMatchObject({ committed: 0, catalogUpdated: 3 });
    const keys = await parquetKeys();
    expect(compareRows(expected, await rowsFromParquetObjects(s3.client, 'gold', keys, scratch))).toMatchObject({ lost: 0, extra: 0 });
  });
});
