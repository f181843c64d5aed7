import { logger } from '../adapters/logger';
import { functionFromEnv, meterInvocation, publishMetrics, stdoutSink, type Observability } from '../adapters/metrics';
import { lazy, runtimeFromEnv, sfnExecutions } from '../adapters/runtime';
import { systemClock } from '../adapters/system-clock';
import type { Metered, PlanOutput, SkippedRun } from '../core/contracts';
import { parseCostModel, type CostModel } from '../core/cost';
import { planMetrics, skippedMetrics } from '../core/metrics';
import type { Clock, ExecutionStatus, ObjectStore } from '../core/ports';
import { Env, parseRunRequest, type TableSettings } from '../core/settings';
import { parsePayload } from '../core/payload-schema';
import { planInputSchema } from '../core/payloads';
import { planExecution } from '../use-cases/plan-run';

export interface PlanHandlerDeps extends Observability {
  readonly store: ObjectStore;
  readonly settings: TableSettings;
  readonly executions: ExecutionStatus;
  readonly clock: Clock;
  readonly costModel?: CostModel;
}

/** Execution input (a RunRequest) -> the plan's location and size, under the table's lease. */
export const makeHandler = (deps: PlanHandlerDeps) => async (event: unknown): Promise<Metered<PlanOutput> | Metered<SkippedRun>> => {
  const input = parsePayload(planInputSchema, event, 'plan input');
  const request = parseRunRequest(input.request, deps.settings);
  const s = deps.settings;
  const meter = meterInvocation(deps.store, deps.fn);
  const result = await planExecution({ ...deps, store: meter.store }, input.executionId, request);
  if (result.kind === 'skipped') {
    const usage = meter.finish();
    logger.info('skipped', { executionId: input.executionId, skipped: result.skipped });
    publishMetrics(deps.emf, s.table, skippedMetrics(), usage);
    return { table: s.table, skipped: result.skipped, usage };
  }
  const { output, report, warnings } = result;
  const usage = meter.finish();
  for (const warning of warnings) logger.warn(warning, { executionId: input.executionId, planId: output.planId });
  logger.info('planned', { executionId: input.executionId, planId: output.planId, bins: output.bins, partitions: output.partitions, inputFiles: output.inputFiles, skipped: report.skipped, held: report.held.length, usage });
  publishMetrics(deps.emf, s.table, planMetrics(output, report, deps.clock.now()), usage);
  return { ...output, usage };
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  return makeHandler({
    store: rt.store,
    settings: rt.settings,
    executions: sfnExecutions(),
    clock: systemClock,
    costModel: parseCostModel(process.env[Env.CostModel]),
    fn: functionFromEnv('plan'),
    emf: stdoutSink,
  });
});
