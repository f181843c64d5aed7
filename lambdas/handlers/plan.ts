import { logger } from '../adapters/logger';
import { lazy, runtimeFromEnv } from '../adapters/runtime';
import type { PlanOutput } from '../core/contracts';
import type { ObjectStore } from '../core/ports';
import { parseRunRequest, type TableSettings } from '../core/settings';
import { planRun } from '../use-cases/plan-run';

export interface PlanHandlerDeps {
  readonly store: ObjectStore;
  readonly settings: TableSettings;
}

/** Execution input (a RunRequest) -> the plan's location and size. */
export const makeHandler = (deps: PlanHandlerDeps) => async (event: unknown): Promise<PlanOutput> => {
  const request = parseRunRequest(event, deps.settings);
  const { output, report } = await planRun(deps, request);
  logger.info('planned', { planId: output.planId, bins: output.bins, partitions: output.partitions, inputFiles: output.inputFiles, skipped: report.skipped, held: report.held.length });
  return output;
};

export const handler = lazy(() => makeHandler(runtimeFromEnv()));
