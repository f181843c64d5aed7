import { logger } from '../adapters/logger';
import { lazy, runtimeFromEnv, sfnExecutions, systemClock } from '../adapters/runtime';
import type { PlanInput, PlanOutput } from '../core/contracts';
import type { Clock, ExecutionStatus, ObjectStore } from '../core/ports';
import { parseRunRequest, type TableSettings } from '../core/settings';
import { requireFields } from '../core/validate';
import { acquireLease } from '../use-cases/lease';
import { planRun } from '../use-cases/plan-run';

export interface PlanHandlerDeps {
  readonly store: ObjectStore;
  readonly settings: TableSettings;
  readonly executions: ExecutionStatus;
  readonly clock: Clock;
}

/** Execution input (a RunRequest) -> the plan's location and size, under the table's lease. */
export const makeHandler = (deps: PlanHandlerDeps) => async (event: unknown): Promise<PlanOutput> => {
  const input = requireFields<PlanInput>(event, 'plan input', { executionId: 'string' });
  const request = parseRunRequest(input.request, deps.settings);
  const s = deps.settings;
  await acquireLease({ store: deps.store, executions: deps.executions, clock: deps.clock, bucket: s.goldBucket, table: s.table }, input.executionId);
  const { output, report } = await planRun(deps, request);
  logger.info('planned', { executionId: input.executionId, planId: output.planId, bins: output.bins, partitions: output.partitions, inputFiles: output.inputFiles, skipped: report.skipped, held: report.held.length });
  return output;
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  return makeHandler({ store: rt.store, settings: rt.settings, executions: sfnExecutions(), clock: systemClock });
});
