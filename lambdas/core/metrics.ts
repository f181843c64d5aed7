/**
 * CloudWatch metric names: constants shared by the handlers that emit them (EMF, one namespace)
 * and the construct that graphs and alarms on them, so that neither can drift from the other.
 */

import type { CompactOutput, PlanOutput, PlanReport, SwapOutput } from './contracts';
import type { MergeOutput } from './merge-contracts';
import type { StepUsage } from './cost';
import type { HoldReason } from './planner';
import type { RunReport } from './run-report';

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
  // merge, once per merge of a partition's intermediate files
  MergesDone: 'MergesDone',
  /** Intermediate files (bin outputs) read by merges. */
  FilesMerged: 'FilesMerged',
  /** Target-size files the merges wrote. */
  MergedFilesOut: 'MergedFilesOut',
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

/** A step's S3 requests by kind. */
export const requestMetrics = (u: StepUsage): MetricValue[] => [
  { name: MetricNames.S3ListRequests, unit: 'Count', value: u.requests.LIST },
  { name: MetricNames.S3GetRequests, unit: 'Count', value: u.requests.GET },
  { name: MetricNames.S3PutRequests, unit: 'Count', value: u.requests.PUT },
  { name: MetricNames.S3CopyRequests, unit: 'Count', value: u.requests.COPY },
  { name: MetricNames.S3DeleteRequests, unit: 'Count', value: u.requests.DELETE },
  { name: MetricNames.S3HeadRequests, unit: 'Count', value: u.requests.HEAD },
];

/** A run's plan; a dry run compacts nothing, so it publishes none of these. */
export function planMetrics(out: PlanOutput, report: PlanReport, now: Date): MetricValue[] {
  if (out.dryRun) return [];
  const held = new Map<string, number>();
  for (const h of report.held) held.set(h.reason, (held.get(h.reason) ?? 0) + 1);
  const oldest = report.stats.oldestUncompacted;
  return [
    { name: MetricNames.RunsPlanned, unit: 'Count', value: 1 },
    { name: MetricNames.BinsPlanned, unit: 'Count', value: out.bins },
    { name: MetricNames.PartitionsPlanned, unit: 'Count', value: out.partitions },
    { name: MetricNames.ObjectsPlanned, unit: 'Count', value: out.inputFiles },
    { name: MetricNames.BytesPlanned, unit: 'Bytes', value: out.inputBytes },
    { name: MetricNames.BacklogObjects, unit: 'Count', value: report.stats.backlog.objects },
    { name: MetricNames.BacklogBytes, unit: 'Bytes', value: report.stats.backlog.bytes },
    { name: MetricNames.OldestUncompactedAge, unit: 'Seconds', value: oldest ? Math.max(0, Math.round((now.getTime() - Date.parse(oldest)) / 1000)) : 0 },
    ...[...held].map(([reason, n]): MetricValue => ({ name: MetricNames.PartitionsHeld, unit: 'Count', value: n, reason })),
  ];
}

export const skippedMetrics = (): MetricValue[] => [{ name: MetricNames.RunsSkipped, unit: 'Count', value: 1 }];

/** One compacted bin. */
export const binMetrics = (inputBytes: number, out: CompactOutput): MetricValue[] => [
  { name: MetricNames.BinsCompacted, unit: 'Count', value: 1 },
  { name: MetricNames.ObjectsIn, unit: 'Count', value: out.inputFiles },
  { name: MetricNames.BytesIn, unit: 'Bytes', value: inputBytes },
  { name: MetricNames.RowsIn, unit: 'Count', value: out.inputRows },
  { name: MetricNames.FilesOut, unit: 'Count', value: out.outputBytes > 0 ? 1 : 0 },
  { name: MetricNames.BytesOut, unit: 'Bytes', value: out.outputBytes },
  { name: MetricNames.RowsOut, unit: 'Count', value: out.outputRows },
  { name: MetricNames.RecordsQuarantined, unit: 'Count', value: out.rejectedRecords },
  { name: MetricNames.ObjectsQuarantined, unit: 'Count', value: out.rejectedObjects },
];

/** One merge. */
export const mergeMetrics = (out: MergeOutput): MetricValue[] => [
  { name: MetricNames.MergesDone, unit: 'Count', value: 1 },
  { name: MetricNames.FilesMerged, unit: 'Count', value: out.inputFiles },
  { name: MetricNames.MergedFilesOut, unit: 'Count', value: out.outputFiles },
];

export const swapMetrics = (out: SwapOutput): MetricValue[] => [
  { name: MetricNames.PartitionsCommitted, unit: 'Count', value: out.committed },
  { name: MetricNames.PartitionsIncomplete, unit: 'Count', value: out.incomplete },
];

export const lifecycleMetrics = (retired: number): MetricValue[] => [{ name: MetricNames.ObjectsRetired, unit: 'Count', value: retired }];

/** The whole run, from its report. */
export const runMetrics = (r: RunReport): MetricValue[] => [
  { name: MetricNames.BinsFailed, unit: 'Count', value: r.bins.failed },
  { name: MetricNames.RunDuration, unit: 'Seconds', value: (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000 },
  { name: MetricNames.RunCost, unit: 'None', value: r.cost.totalUsd },
  ...(r.cost.perMillionObjectsUsd !== undefined ? [{ name: MetricNames.CostPerMillionObjects, unit: 'None' as const, value: r.cost.perMillionObjectsUsd }] : []),
];
