import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/**
 * A Distributed Map's ItemSelector: each item as the plan wrote it (every field of T, by its
 * JSON type), plus the execution id for the step's log lines. Typed by the payload, so a renamed
 * field fails to compile.
 */
export function itemSelectorOf<T>(fields: Record<Exclude<keyof T, 'executionId'> & string, 'string' | 'number'>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries<'string' | 'number'>(fields)) {
    const path = `$$.Map.Item.Value.${name}`;
    out[name] = kind === 'number' ? sfn.JsonPath.numberAt(path) : sfn.JsonPath.stringAt(path);
  }
  out.executionId = sfn.JsonPath.executionId;
  return out;
}

export interface PlanItemsMapProps {
  readonly comment: string;
  /** JSONPaths of the bucket and key of the items list the plan wrote. */
  readonly items: { readonly bucketPath: string; readonly keyPath: string };
  readonly itemSelector: Record<string, unknown>;
  readonly processor: sfn.IChainable;
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
  readonly resultWriter: sfn.ResultWriterV2;
  readonly resultPath: string;
}

/** A Distributed Map over an items list in S3 (the bins' and the merges' alike): Standard child executions, results in S3. */
export function planItemsMap(scope: Construct, id: string, p: PlanItemsMapProps): sfn.DistributedMap {
  const map = new sfn.DistributedMap(scope, id, {
    comment: p.comment,
    itemReader: new sfn.S3JsonItemReader({ bucketNamePath: sfn.JsonPath.stringAt(p.items.bucketPath), key: sfn.JsonPath.stringAt(p.items.keyPath) }),
    itemSelector: p.itemSelector,
    maxConcurrency: p.maxConcurrency,
    toleratedFailurePercentage: p.toleratedFailurePercentage,
    resultWriterV2: p.resultWriter,
    resultPath: p.resultPath,
    mapExecutionType: sfn.StateMachineType.STANDARD,
    label: id,
  });
  map.itemProcessor(p.processor);
  return map;
}
