import { logger } from '../adapters/logger';
import { functionFromEnv, meterInvocation, publishMetrics, stdoutSink, type Observability } from '../adapters/metrics';
import { glueCatalogFromEnv, lazy, runtimeFromEnv, systemClock } from '../adapters/runtime';
import type { Metered, PlanOutput, SwapInput, SwapOutput } from '../core/contracts';
import { swapMetrics } from '../core/metrics';
import { requireFields } from '../core/validate';
import { swapPlan, type SwapDeps } from '../use-cases/swap';

/** Commits every complete partition of a plan and points the catalog at it. */
export const makeHandler = (deps: SwapDeps & Observability) => async (event: unknown): Promise<Metered<SwapOutput>> => {
  const { plan } = requireFields<SwapInput>(event, 'swap input', { plan: 'object' });
  requireFields<PlanOutput>(plan, 'swap input plan', { planId: 'string', planBucket: 'string', planKey: 'string' });
  const meter = meterInvocation(deps.store, deps.fn);
  const out = await swapPlan({ ...deps, store: meter.store }, plan);
  const usage = meter.finish();
  logger.info('swapped', { planId: plan.planId, ...out, usage });
  // Kept as the operator set it; someone has to decide (npm run compact -- catalog adopt|overrule).
  if (out.catalogDrift.length) logger.warn('catalog drift kept', { planId: plan.planId, catalogDrift: out.catalogDrift });
  for (const warning of out.warnings ?? []) logger.warn(warning, { planId: plan.planId });
  publishMetrics(deps.emf, deps.settings.table, swapMetrics(out), usage);
  return { ...out, usage };
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  return makeHandler({ store: rt.store, settings: rt.settings, catalog: glueCatalogFromEnv(rt.settings), clock: systemClock, fn: functionFromEnv('swap'), emf: stdoutSink });
});
