/** The run report as short text: what an on-call engineer reads first, and the fixed cost lines. */
import { floorPerMillionObjects, GOAL_PER_MILLION_OBJECTS_USD, S3_REQUEST_KINDS, totalRequests, type PriceTable, type RunCost } from './cost';
import type { RunReport } from './run-report';

const usd = (n: number) => `$${n < 0.01 ? n.toFixed(6) : n.toFixed(4)}`;
const usd2 = (n: number) => `$${n.toFixed(2)}`;
const int = (n: number) => n.toLocaleString('en-US');

export function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** A plain-text table, first column left-aligned. */
export function textTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: readonly string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/**
 * The cost lines, in a fixed form:
 *   cost: $X for N objects = $Y per million objects (goal $0.50; floor $0.40, the GETs alone)
 *   S3 Tables managed compaction, same objects and bytes: $X ($Y per million objects)
 */
export function costLines(cost: RunCost, prices: PriceTable, estimate?: RunCost, estimateLabel = 'estimate before the run'): string[] {
  const perMillion = (c: RunCost) => (c.perMillionObjectsUsd !== undefined ? `${usd2(c.perMillionObjectsUsd)} per million objects` : 'no objects compacted');
  const lines = [
    `cost: ${usd(cost.totalUsd)} for ${int(cost.objects)} objects = ${perMillion(cost)} (goal ${usd2(GOAL_PER_MILLION_OBJECTS_USD)}; floor ${usd2(floorPerMillionObjects(prices))}, the GETs alone)`,
    `S3 Tables managed compaction, same objects and bytes: ${usd(cost.s3Tables.usd)} (${cost.s3Tables.perMillionObjectsUsd !== undefined ? `${usd2(cost.s3Tables.perMillionObjectsUsd)} per million objects` : 'no objects'})`,
  ];
  if (estimate) {
    lines.push(
      `${estimateLabel}: ${usd(estimate.totalUsd)} (${perMillion(estimate)}); S3 requests: ${int(totalRequests(estimate.requests))} estimated, ${int(totalRequests(cost.requests))} made`,
    );
  }
  return lines;
}

/** The report as short Markdown: what an on-call engineer reads first. */
export function renderRunReport(r: RunReport): string {
  const out: string[] = [];
  const name = r.executionId.slice(r.executionId.lastIndexOf(':') + 1);
  out.push(`# ${r.table} run ${name}: ${r.outcome}`, '');
  const took = (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000;
  out.push(`Started ${r.startedAt}, took ${took.toFixed(1)} s${r.planId ? `; plan ${r.planId}` : ''}.`);
  if (r.bins.planned) {
    out.push(`Bins: ${r.bins.planned} planned, ${r.bins.succeeded} compacted, ${r.bins.failed} failed${r.bins.unknown ? `, ${r.bins.unknown} without a result` : ''}.`);
  }
  for (const b of r.failedBins.slice(0, 5)) out.push(`- failed bin ${b.binId ?? '?'} of ${b.partition ?? '?'}: ${b.error}`);

  if (r.partitions.length) {
    out.push('', '## Partitions', '', '```');
    out.push(
      textTable(
        ['partition', 'status', 'objects before', 'bytes before', 'rows before', 'objects after', 'bytes after', 'rows after'],
        r.partitions.map((p) => [
          p.path,
          p.status,
          int(p.before.objects),
          humanBytes(p.before.bytes),
          p.before.rows !== undefined ? int(p.before.rows) : '?',
          p.after ? int(p.after.objects) : '-',
          p.after ? humanBytes(p.after.bytes) : '-',
          p.after ? int(p.after.rows) : '-',
        ]),
      ),
      '```',
    );
    out.push('', '## File sizes', '', '```');
    out.push(textTable(['size', 'objects before', 'files after'], r.sizes.before.map(([label, n], i) => [label, int(n), int(r.sizes.after[i][1])])), '```');
  }

  const reasons = Object.entries(r.held.byReason);
  out.push('', '## Held partitions', '');
  out.push(reasons.length ? reasons.map(([reason, n]) => `${reason} ${n}`).join(', ') : 'none');
  for (const h of r.held.partitions.slice(0, 20)) out.push(`- ${h.path}: ${h.reason} (${h.smallFiles} small files)`);
  if (r.held.partitions.length > 20) out.push(`- and ${r.held.partitions.length - 20} more (see the JSON report)`);
  if (r.backlog) {
    const age = r.backlog.oldestUncompactedAgeSeconds;
    out.push(
      `Backlog left by the run caps: ${int(r.backlog.objects)} objects (${humanBytes(r.backlog.bytes)}). Oldest uncompacted object at the start: ${
        r.backlog.oldestUncompacted ? `${r.backlog.oldestUncompacted} (${(age! / 3600).toFixed(1)} h old)` : 'none'
      }.`,
    );
  }

  out.push('', '## Quarantine', '');
  if (!r.quarantine.bins.length) out.push('none');
  else {
    out.push(`${int(r.quarantine.records)} record(s) and ${int(r.quarantine.objects)} object(s) set aside in ${r.quarantine.bins.length} bin(s):`);
    for (const q of r.quarantine.bins.slice(0, 10)) {
      out.push(`- ${q.partition} bin ${q.binId}: ${q.records} record(s), ${q.objects} object(s)${q.reportKey ? `; report ${q.reportKey}` : ''}`);
      for (const line of q.first ?? []) out.push(`  - ${line}`);
    }
  }

  const c = r.cost;
  out.push('', '## Cost', '', '```');
  const rows: Array<Array<string | number>> = [
    ...S3_REQUEST_KINDS.map((k) => [`S3 ${k}`, int(c.requests[k]), usd((c.requests[k] * r.prices.s3PerThousandRequests[k]) / 1000), r.estimate ? int(r.estimate.requests[k]) : '']),
    ...c.lambda.map((l) => {
      const e = r.estimate?.lambda.find((x) => x.step === l.step);
      return [`Lambda ${l.step}`, `${l.invocations} x, ${l.gbSeconds.toFixed(1)} GB-s`, usd(l.usd), e ? `${e.gbSeconds.toFixed(1)} GB-s` : ''];
    }),
    ['Step Functions', `${int(c.transitions)} transitions`, usd(c.stepFunctionsUsd), r.estimate ? int(r.estimate.transitions) : ''],
    ['total', '', usd(c.totalUsd), r.estimate ? usd(r.estimate.totalUsd) : ''],
  ];
  out.push(textTable(['item', 'measured', `USD (${r.prices.region})`, 'estimated'], rows), '```', '');
  // A dry run's own cost is its plan; the estimate is of the run it planned.
  out.push(...costLines(c, r.prices, r.estimate, r.outcome === 'dry run' ? 'estimate of the planned run (this was a dry run)' : undefined));
  out.push(`Not measured: ${r.unmeasured.join('; ')}.`);
  return `${out.join('\n')}\n`;
}
