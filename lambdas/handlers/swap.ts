import { logger } from '../adapters/logger';
import { glueCatalogFromEnv, lazy, runtimeFromEnv, systemClock } from '../adapters/runtime';
import type { PlanOutput, SwapInput, SwapOutput } from '../core/contracts';
import { requireFields } from '../core/validate';
import { swapPlan, type SwapDeps } from '../use-cases/swap';

/** Commits every complete partition of a plan and points the catalog at it. */
export const makeHandler = (deps: SwapDeps) => async (event: unknown): Promise<SwapOutput> => {
  const { plan } = requireFields<SwapInput>(event, 'swap input', { plan: 'object' });
  requireFields<PlanOutput>(plan, 'swap input plan', { planId: 'string', planBucket: 'string', planKey: 'string' });
  const out = await swapPlan(deps, plan);
  logger.info('swapped', { planId: plan.planId, ...out });
  // Kept as the operator set it; someone has to decide (npm run compact -- catalog adopt|overrule).
  if (out.catalogDrift.length) logger.warn('catalog drift kept', { planId: plan.planId, catalogDrift: out.catalogDrift });
  return out;
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  return makeHandler({ store: rt.store, settings: rt.settings, catalog: glueCatalogFromEnv(rt.settings), clock: systemClock });
});
