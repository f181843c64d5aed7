/**
 * The verbs on the deployed workflow (Step Functions): start, status, report, redrive, rerun. The
 * state machine is found from the stack's outputs or given by a flag; run reports are read from
 * the gold bucket with the S3 adapter.
 */
import { randomBytes } from 'node:crypto';
import { ExecutionStatus, ListExecutionsCommand, RedriveExecutionCommand, type DescribeExecutionOutput } from '@aws-sdk/client-sfn';
import { StepFunctionsExecutions } from '../../lambdas/adapters/sfn-executions';
import { LocalProcesses } from '../../lambdas/adapters/local-processes';
import { mapLimit } from '../../lambdas/core/concurrency';
import { InvalidInputError } from '../../lambdas/core/errors';
import { leaseKey } from '../../lambdas/core/keys';
import { decideLease, type Lease } from '../../lambdas/core/lease';
import { parseRunRequest } from '../../lambdas/core/settings';
import type { Command } from './command-line';
import { duration, headline, nameOf, noReportReason, reportPlace, reportText, stamp } from './executions';
import { UsageError } from './flags';
import { inputOf, Session, type DeployedDeps } from './session';
import type { Target } from './target';
import { PROGRAM } from './verbs';

export type { DeployedDeps } from './session';

const STATES = Object.values(ExecutionStatus) as string[];
const REQUEST_FLAGS = { partitions: 'partitions', 'dry-run': 'dryRun', 'target-mb': 'targetFileMb', 'if-running': 'ifRunning' } as const;

function announce(what: string, arn: string, input: string): void {
  const name = nameOf(arn);
  console.log(what);
  console.log(`  ${arn}`);
  console.log(`  input ${input}`);
  console.log(`follow it: ${PROGRAM} status; its report once it ends: ${PROGRAM} report ${name}`);
}

/**
 * The keys an input's partitions are checked against. Without the stack's PartitionKeys output (and
 * no --partition-keys) only their k=v form is checked here; the plan step checks the keys.
 */
function keysFor(t: Target | undefined, input: unknown): readonly string[] {
  const asked = (input as { partitions?: unknown } | undefined)?.partitions;
  return t?.partitionKeys ?? (Array.isArray(asked) ? asked.map((p) => String(p).split('=')[0]) : ['dt']);
}

/** The run request from --input or the request flags, checked by the plan step's own parser. */
function request(s: Session, t: Target): string {
  const f = s.flags;
  const table = t.table ?? (f.table as string | undefined);
  if (!table) throw new UsageError('start with --state-machine-arn needs --table', 'start');
  const given = Object.keys(REQUEST_FLAGS).filter((k) => f[k] !== undefined);
  let input: unknown;
  if (typeof f.input === 'string') {
    if (given.length) throw new UsageError(`pass --input or ${given.map((g) => `--${g}`).join(', ')}, not both`, 'start');
    try {
      input = JSON.parse(f.input);
    } catch (e) {
      throw new UsageError(`flag --input is not JSON (${(e as Error).message})`, 'start');
    }
  } else {
    const mb = f['target-mb'] as string | undefined;
    input = {
      table,
      ...(typeof f.partitions === 'string' ? { partitions: f.partitions.split(',') } : {}),
      ...(f['dry-run'] ? { dryRun: true } : {}),
      // Kept as typed when it is no integer, so the parser names it.
      ...(mb !== undefined ? { targetFileMb: /^-?\d+$/.test(mb) ? Number(mb) : mb } : {}),
      ...(f['if-running'] !== undefined ? { ifRunning: f['if-running'] } : {}),
    };
  }
  try {
    return JSON.stringify(parseRunRequest(input, { table, partitionKeys: keysFor(t, input) }));
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e;
    if (typeof f.input === 'string') throw new UsageError(`flag --input: ${e.message}`, 'start');
    let message = e.message;
    for (const [flag, field] of Object.entries(REQUEST_FLAGS)) message = message.replace(`run input field "${field}"`, `flag --${flag}`);
    throw new UsageError(message, 'start');
  }
}

async function start(s: Session): Promise<number> {
  const t = await s.resolve();
  const input = request(s, t);
  const name = s.executionName(`cli-${stamp(s.deps.clock.now())}-${randomBytes(2).toString('hex')}`);
  const arn = await s.startExecution(t.stateMachineArn, name, input);
  announce(`started ${nameOf(arn)} (${t.from}, table ${t.table ?? s.flags.table})`, arn, input);
  return s.flags.wait ? s.wait(arn) : 0;
}

async function rerun(s: Session): Promise<number> {
  const arn = await s.executionArn();
  const d = await s.describe(arn);
  const input = d.input ?? '{}';
  // The same input, checked again: one the plan step refused would only fail again.
  const parsed = inputOf(d);
  const t = s.flags.stack || s.flags['state-machine-arn'] || !s.cmd.positionals[0].startsWith('arn:') ? await s.resolve() : undefined;
  const table = t?.table ?? (typeof parsed?.table === 'string' ? parsed.table : '');
  try {
    parseRunRequest(parsed ?? input, { table, partitionKeys: keysFor(t, parsed) });
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e;
    throw new UsageError(`the input of ${nameOf(arn)} is not a run request the pipeline takes (${e.message}); start a corrected one: ${PROGRAM} start --input '...'`, 'rerun');
  }
  const stem = nameOf(arn).replace(/-rerun-\d{8}T\d{6}Z$/, '').replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 55);
  const name = s.executionName(`${stem}-rerun-${stamp(s.deps.clock.now())}`);
  const started = await s.startExecution(d.stateMachineArn!, name, input);
  announce(`rerun of ${nameOf(arn)} started as ${nameOf(started)}`, started, input);
  return s.flags.wait ? s.wait(started) : 0;
}

/** Another run holding the table: a redriven execution goes on past its plan step, so it would not ask for the lease again. */
async function heldBy(s: Session, arn: string, d: DescribeExecutionOutput): Promise<Lease | undefined> {
  const { bucket, table } = await s.bucketAndTable(d);
  if (!bucket || !table) throw new UsageError('the table\'s run lease cannot be checked: pass --gold-bucket and --table (or --stack), or --force', 'redrive');
  const lease = await s.store(arn).getJson<Lease>(bucket, leaseKey(table));
  if (!lease || lease.holder === arn) return undefined;
  const status = lease.holder.startsWith('arn:') ? new StepFunctionsExecutions(s.sfn(lease.holder)) : new LocalProcesses();
  return decideLease(lease, arn, s.deps.clock.now(), await status.isRunning(lease.holder)) === 'blocked' ? lease : undefined;
}

async function redrive(s: Session): Promise<number> {
  const arn = await s.executionArn();
  if (!s.flags.force) {
    const d = await s.describe(arn);
    // Every step's error is caught so the report gets written; the run then ends in a Fail state of
    // its own, and a redrive continues from that state: it would only fail again.
    if (d.status === 'FAILED') {
      throw new UsageError(
        `${nameOf(arn)} FAILED (${d.error ?? 'no error'}): the workflow caught the error, wrote the run report and ended in its own Fail state, so a redrive would continue from that state and fail again; rerun it instead: ${PROGRAM} rerun ${nameOf(arn)} (or redrive anyway with --force)`,
        'redrive',
      );
    }
    const lease = await heldBy(s, arn, d);
    if (lease) {
      throw new UsageError(
        `table ${lease.table} is held by ${lease.holder} (since ${lease.acquiredAt}): a redriven ${nameOf(arn)} would go on past its plan step without the run lease, beside that run; redrive once it ended, rerun, or pass --force`,
        'redrive',
      );
    }
  }
  let redrivenAt: Date;
  try {
    redrivenAt = (await s.sfn(arn).send(new RedriveExecutionCommand({ executionArn: arn }))).redriveDate!;
  } catch (e) {
    const err = e as Error;
    if (err.name === 'ExecutionDoesNotExist') throw new UsageError(`no execution ${arn}`, 'redrive');
    if (err.name !== 'ExecutionNotRedrivable') throw e;
    throw new UsageError(
      `${nameOf(arn)} cannot be redriven (${err.message}): a FAILED, TIMED_OUT or ABORTED execution can be, within 14 days of its end; to run its input again: ${PROGRAM} rerun ${nameOf(arn)}`,
      'redrive',
    );
  }
  console.log(`redriven ${nameOf(arn)} at ${redrivenAt.toISOString()}: it goes on from the step it stopped in; the bins it finished are not run again`);
  console.log(`follow it: ${PROGRAM} status; its report once it ends: ${PROGRAM} report ${nameOf(arn)}`);
  return s.flags.wait ? s.wait(arn, redrivenAt) : 0;
}

async function report(s: Session): Promise<number> {
  const arn = await s.executionArn();
  const d = await s.describe(arn);
  const place = await s.place(arn, d);
  const r = await s.report(arn, place);
  if (!r) {
    console.log(`${nameOf(arn)}: ${d.status}; ${noReportReason(d.status)} (looked at s3://${place.bucket}/${place.key})`);
    return d.status === 'RUNNING' || d.status === 'PENDING_REDRIVE' ? 0 : 1;
  }
  process.stdout.write(s.flags.json ? `${JSON.stringify(r, null, 2)}\n` : await reportText(s.store(arn), place, r));
  return 0;
}

async function status(s: Session): Promise<number> {
  const f = s.flags;
  const limit = f.limit === undefined ? 10 : Number(f.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`flag --limit must be an integer from 1 to 1000, got "${f.limit}"`, 'status');
  const state = f.state === undefined ? undefined : String(f.state).toUpperCase();
  if (state !== undefined && !STATES.includes(state)) throw new UsageError(`flag --state must be one of ${STATES.join(', ')}, got "${f.state}"`, 'status');
  const t = await s.resolve();
  const out = await s.sfn(t.stateMachineArn).send(
    new ListExecutionsCommand({ stateMachineArn: t.stateMachineArn, maxResults: limit, ...(state ? { statusFilter: state as ExecutionStatus } : {}) }),
  );
  const executions = out.executions ?? [];
  const bucket = t.goldBucket;
  const table = t.table ?? (f.table as string | undefined);
  console.log(`${t.from}${table ? `, table ${table}` : ''}: ${executions.length ? `the ${executions.length} latest${state ? ` ${state}` : ''} execution(s)` : `no${state ? ` ${state}` : ''} executions`}`);
  if (!executions.length) return 0;
  const reports = bucket && table ? await mapLimit(executions, 4, (e) => s.report(e.executionArn!, reportPlace(e.executionArn!, bucket, table))) : [];
  const now = s.deps.clock.now().getTime();
  const rows = executions.map((e, i) => [
    e.name ?? nameOf(e.executionArn!),
    `${e.status}${e.redriveCount ? ` (redriven ${e.redriveCount}x)` : ''}`,
    e.startDate!.toISOString().replace(/\.\d+Z$/, 'Z'),
    duration((e.stopDate?.getTime() ?? now) - e.startDate!.getTime()),
    bucket && table ? (reports[i] ? headline(reports[i]) : noReportReason(e.status)) : '',
  ]);
  const header = ['execution', 'state', 'started', 'took', bucket && table ? 'report' : ''];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  for (const r of [header, ...rows]) console.log(r.map((v, c) => (c < r.length - 1 ? v.padEnd(widths[c]) : v)).join('  ').trimEnd());
  if (!(bucket && table)) console.log('(pass --gold-bucket and --table for each run report\'s headline)');
  return 0;
}

const VERBS: Record<string, (s: Session) => Promise<number>> = { start, status, report, redrive, rerun };

export const runDeployedVerb = (cmd: Command, deps: DeployedDeps): Promise<number> => VERBS[cmd.verb.name](new Session(cmd, deps));
