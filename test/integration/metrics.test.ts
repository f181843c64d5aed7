/**
 * The EMF documents the handlers publish, exactly as CloudWatch would read them from the function
 * log: the handlers run on the loopback server with the real adapters, their documents captured.
 */
import { duckdbStepDeps } from '../../lambdas/adapters/duckdb-parquet-engine';
import { join } from 'node:path';
import { logger } from '../../lambdas/adapters/logger';
import type { BinItem, Metered, PlanOutput } from '../../lambdas/core/contracts';
import { DEFAULT_ENGINE_SETTINGS } from '../../lambdas/core/settings';
import { makeHandler as compactHandler } from '../../lambdas/handlers/compact';
import { makeHandler as planHandler } from '../../lambdas/handlers/plan';
import { putFiles, sensorFiles } from '../../local/generate';
import { useLoopback } from '../helpers/loopback';
import { testSettings } from '../helpers/pipeline';
import { allKeys } from '../helpers/rows';

logger.setLogLevel('ERROR');

const env = useLoopback('all', 'metrics-test');
const settings = testSettings;
const HOUR = 3_600_000;
// Two hours from now: the landing objects are two hours old, and the current hour is still in its quiet period.
const now = new Date(Date.now() + 2 * HOUR);
const clock = { now: () => now };
const current = new Date(now.getTime() - HOUR).toISOString();
const openHour = `${current.slice(0, 10)}/${current.slice(11, 13)}`;

const closed = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 12, rowsPerFile: 2, seed: 3 });
const truncated = { key: 'sensors/dt=2024-12-19/hour=14/truncated.json', body: `${closed[0].body.split('\n')[0]}\n{"device_id": "sensor-0001", "ts\n` };
const open = sensorFiles({ prefix: 'sensors/', hours: [openHour], filesPerHour: 6, rowsPerFile: 2, seed: 4 });

describe('metrics (EMF) of the plan and compact handlers', () => {
  const docs: string[] = [];
  const emf = (d: string) => void docs.push(d);
  let plan: Metered<PlanOutput>;

  beforeAll(async () => {
    await putFiles(env.s3.client, 'landing', [...closed, truncated, ...open]);
    const handler = planHandler({ store: env.store, settings, executions: { isRunning: async () => false }, clock, fn: { step: 'plan', memoryMb: 1024 }, emf });
    plan = (await handler({ request: { table: 'sensors' }, executionId: 'arn:aws:states:us-east-1:000000000000:execution:sm:run-1' })) as Metered<PlanOutput>;
  });

  it('publishes the run\'s plan figures, backlog age and held partitions by reason', () => {
    const [run, held] = docs.map((d) => JSON.parse(d));
    expect(docs).toHaveLength(2);
    const bytes = [...closed, truncated].reduce((n, f) => n + Buffer.byteLength(f.body), 0);
    expect(run).toMatchObject({
      table: 'sensors',
      RunsPlanned: 1,
      BinsPlanned: 1,
      PartitionsPlanned: 1,
      ObjectsPlanned: 13,
      BytesPlanned: bytes,
      BacklogObjects: 0,
      BacklogBytes: 0,
      S3ListRequests: 2,
      S3PutRequests: plan.usage.requests.PUT,
    });
    expect(run._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'S3Compactor', Dimensions: [['table']] });
    // The objects were written about two hours before the plan's clock (S3 keeps LastModified to the second).
    expect(run.OldestUncompactedAge).toBeGreaterThan(2 * 3600 - 120);
    expect(run.OldestUncompactedAge).toBeLessThanOrEqual(2 * 3600 + 1);
    expect(held).toEqual({
      _aws: { Timestamp: expect.any(Number), CloudWatchMetrics: [{ Namespace: 'S3Compactor', Dimensions: [['table', 'reason']], Metrics: [{ Name: 'PartitionsHeld', Unit: 'Count' }] }] },
      table: 'sensors',
      reason: 'quiet-period',
      PartitionsHeld: 1,
    });
  });

  it('publishes one EMF document per bin with its objects, bytes, rows, quarantine and S3 requests by kind', async () => {
    docs.length = 0;
    const [item] = (await env.store.getJson<BinItem[]>('gold', plan.itemsKey))!;
    const handler = compactHandler({ store: env.store, settings, engine: { ...DEFAULT_ENGINE_SETTINGS, scratchDir: join(env.scratch, 'work') }, ...duckdbStepDeps(join(env.scratch, 'work')), fn: { step: 'compact', memoryMb: 4096 }, emf });
    const out = await handler(item);
    const [parquet] = (await allKeys(env.s3.client, 'gold', 'sensors/')).filter((o) => o.key.endsWith('.parquet'));
    const count = (name: string) => ({ Name: name, Unit: 'Count' });
    const bytes = (name: string) => ({ Name: name, Unit: 'Bytes' });
    expect(docs.map((d) => JSON.parse(d))).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: 'S3Compactor',
              Dimensions: [['table']],
              Metrics: [
                count('BinsCompacted'),
                count('ObjectsIn'),
                bytes('BytesIn'),
                count('RowsIn'),
                count('FilesOut'),
                bytes('BytesOut'),
                count('RowsOut'),
                count('RecordsQuarantined'),
                count('ObjectsQuarantined'),
                ...['S3ListRequests', 'S3GetRequests', 'S3PutRequests', 'S3CopyRequests', 'S3DeleteRequests', 'S3HeadRequests'].map(count),
              ],
            },
          ],
        },
        table: 'sensors',
        BinsCompacted: 1,
        ObjectsIn: 13,
        BytesIn: item.inputBytes,
        // 12 files of 2 readings, and the good line of the truncated one; its cut line goes to quarantine.
        RowsIn: 25,
        FilesOut: 1,
        BytesOut: parquet.size,
        RowsOut: 25,
        RecordsQuarantined: 1,
        ObjectsQuarantined: 0,
        S3ListRequests: 0,
        // the bin spec, an earlier manifest (none) and the partition state, before the work and
        // again before the create-only upload, and the 13 inputs
        S3GetRequests: 18,
        // the output, the quarantined records, the quarantine report, the manifest
        S3PutRequests: 4,
        S3CopyRequests: 0,
        S3DeleteRequests: 0,
        // the quarantined records' upload read back (the create-only output is checked by swap)
        S3HeadRequests: 1,
      },
    ]);
    expect(out.usage).toMatchObject({ step: 'compact', memoryMb: 4096, requests: { LIST: 0, GET: 18, PUT: 4, COPY: 0, DELETE: 0, HEAD: 1 } });
    expect(out.usage.durationMs).toBeGreaterThan(0);
  });
});
