import { duckdbStepDeps } from '../adapters/duckdb-parquet-engine';
import { logger } from '../adapters/logger';
import { functionFromEnv, meterInvocation, publishMetrics, stdoutSink, type Observability } from '../adapters/metrics';
import { clearScratch, lazy, runtimeFromEnv } from '../adapters/runtime';
import type { CompactOutput, Metered } from '../core/contracts';
import { binMetrics } from '../core/metrics';
import { parsePayload } from '../core/payload-schema';
import { binItemSchema } from '../core/payloads';
import { compactBin, type CompactDeps } from '../use-cases/compact-bin';

/** One Distributed Map item (a bin reference) -> the verified output of that bin. */
export const makeHandler = (deps: CompactDeps & Observability) => async (event: unknown): Promise<Metered<CompactOutput>> => {
  const item = parsePayload(binItemSchema, event, 'bin item');
  const log = logger.createChild({ persistentKeys: { executionId: item.executionId, planId: item.planId, binId: item.binId, partition: item.partition } });
  log.info('compacting', { inputFiles: item.inputFiles, inputBytes: item.inputBytes });
  const meter = meterInvocation(deps.store, deps.fn);
  const out = await compactBin({ ...deps, store: meter.store }, item);
  const usage = meter.finish();
  log.info('compacted', { ...out, usage });
  publishMetrics(deps.emf, deps.settings.table, binMetrics(item.inputBytes, out), usage);
  return { ...out, usage };
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  clearScratch(rt.engine.scratchDir);
  return makeHandler({ ...rt, ...duckdbStepDeps(rt.engine.scratchDir), fn: functionFromEnv('compact'), emf: stdoutSink });
});
