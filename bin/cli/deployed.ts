/**
 * The verbs on the deployed workflow (Step Functions): start, status, report, redrive, rerun. The
 * state machine is found from the stack's outputs or given by a flag; run reports are read from
 * the gold bucket with the S3 adapter.
 */
import { randomBytes } from 'node:crypto';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  ExecutionStatus,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  StartExecutionCommand,
  type DescribeExecutionOutput,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { mapLimit } from '../../lambdas/core/concurrency';
import { InvalidInputError } from '../../lambdas/core/errors';
import type { Clock, ObjectStore } from '../../lambdas/core/ports';
import type { RunReport } from '../../lambdas/core/run-report';
import { parseRunRequest } from '../../lambdas/core/settings';
import type { Command } from './command-line';
import { duration, headline, nameOf, noReportReason, placeInOutput, reportPlace, reportText, stamp, type ReportPlace } from './executions';
import { UsageError } from './flags';
import { executionArnOf, regionOfArn, resolveTarget, type Target } from './target';
import { PROGRAM } from './verbs';

export interface DeployedDeps {
  readonly sfn: (region: string | undefined) => SFNClient;
  readonly cfn: () => CloudFormationClient;
  /** The S3 store reports are read with, in a region. */
  readonly store: (region: string | undefined) => ObjectStore;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  /** Between two looks at a waited-for execution. */
  readonly pollMs: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,80}$/;
const STATES = Object.values(ExecutionStatus) as string[];
const REQUEST_FLAGS = { partitions: 'partitions', 'dry-run': 'dryRun', 'target-mb': 'targetFileMb', 'if-running': 'ifRunning' } as const;
const ENDED = (s: string | undefined) => s !== 'RUNNING' && s !== 'PENDING_REDRIVE';

/** What one deployed verb works with: the flags, and the target found once. */
class Session {
  private target?: Promise<Target>;

  constructor(readonly cmd: Command, readonly deps: DeployedDeps) {}

  get flags() {
    return this.cmd.flags as Readonly<Record<string, string | boolean | undefined>>;
  }

  resolve(): Promise<Target> {
    return (this.target ??= resolveTarget(this.deps.cfn, this.cmd.flags));
  }

  /** The positional execution as an ARN (a name is looked up on the target's state machine). */
  executionArn(): Promise<string> {
    return executionArnOf(this.cmd.positionals[0], async () => (await this.resolve()).stateMachineArn);
  }

  sfn(arn: string): SFNClient {
    return this.deps.sfn(regionOfArn(arn));
  }

  store(arn: string): ObjectStore {
    return this.deps.store((this.flags.region as string | undefined) ?? regionOfArn(arn));
  }

  async describe(arn: string): Promise<DescribeExecutionOutput> {
    try {
      return await this.sfn(arn).send(new DescribeExecutionCommand({ executionArn: arn }));
    } catch (e) {
      if ((e as Error).name === 'ExecutionDoesNotExist') throw new UsageError(`no execution ${arn}`, this.cmd.verb.name);
      throw e;
    }
  }

  /** Where the execution's report is: named by its output, else the table's key in the gold bucket. */
  async place(arn: string, d: DescribeExecutionOutput): Promise<ReportPlace> {
    const named = placeInOutput(d.output);
    if (named) return named;
    const input = (() => {
      try {
        return JSON.parse(d.input ?? '') as { table?: unknown };
      } catch {
        return {};
      }
    })();
    const t = this.flags['gold-bucket'] && this.flags.table ? undefined : await this.resolve();
    const bucket = (this.flags['gold-bucket'] as string | undefined) ?? t?.goldBucket;
    const table = (this.flags.table as string | undefined) ?? (typeof input.table === 'string' ? input.table : t?.table);
    if (!bucket || !table) throw new UsageError('the report\'s place is not known: pass --gold-bucket and --table (or --stack)', this.cmd.verb.name);
    return reportPlace(arn, bucket, table);
  }

  async report(arn: string, place: ReportPlace): Promise<RunReport | undefined> {
    return this.store(arn).getJson<RunReport>(place.bucket, place.key);
  }

  /** Polls until the execution ends (a redriven one: ends again); prints its end and returns the exit code. */
  async wait(arn: string, redrivenAt?: Date): Promise<number> {
    for (;;) {
      const d = await this.describe(arn);
      const again = !redrivenAt || (d.redriveDate !== undefined && d.redriveDate.getTime() >= redrivenAt.getTime());
      if (ENDED(d.status) && again) {
        const report = await this.report(arn, await this.place(arn, d)).catch(() => undefined);
        const took = duration((d.stopDate ?? this.deps.clock.now()).getTime() - d.startDate!.getTime());
        console.log(`${nameOf(arn)}: ${d.status} after ${took}; ${report ? headline(report) : noReportReason(d.status)}`);
        if (d.status !== 'SUCCEEDED' && d.error) console.log(`  ${d.error}: ${d.cause ?? ''}`.trimEnd());
        return d.status === 'SUCCEEDED' ? 0 : 1;
      }
      await this.deps.sleep(this.deps.pollMs);
    }
  }

  async startExecution(stateMachineArn: string, name: string, input: string): Promise<string> {
    try {
      const out = await this.sfn(stateMachineArn).send(new StartExecutionCommand({ stateMachineArn, name, input }));
      return out.executionArn!;
    } catch (e) {
      if ((e as Error).name === 'ExecutionAlreadyExists') {
        throw new UsageError(`an execution named ${name} already exists with another input (names are unique per state machine for 90 days): pass another --name`, this.cmd.verb.name);
      }
      throw e;
    }
  }

  executionName(fallback: string): string {
    const name = (this.flags.name as string | undefined) ?? fallback;
    if (!NAME.test(name)) throw new UsageError(`flag --name: "${name}" is not an execution name (1-80 letters, digits, -, _ or .)`, this.cmd.verb.name);
    return name;
  }
}

function announce(what: string, arn: string, input: string): void {
  const name = nameOf(arn);
  console.log(`${what} ${name}`);
  console.log(`  ${arn}`);
  console.log(`  input ${input}`);
  console.log(`follow it: ${PROGRAM} status; its report once it ends: ${PROGRAM} report ${name}`);
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
  // Without the stack's PartitionKeys output (and no --partition-keys), only the k=v form is checked here; the plan step checks the keys.
  const asked = (input as { partitions?: unknown }).partitions;
  const keys = t.partitionKeys ?? (Array.isArray(asked) ? asked.map((p) => String(p).split('=')[0]) : ['dt']);
  try {
    return JSON.stringify(parseRunRequest(input, { table, partitionKeys: keys }));
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
  announce(`started (${t.from}, table ${t.table ?? s.flags.table})`, arn, input);
  return s.flags.wait ? s.wait(arn) : 0;
}

async function rerun(s: Session): Promise<number> {
  const arn = await s.executionArn();
  const d = await s.describe(arn);
  const input = d.input ?? '{}';
  // The same input, checked again: one the plan step refused would only fail again.
  const parsed = (() => {
    try {
      return JSON.parse(input) as { table?: unknown; partitions?: unknown };
    } catch {
      return undefined;
    }
  })();
  const t = s.flags.stack || s.flags['state-machine-arn'] || !s.cmd.positionals[0].startsWith('arn:') ? await s.resolve() : undefined;
  const table = t?.table ?? (typeof parsed?.table === 'string' ? parsed.table : '');
  const keys = t?.partitionKeys ?? (Array.isArray(parsed?.partitions) ? parsed!.partitions.map((p) => String(p).split('=')[0]) : ['dt']);
  try {
    parseRunRequest(parsed ?? input, { table, partitionKeys: keys });
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e;
    throw new UsageError(`the input of ${nameOf(arn)} is not a run request the pipeline takes (${e.message}); start a corrected one: ${PROGRAM} start --input '...'`, 'rerun');
  }
  const stem = nameOf(arn).replace(/-rerun-\d{8}T\d{6}Z$/, '').slice(0, 55);
  const name = s.executionName(`${stem}-rerun-${stamp(s.deps.clock.now())}`);
  const started = await s.startExecution(d.stateMachineArn!, name, input);
  announce(`rerun of ${nameOf(arn)} started as`, started, input);
  return s.flags.wait ? s.wait(started) : 0;
}

async function redrive(s: Session): Promise<number> {
  const arn = await s.executionArn();
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
  console.log(`redriven ${nameOf(arn)} at ${redrivenAt.toISOString()}: it goes on from the step that failed, the bins it finished are not run again`);
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
    bucket && table ? (reports[i] ? headline(reports[i]!) : noReportReason(e.status)) : '',
  ]);
  const header = ['execution', 'state', 'started', 'took', bucket && table ? 'report' : ''];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  for (const r of [header, ...rows]) console.log(r.map((v, c) => (c < r.length - 1 ? v.padEnd(widths[c]) : v)).join('  ').trimEnd());
  if (!(bucket && table)) console.log('(pass --gold-bucket and --table for each run report\'s headline)');
  return 0;
}

const VERBS: Record<string, (s: Session) => Promise<number>> = { start, status, report, redrive, rerun };

export const runDeployedVerb = (cmd: Command, deps: DeployedDeps): Promise<number> => VERBS[cmd.verb.name](new Session(cmd, deps));
