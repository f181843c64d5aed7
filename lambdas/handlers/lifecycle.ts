import { logger } from '../adapters/logger';
import { functionFromEnv, meterInvocation, publishMetrics, stdoutSink, type Observability } from '../adapters/metrics';
import { glueCatalogFromEnv, lazy, runtimeFromEnv } from '../adapters/runtime';
import { systemClock } from '../adapters/system-clock';
import type { LifecycleOutput, Metered } from '../core/contracts';
import { InvalidInputError } from '../core/errors';
import { lifecycleMetrics } from '../core/metrics';
import { parsePayload } from '../core/payload-schema';
import { lifecycleInputSchema } from '../core/payloads';
import { retireCompacted, type LifecycleDeps } from '../use-cases/lifecycle';

/** Retires sources and superseded versions whose grace period is over. */
export const makeHandler = (deps: LifecycleDeps & Observability) => async (event: unknown): Promise<Metered<LifecycleOutput>> => {
  const input = parsePayload(lifecycleInputSchema, event, 'lifecycle input');
  if (input.table !== deps.settings.table) throw new InvalidInputError(`lifecycle input table "${input.table}" is not this pipeline's table "${deps.settings.table}"`);
  const meter = meterInvocation(deps.store, deps.fn);
  const report = await retireCompacted({ ...deps, store: meter.store }, input.dryRun === true);
  const usage = meter.finish();
  logger.info('lifecycle', { executionId: input.executionId, ...report, wouldRetire: report.wouldRetire.length, usage });
  publishMetrics(deps.emf, deps.settings.table, lifecycleMetrics(report.retired), usage);
  return { retired: report.retired, waiting: report.waiting, usage };
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  return makeHandler({
    store: rt.store,
    settings: rt.settings,
    catalog: glueCatalogFromEnv(rt.settings),
    clock: systemClock,
    fn: functionFromEnv('lifecycle'),
    emf: stdoutSink,
  });
});
