import { logger } from '../adapters/logger';
import { functionFromEnv, meterInvocation, publishMetrics, stdoutSink, type Observability } from '../adapters/metrics';
import { glueCatalogFromEnv, lazy, runtimeFromEnv } from '../adapters/runtime';
import { systemClock } from '../adapters/system-clock';
import type { Metered, SwapInput, SwapOutput } from '../core/contracts';
import { swapMetrics } from '../core/metrics';
import { parsePayload } from '../core/payload-schema';
import { swapInputSchema } from '../core/payloads';
import { swapPlan, type SwapDeps } from '../use-cases/swap';

/** Commits every complete partition of a plan and points the catalog at it. */
export const makeHandler = (deps: SwapDeps & Observability) => async (event: unknown): Promise<Metered<SwapOutput>> => {
  const { plan, executionId } = parsePayload(swapInputSchema, event, 'swap input') as SwapInput;
  const log = logger.createChild({ persistentKeys: { executionId, planId: plan.planId } });
  const meter = meterInvocation(deps.store, deps.fn);
  const out = await swapPlan({ ...deps, store: meter.store }, plan);
  const usage = meter.finish();
  log.info('swapped', { ...out, usage });
  // Kept as the operator set it; someone has to decide (npm run compact -- catalog adopt|overrule).
  if (out.catalogDrift.length) log.warn('catalog drift kept', { catalogDrift: out.catalogDrift });
  for (const warning of out.warnings ?? []) log.warn(warning);
  publishMetrics(deps.emf, deps.settings.table, swapMetrics(out), usage);
  return { ...out, usage };
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  return makeHandler({ store: rt.store, settings: rt.settings, catalog: glueCatalogFromEnv(rt.settings), clock: systemClock, fn: functionFromEnv('swap'), emf: stdoutSink });
});
