/**
 * The log lines of one execution of the deployed state machine, as CloudWatch Logs would hold
 * them: every step's lines carry the execution id, the compact step's its bin too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../../lambdas/adapters/logger';
import type { BinItem } from '../../lambdas/core/contracts';
import { putFiles, sensorFiles } from '../../local/generate';
import { LOCAL_BUCKETS, localPipeline } from '../../local/pipeline';
import { startLocalS3, type LocalS3 } from '../../local/s3-server';
import { executionArn } from '../../local/workflow';

let s3: LocalS3;
let scratch: string;
afterAll(async () => {
  await s3?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('log lines of a run', () => {
  it('carry the execution id on every step, and the bin on the compact step\'s', async () => {
    s3 = await startLocalS3([LOCAL_BUCKETS.landing, LOCAL_BUCKETS.gold]);
    scratch = await mkdtemp(join(tmpdir(), 'log-lines-test-'));
    const pipeline = localPipeline({ s3, scratchDir: scratch });
    await putFiles(s3.client, 'landing', sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14', '2024-12-19/15'], filesPerHour: 6, rowsPerFile: 2, seed: 5 }));

    const lines: Array<Record<string, unknown>> = [];
    const write = process.stdout.write.bind(process.stdout);
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = String(chunk);
      // Log lines are JSON objects with a message; EMF documents and anything else pass through.
      if (text.startsWith('{"level"')) {
        lines.push(JSON.parse(text));
        return true;
      }
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
    logger.setLogLevel('INFO');
    let out;
    try {
      out = await pipeline.execute({ table: 'sensors' }, 'logged-run');
    } finally {
      logger.setLogLevel('ERROR');
      spy.mockRestore();
    }
    expect(out.status).toBe('SUCCEEDED');

    const id = executionArn('S3Compactor-sensors-compaction', 'logged-run');
    const items = (await pipeline.store.getJson<BinItem[]>('gold', out.output.plan.itemsKey))!;
    expect(items).toHaveLength(2);
    // The items list in S3 stays as planned: the Map's ItemSelector adds the id to each item.
    for (const item of items) expect(item.executionId).toBeUndefined();

    const messages = lines.map((l) => l.message);
    expect(messages.filter((m) => m === 'compacting')).toHaveLength(2);
    expect(messages.filter((m) => m === 'compacted')).toHaveLength(2);
    expect(new Set(messages)).toEqual(new Set(['planned', 'compacting', 'compacted', 'swapped', 'lifecycle', 'reported']));
    for (const line of lines) expect({ message: line.message, executionId: line.executionId }).toEqual({ message: line.message, executionId: id });
    const compactLines = lines.filter((l) => l.message === 'compacting' || l.message === 'compacted');
    expect(compactLines.map((l) => l.binId).sort()).toEqual([...items.map((i) => i.binId), ...items.map((i) => i.binId)].sort());
    for (const l of compactLines) expect(l).toMatchObject({ planId: out.output.plan.planId, partition: items.find((i) => i.binId === l.binId)!.partition });
  });
});
