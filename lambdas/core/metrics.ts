/**
 * CloudWatch metric names: constants shared by the handlers that emit them (EMF, one namespace)
 * and the construct that graphs and alarms on them, so that neither can drift from the other.
 */

import type { HoldReason } from './planner';

export const METRICS_NAMESPACE = 'S3Compactor';

/** Every metric carries the table; `reason` only where its values are a fixed set. */
export const MetricDimensions = { Table: 'table', Reason: 'reason' } as const;

export const MetricNames = {
  // plan, once per run
  RunsPlanned: 'RunsPlanned',
  /** A scheduled run that found another run holding the lease. */
  RunsSkipped: 'RunsSkipped',
  BinsPlanned: 'BinsPlanned',
  PartitionsPlanned: 'PartitionsPlanned',
  ObjectsPlanned: 'ObjectsPlanned',
  BytesPlanned: 'BytesPlanned',
  /** By `reason` (the planner's hold reasons). */
  PartitionsHeld: 'PartitionsHeld',
  /** Eligible landing objects not planned this run because of the run caps. */
  BacklogObjects: 'BacklogObjects',
  BacklogBytes: 'BacklogBytes',
  /** Age of the oldest landing data object no committed version holds yet. */
  OldestUncompactedAge: 'OldestUncompactedAge',
  // compact, once per bin
  BinsCompacted: 'BinsCompacted',
  ObjectsIn: 'ObjectsIn',
  BytesIn: 'BytesIn',
  RowsIn: 'RowsIn',
  FilesOut: 'FilesOut',
  BytesOut: 'BytesOut',
  RowsOut: 'RowsOut',
  RecordsQuarantined: 'RecordsQuarantined',
  ObjectsQuarantined: 'ObjectsQuarantined',
  // swap and lifecycle, once per run
  PartitionsCommitted: 'PartitionsCommitted',
  PartitionsIncomplete: 'PartitionsIncomplete',
  ObjectsRetired: 'ObjectsRetired',
  // report, once per run
  BinsFailed: 'BinsFailed',
  RunDuration: 'RunDuration',
  /** Estimated USD of the run (S3 requests, Lambda, Step Functions), from the price table. */
  RunCost: 'RunCost',
  CostPerMillionObjects: 'CostPerMillionObjects',
  // every step: S3 requests by kind
  S3ListRequests: 'S3ListRequests',
  S3GetRequests: 'S3GetRequests',
  S3PutRequests: 'S3PutRequests',
  S3CopyRequests: 'S3CopyRequests',
  S3DeleteRequests: 'S3DeleteRequests',
  S3HeadRequests: 'S3HeadRequests',
} as const;

export type MetricName = (typeof MetricNames)[keyof typeof MetricNames];

/** CloudWatch units used here (a subset of Powertools' MetricUnit, same spelling). */
export type MetricUnitName = 'Count' | 'Bytes' | 'Seconds' | 'None';

/** One value to publish; `reason` adds that dimension. */
export interface MetricValue {
  readonly name: MetricName;
  readonly unit: MetricUnitName;
  readonly value: number;
  readonly reason?: string;
}

const HOLD_REASON_SET: Record<HoldReason, true> = {
  'below-min-input-files': true,
  'run-cap': true,
  'up-to-date': true,
  'quiet-period': true,
  'key-too-long': true,
  'file-too-large': true,
};
/** Every value of the `reason` dimension of PartitionsHeld (the compiler checks the list is whole). */
export const HOLD_REASONS = Object.keys(HOLD_REASON_SET) as HoldReason[];
