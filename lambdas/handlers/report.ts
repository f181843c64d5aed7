import { logger } from '../adapters/logger';
import { functionFromEnv, meterInvocation, publishMetrics, stdoutSink, type Observability } from '../adapters/metrics';
import { lazy, runtimeFromEnv } from '../adapters/runtime';
import { systemClock } from '../adapters/system-clock';
import type { ReportOutput } from '../core/contracts';
import { parseCostModel, type PriceTable } from '../core/cost';
import { runMetrics } from '../core/metrics';
import type { Clock, ObjectStore } from '../core/ports';
import { Env, type TableSettings } from '../core/settings';
import { parsePayload } from '../core/payload-schema';
import { reportInputSchema } from '../core/payloads';
import { writeRunReport } from '../use-cases/run-report';

export interface ReportHandlerDeps extends Observability {
  readonly store: ObjectStore;
  readonly settings: TableSettings;
  readonly clock: Clock;
  readonly prices: PriceTable;
}

/** The end of every execution, succeeded or failed: the run report in S3, and the run's metrics. */
export const makeHandler = (deps: ReportHandlerDeps) => async (event: unknown): Promise<ReportOutput> => {
  const input = parsePayload(reportInputSchema, event, 'report input');
  const meter = meterInvocation(deps.store, deps.fn);
  const { output, report } = await writeRunReport({ ...deps, store: meter.store, usage: meter.finish }, input);
  const usage = meter.finish();
  logger.info('reported', { executionId: input.executionId, ...output, usage });
  publishMetrics(deps.emf, deps.settings.table, runMetrics(report), usage);
  return output;
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  return makeHandler({
    store: rt.store,
    settings: rt.settings,
    clock: systemClock,
    prices: parseCostModel(process.env[Env.CostModel]).prices,
    fn: functionFromEnv('report'),
    emf: stdoutSink,
  });
});
