/** Executions and their run reports as the deployed verbs print them. */
import type { Readable } from 'node:stream';
import type { ReportOutput } from '../../lambdas/core/contracts';
import { reportKey, reportTextKey } from '../../lambdas/core/keys';
import type { ObjectStore } from '../../lambdas/core/ports';
import type { RunReport } from '../../lambdas/core/run-report';
import { renderRunReport } from '../../lambdas/core/run-report-text';

export const nameOf = (executionArn: string) => executionArn.slice(executionArn.lastIndexOf(':') + 1);

/** 4.2 s, 3 m 12 s, 2 h 05 m */
export function duration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`;
}

/** `20241219T140000Z`: sorts by time and is a valid execution name. */
export const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

const MAX_OUTCOME = 160;
const usd = (n: number) => `$${n < 0.01 ? n.toFixed(6) : n.toFixed(4)}`;
const plural = (n: number, one: string) => `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;

/** One line of what a run did: its outcome first, as the report's title has it. */
export function headline(r: RunReport): string {
  const outcome = r.outcome.length > MAX_OUTCOME ? `${r.outcome.slice(0, MAX_OUTCOME - 3)}...` : r.outcome;
  const parts = [outcome];
  if (r.outcome === 'dry run') {
    parts.push(`${plural(r.bins.planned, 'bin')} planned${r.estimate ? `, estimated ${usd(r.estimate.totalUsd)}` : ''}`);
    return parts.join(': ');
  }
  const done = r.partitions.filter((p) => p.status === 'committed');
  const details: string[] = [];
  if (r.partitions.length) details.push(`${done.length}/${plural(r.partitions.length, 'partition')} committed`);
  if (done.length) {
    const before = done.reduce((n, p) => n + p.before.objects, 0);
    const after = done.reduce((n, p) => n + (p.after?.objects ?? 0), 0);
    details.push(`${plural(before, 'object')} -> ${plural(after, 'file')}`);
  }
  if (r.bins.failed) details.push(`${plural(r.bins.failed, 'bin')} failed`);
  if (r.quarantine.records || r.quarantine.objects) details.push(`${plural(r.quarantine.records, 'record')} and ${plural(r.quarantine.objects, 'object')} quarantined`);
  details.push(usd(r.cost.totalUsd));
  return `${outcome}; ${details.join(', ')}`;
}

/** Where an execution's run report is: its output names it once it succeeded; else the table's keys. */
export interface ReportPlace {
  readonly bucket: string;
  readonly key: string;
  readonly textKey: string;
}

export function reportPlace(executionArn: string, bucket: string, table: string): ReportPlace {
  return { bucket, key: reportKey(table, executionArn), textKey: reportTextKey(table, executionArn) };
}

/** The report the execution's output names (`$.report`), if it has one. */
export function placeInOutput(output: string | undefined): ReportPlace | undefined {
  try {
    const r = (JSON.parse(output ?? '') as { report?: Partial<ReportOutput> }).report;
    return r?.reportBucket && r.reportKey && r.textKey ? { bucket: r.reportBucket, key: r.reportKey, textKey: r.textKey } : undefined;
  } catch {
    return undefined;
  }
}

/** Why an execution has no report to read. */
export function noReportReason(status: string | undefined): string {
  if (status === 'RUNNING') return 'running: its report is written when it ends';
  if (status === 'PENDING_REDRIVE') return 'redrive pending: its report is written when it ends';
  if (status === 'ABORTED' || status === 'TIMED_OUT') return 'stopped before its report step (no report; its alarm is the record)';
  return 'no report (expired after the reports\' retention, or never written)';
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

/** The report as text: report.md as the report step wrote it, or rendered from report.json when that is all there is. */
export async function reportText(store: ObjectStore, place: ReportPlace, report: RunReport): Promise<string> {
  try {
    return await text(await store.getStream(place.bucket, place.textKey));
  } catch {
    return renderRunReport(report);
  }
}
