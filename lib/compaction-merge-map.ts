import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { itemSelectorOf, planItemsMap } from './map-items';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { field, StatePath, type PlanOutput } from '../lambdas/core/contracts';
import type { MergeItem } from '../lambdas/core/merge-contracts';

const planAt = (name: keyof PlanOutput) => `${StatePath.plan}.${field<PlanOutput>(name)}`;

export interface MergeMapProps {
  readonly merge: lambda.IFunction;
  readonly retries: readonly sfn.RetryProps[];
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
  /** The ResultWriter of the bins' Map (same prefix). */
  readonly resultWriter: sfn.ResultWriterV2;
}

/**
 * The second stage: one Merge per item of the plan's merges.json, with the same item reader,
 * result writer, retries and failure tolerance as the bins' Map. Its result goes to
 * `$.merging` (locations only); the caller adds the Catch.
 */
export function buildMergeMap(scope: Construct, names: { map: string; task: string }, props: MergeMapProps): sfn.DistributedMap {
  const merge = new tasks.LambdaInvoke(scope, names.task, { lambdaFunction: props.merge, payloadResponseOnly: true, retryOnServiceExceptions: false });
  for (const r of props.retries) merge.addRetry(r);
  const itemSelector = itemSelectorOf<MergeItem>({
    table: 'string', planId: 'string', mergeId: 'string', partition: 'string', version: 'string', mergeKey: 'string', bins: 'number', estimatedInputBytes: 'number',
  });
  return planItemsMap(scope, names.map, {
    comment: 'One Merge per merge of a partition\'s intermediate files; the items are the plan\'s MergeItem list in S3',
    items: { bucketPath: planAt('planBucket'), keyPath: planAt('mergeItemsKey') },
    itemSelector,
    processor: merge,
    maxConcurrency: props.maxConcurrency,
    toleratedFailurePercentage: props.toleratedFailurePercentage,
    resultWriter: props.resultWriter,
    resultPath: StatePath.merging,
  });
}

/** True when the plan has merges (absent in plans of older versions: nothing to merge). */
export const hasMerges = () => sfn.Condition.and(sfn.Condition.isPresent(planAt('merges')), sfn.Condition.numberGreaterThan(planAt('merges'), 0));
