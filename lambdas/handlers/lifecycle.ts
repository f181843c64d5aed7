import { logger } from '../adapters/logger';
import { glueCatalogFromEnv, lazy, runtimeFromEnv, systemClock } from '../adapters/runtime';
import type { LifecycleInput, LifecycleOutput } from '../core/contracts';
import { InvalidInputError } from '../core/errors';
import { requireFields } from '../core/validate';
import { retireCompacted, type LifecycleDeps } from '../use-cases/lifecycle';

const DAY_MS = 86_400_000;

/** Retires sources and superseded versions whose grace period is over. */
export const makeHandler = (deps: LifecycleDeps) => async (event: unknown): Promise<LifecycleOutput> => {
  const input = requireFields<LifecycleInput>(event, 'lifecycle input', { table: 'string' });
  if (input.table !== deps.settings.table) throw new InvalidInputError(`lifecycle input table "${input.table}" is not this pipeline's table "${deps.settings.table}"`);
  const report = await retireCompacted(deps, input.dryRun === true);
  logger.info('lifecycle', { ...report, wouldRetire: report.wouldRetire.length });
  return { retired: report.retired, waiting: report.waiting };
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  return makeHandler({
    store: rt.store,
    settings: rt.settings,
    catalog: glueCatalogFromEnv(rt.settings),
    clock: systemClock,
    graceMs: rt.settings.graceDays * DAY_MS,
  });
});
