import { Metrics } from '@aws-lambda-powertools/metrics';
import type { StepName, StepUsage } from '../core/cost';
import { METRICS_NAMESPACE, MetricDimensions, requestMetrics, type MetricValue } from '../core/metrics';
import type { ObjectStore } from '../core/ports';
import { RequestCountingStore } from './request-counting-store';

/**
 * Where EMF documents go: one JSON line on stdout in Lambda (CloudWatch Logs turns it into
 * metrics); a list in tests; a file or nowhere offline.
 */
export type EmfSink = (document: string) => void;

export const stdoutSink: EmfSink = (document) => {
  process.stdout.write(`${document}\n`);
};

/**
 * Publishes the values as Powertools Metrics EMF documents in the product's namespace, dimension
 * `table` (one document per extra `reason`, as EMF takes one value per dimension); with the step's
 * usage, its S3 requests by kind too.
 */
export function publishMetrics(sink: EmfSink, table: string, values: readonly MetricValue[], usage?: StepUsage): void {
  const all = usage ? [...values, ...requestMetrics(usage)] : values;
  const groups = new Map<string | undefined, MetricValue[]>();
  for (const v of all) groups.set(v.reason, [...(groups.get(v.reason) ?? []), v]);
  for (const [reason, group] of groups) {
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE });
    // Only the product's own dimensions: alarms and the dashboard name exactly these.
    metrics.clearDefaultDimensions();
    metrics.addDimension(MetricDimensions.Table, table);
    if (reason !== undefined) metrics.addDimension(MetricDimensions.Reason, reason);
    for (const v of group) metrics.addMetric(v.name, v.unit, v.value);
    sink(JSON.stringify(metrics.serializeMetrics()));
    metrics.clearMetrics();
  }
}

/** The function a handler runs in: its step and memory (from Lambda's environment, or the template offline). */
export interface FunctionInfo {
  readonly step: StepName;
  readonly memoryMb: number;
}

/** What every handler needs to report on itself. */
export interface Observability {
  readonly fn: FunctionInfo;
  readonly emf: EmfSink;
}

/** Lambda's own memory setting, read once at cold start. */
export function functionFromEnv(step: StepName, vars: Readonly<Record<string, string | undefined>> = process.env): FunctionInfo {
  const memoryMb = Number(vars.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  return { step, memoryMb: Number.isInteger(memoryMb) && memoryMb > 0 ? memoryMb : 0 };
}

/**
 * Measures one invocation: the store it hands to the use-case counts the requests, and the
 * clock runs until `finish`.
 */
export function meterInvocation(store: ObjectStore, fn: FunctionInfo): { store: ObjectStore; finish: () => StepUsage } {
  const counting = new RequestCountingStore(store);
  const started = performance.now();
  return {
    store: counting,
    finish: () => ({ step: fn.step, memoryMb: fn.memoryMb, durationMs: Math.ceil(performance.now() - started), requests: counting.counts }),
  };
}
