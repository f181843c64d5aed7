/** What a deployed verb works with: its flags, the target found once, the execution and its report. */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeExecutionCommand, StartExecutionCommand, type DescribeExecutionOutput, type SFNClient } from '@aws-sdk/client-sfn';
import type { Clock, ObjectStore } from '../../lambdas/core/ports';
import type { RunReport } from '../../lambdas/core/run-report';
import type { Command } from './command-line';
import { duration, headline, nameOf, noReportReason, placeInOutput, reportPlace, type ReportPlace } from './executions';
import { UsageError } from './flags';
import { executionArnOf, regionOfArn, resolveTarget, type Target } from './target';

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

/** What Step Functions takes as a name and CloudWatch Logs (the state machine logs) keeps as it is. */
const NAME = /^[A-Za-z0-9_-]{1,80}$/;
const ENDED = (s: string | undefined) => s !== 'RUNNING' && s !== 'PENDING_REDRIVE';

/** What one deployed verb works with: the flags, and the target found once. */
/** An execution's input as JSON (undefined when it is none). */
export function inputOf(d: DescribeExecutionOutput): Record<string, unknown> | undefined {
  try {
    const o: unknown = JSON.parse(d.input ?? '');
    return o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class Session {
  private target?: Promise<Target>;

  constructor(readonly cmd: Command, readonly deps: DeployedDeps) {}

  get flags() {
    return this.cmd.flags;
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

  /** The gold bucket and table of an execution: from the flags, else the stack, else (the table) its input. */
  async bucketAndTable(d: DescribeExecutionOutput): Promise<{ bucket?: string; table?: string }> {
    const t = this.flags['gold-bucket'] && this.flags.table ? undefined : await this.resolve();
    const input = inputOf(d);
    return {
      bucket: (this.flags['gold-bucket'] as string | undefined) ?? t?.goldBucket,
      table: (this.flags.table as string | undefined) ?? t?.table ?? (typeof input?.table === 'string' ? input.table : undefined),
    };
  }

  /** Where the execution's report is: named by its output, else the table's key in the gold bucket. */
  async place(arn: string, d: DescribeExecutionOutput): Promise<ReportPlace> {
    const named = placeInOutput(d.output);
    if (named) return named;
    const { bucket, table } = await this.bucketAndTable(d);
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
        const report = await this.place(arn, d).then((p) => this.report(arn, p)).catch(() => undefined);
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
    if (!NAME.test(name)) throw new UsageError(`flag --name: "${name}" is not an execution name (1-80 letters, digits, - or _)`, this.cmd.verb.name);
    return name;
  }
}

