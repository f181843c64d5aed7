import { duckdbStepDeps } from '../adapters/duckdb-parquet-engine';
import { logger } from '../adapters/logger';
import { functionFromEnv, meterInvocation, publishMetrics, stdoutSink, type Observability } from '../adapters/metrics';
import { clearScratch, lazy, runtimeFromEnv } from '../adapters/runtime';
import type { Metered } from '../core/contracts';
import type { MergeOutput } from '../core/merge-contracts';
import { mergeMetrics } from '../core/metrics';
import { mergeItemSchema } from '../core/payloads';
import { parsePayload } from '../core/payload-schema';
import { mergeFiles, type MergeDeps } from '../use-cases/merge-files';

/** One item of the merge Map (a merge reference) -> the verified target-size files of that merge. */
export const makeHandler = (deps: MergeDeps & Observability) => async (event: unknown): Promise<Metered<MergeOutput>> => {
  const item = parsePayload(mergeItemSchema, event, 'merge item');
  const log = logger.createChild({ persistentKeys: { executionId: item.executionId, planId: item.planId, mergeId: item.mergeId, partition: item.partition } });
  log.info('merging', { bins: item.bins, estimatedInputBytes: item.estimatedInputBytes });
  const meter = meterInvocation(deps.store, deps.fn);
  const out = await mergeFiles({ ...deps, store: meter.store }, item);
  const usage = meter.finish();
  log.info('merged', { ...out, usage });
  publishMetrics(deps.emf, deps.settings.table, mergeMetrics(out), usage);
  return { ...out, usage };
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  clearScratch(rt.engine.scratchDir);
  return makeHandler({ store: rt.store, settings: rt.settings, engine: rt.engine, ...duckdbStepDeps(rt.engine.scratchDir), fn: functionFromEnv('merge'), emf: stdoutSink });
});
