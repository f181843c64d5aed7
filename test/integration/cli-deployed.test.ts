/**
 * The CLI on the deployed workflow: the exact Step Functions and CloudFormation requests each verb
 * sends (aws-sdk-client-mock), and, offline, the input `start` sends run by the synthesized
 * definition, then `report` and `status` reading what its report step wrote to the loopback S3.
 */
import { CloudFormationClient, CloudFormationServiceException, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionNotRedrivable,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { mockClient, type AwsCommand } from 'aws-sdk-client-mock';
import type { MetadataBearer } from '@smithy/types';
import { logger } from '../../lambdas/adapters/logger';
import { reportKey, reportTextKey } from '../../lambdas/core/keys';
import { StackOutputs, stackOutputKey } from '../../lambdas/core/outputs';
import type { RunReport } from '../../lambdas/core/run-report';
import { putFiles, sensorFiles } from '../../local/generate';
import { LOCAL_BUCKETS, localPipeline, synthesizeApp, type LocalPipeline } from '../../local/pipeline';
import { executionArn } from '../../local/workflow';
import { nameOf } from '../../bin/cli/executions';
import { runCli } from '../helpers/cli';
import { useLoopback } from '../helpers/loopback';
import { getBytes } from '../helpers/rows';

logger.setLogLevel('ERROR');

const sfn = mockClient(SFNClient);
const cfn = mockClient(CloudFormationClient);
const MACHINE = 'S3Compactor-sensors-compaction';
const SM = `arn:aws:states:us-east-1:000000000000:stateMachine:${MACHINE}`;
const arn = (name: string) => executionArn(MACHINE, name);
const NOW = new Date('2024-12-20T12:00:00.000Z');
const sleep = jest.fn(async () => undefined);
const deps = { clock: { now: () => NOW }, sleep, pollMs: 0 };
const inputs = <I extends object, O extends MetadataBearer>(C: new (input: I) => AwsCommand<I, O>): I[] => sfn.commandCalls(C).map((c) => c.args[0].input);

/** The stack as deployed: the output keys of the synthesized template, with the local values the CLI needs. */
function stackOutputs(): Output[] {
  const known: Record<string, string> = {
    SensorsStateMachineArn: SM,
    SensorsGoldBucketName: LOCAL_BUCKETS.gold,
    SensorsGlueTableName: 'sensors',
    SensorsPartitionKeys: 'dt,hour',
  };
  const keys = Object.keys(synthesizeApp().template.Outputs);
  expect(keys).toEqual(expect.arrayContaining(Object.keys(known)));
  return keys.map((k) => ({ OutputKey: k, OutputValue: known[k] ?? `value of ${k}` }));
}

const described = (name: string, o: Partial<DescribeExecutionCommandOutput>): DescribeExecutionCommandOutput => ({
  executionArn: arn(name),
  stateMachineArn: SM,
  name,
  status: 'SUCCEEDED',
  startDate: new Date('2024-12-20T11:00:00.000Z'),
  $metadata: {},
  ...o,
});

beforeEach(() => {
  sfn.reset();
  cfn.reset();
  sleep.mockClear();
  cfn.on(DescribeStacksCommand, { StackName: 'S3Compactor' }).resolves({ Stacks: [{ StackName: 'S3Compactor', CreationTime: NOW, StackStatus: 'UPDATE_COMPLETE', Outputs: stackOutputs() }] });
});

describe('start', () => {
  it('finds the state machine in the stack outputs and starts it with the input checked by the plan step\'s parser', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: arn('nightly-backfill'), startDate: NOW });
    const r = await runCli(['start', '--partitions', 'dt=2024-12-19,dt=2024-12-20/hour=01', '--dry-run', '--target-mb', '256', '--if-running', 'skip', '--name', 'nightly-backfill'], deps);
    const input = '{"table":"sensors","partitions":["dt=2024-12-19","dt=2024-12-20/hour=01"],"dryRun":true,"targetFileMb":256,"ifRunning":"skip"}';
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input)).toEqual([{ StackName: 'S3Compactor' }]);
    expect(inputs(StartExecutionCommand)).toEqual([{ stateMachineArn: SM, name: 'nightly-backfill', input }]);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'started nightly-backfill (stack S3Compactor, table sensors)',
        `  ${arn('nightly-backfill')}`,
        `  input ${input}`,
        'follow it: npm run compact -- status; its report once it ends: npm run compact -- report nightly-backfill',
        '',
      ].join('\n'),
    });
  });

  it('names an execution after the time, picks the table of a stack with several, and takes the input as the console does', async () => {
    const orders = ['StateMachineArn', 'GoldBucketName', 'GlueTableName', 'PartitionKeys'].map((n) => ({
      OutputKey: stackOutputKey('orders', n),
      OutputValue: { StateMachineArn: `${SM.replace('sensors', 'orders')}`, GoldBucketName: 'gold', GlueTableName: 'orders', PartitionKeys: 'region,day' }[n],
    }));
    cfn.on(DescribeStacksCommand, { StackName: 'Lake' }).resolves({ Stacks: [{ StackName: 'Lake', CreationTime: NOW, StackStatus: 'CREATE_COMPLETE', Outputs: [...stackOutputs(), ...orders] }] });
    sfn.on(StartExecutionCommand).callsFake((i) => ({ executionArn: `${i.stateMachineArn.replace(':stateMachine:', ':execution:')}:${i.name}`, startDate: NOW }));

    const several = await runCli(['start', '--stack', 'Lake'], deps);
    expect(several).toEqual({ code: 2, stdout: '', stderr: 'error: stack Lake has the tables sensors, orders: pass --table\nsee: npm run compact -- help start\n' });
    const r = await runCli(['start', '--stack', 'Lake', '--table', 'orders', '--input', '{"table": "orders", "partitions": ["region=eu"]}'], deps);
    expect(r.code).toBe(0);
    const [call] = inputs(StartExecutionCommand);
    expect(call).toEqual({ stateMachineArn: SM.replace('sensors', 'orders'), name: expect.stringMatching(/^cli-20241220T120000Z-[0-9a-f]{4}$/), input: '{"table":"orders","partitions":["region=eu"]}' });
  });

  it.each([
    [['--partitions', 'day=1'], 'flag --partitions: "day=1" does not start with a partition key of dt, hour (k=v)'],
    [['--target-mb', 'big'], 'flag --target-mb must be an integer from 64 to 1024, got "big"'],
    [['--if-running', 'wait'], 'flag --if-running must be "fail" or "skip" (what to do when another run holds the table), got "wait"'],
    [['--input', '{"table": "orders"}'], 'flag --input: run input field "table" must be "sensors" (this pipeline\'s table), got "orders"'],
    [['--input', '{"table": "sensors", "dryrun": true}'], 'flag --input: run input has unknown field(s) dryrun; allowed: table, partitions, dryRun, targetFileMb, ifRunning'],
    [['--input', '{table'], 'flag --input is not JSON (Expected property name or \'}\' in JSON at position 1)'],
    [['--input', '{"table": "sensors"}', '--dry-run'], 'pass --input or --dry-run, not both'],
    [['--name', 'my run'], 'flag --name: "my run" is not an execution name (1-80 letters, digits, - or _)'],
  ])('%j refuses to start: %s', async (flags, message) => {
    const r = await runCli(['start', ...flags], deps);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `error: ${message}\nsee: npm run compact -- help start\n` });
    expect(inputs(StartExecutionCommand)).toEqual([]);
  });

  it('says what to do when the name is taken, the stack is missing, or it is not a compactor stack', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    expect((await runCli(['start', '--name', 'nightly'], deps)).stderr).toBe(
      'error: an execution named nightly already exists with another input (names are unique per state machine for 90 days): pass another --name\nsee: npm run compact -- help start\n',
    );
    cfn.on(DescribeStacksCommand, { StackName: 'Gone' }).rejects(new CloudFormationServiceException({ name: 'ValidationError', $fault: 'client', $metadata: {}, message: 'Stack with id Gone does not exist' }));
    expect(await runCli(['start', '--stack', 'Gone', '--region', 'eu-west-1'], deps)).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: stack Gone was not found in eu-west-1 (Stack with id Gone does not exist); pass --stack NAME and --region, or --state-machine-arn\nsee: npm run compact -- help start\n',
    });
    cfn.on(DescribeStacksCommand, { StackName: 'Web' }).resolves({ Stacks: [{ StackName: 'Web', CreationTime: NOW, StackStatus: 'CREATE_COMPLETE', Outputs: [{ OutputKey: 'SiteUrl', OutputValue: 'https://x' }] }] });
    expect((await runCli(['start', '--stack', 'Web'], deps)).stderr).toBe(
      'error: stack Web has no output ending in StateMachineArn: is it a compactor stack? (or pass --state-machine-arn)\nsee: npm run compact -- help start\n',
    );
    expect(inputs(StartExecutionCommand)).toEqual([{ stateMachineArn: SM, name: 'nightly', input: '{"table":"sensors"}' }]);
  });

  it('takes the state machine from --state-machine-arn without asking CloudFormation, and waits for the end with --wait', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: arn('w'), startDate: NOW });
    sfn.on(DescribeExecutionCommand).resolvesOnce(described('w', { status: 'RUNNING' })).resolves(described('w', { status: 'FAILED', stopDate: new Date('2024-12-20T11:03:12.000Z'), error: 'VerificationError', cause: 'bin b1: 3 rows missing' }));
    const r = await runCli(['start', '--state-machine-arn', SM, '--table', 'sensors', '--gold-bucket', 'nowhere', '--name', 'w', '--wait', '--endpoint', 'http://127.0.0.1:9'], { ...deps, store: () => ({ getJson: async () => undefined }) as never });
    expect(cfn.commandCalls(DescribeStacksCommand)).toEqual([]);
    expect(inputs(StartExecutionCommand)).toEqual([{ stateMachineArn: SM, name: 'w', input: '{"table":"sensors"}' }]);
    expect(sfn.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input)).toEqual([{ executionArn: arn('w') }, { executionArn: arn('w') }]);
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(-3)).toEqual(['w: FAILED after 3 m 12 s; no report (expired after the reports\' retention, or never written)', '  VerificationError: bin b1: 3 rows missing', '']);
    expect(await runCli(['start', '--state-machine-arn', SM], deps)).toEqual({ code: 2, stdout: '', stderr: 'error: start with --state-machine-arn needs --table\nsee: npm run compact -- help start\n' });
  });
});

describe('redrive and rerun', () => {
  /** The gold bucket as redrive reads it: the table's lease, if any. */
  const goldWith = (lease?: object) => {
    const getJson = jest.fn(async (bucket: string, key: string) => (bucket === 'gold' && key === '_compactor/sensors/lease.json' ? lease : undefined));
    return { store: () => ({ getJson }) as never, getJson };
  };

  it('redrives an aborted or timed-out execution by name once the table is free, and says what to do with one that cannot be redriven', async () => {
    sfn.on(DescribeExecutionCommand).resolves(described('cli-20241219T140000Z-3f9a', { status: 'ABORTED', input: '{"table":"sensors"}' }));
    sfn.on(RedriveExecutionCommand).resolvesOnce({ redriveDate: new Date('2024-12-20T12:00:01.000Z') }).rejects(new ExecutionNotRedrivable({ message: 'Execution redrivable period exceeded.', $metadata: {} }));
    const gold = goldWith(undefined);
    const r = await runCli(['redrive', 'cli-20241219T140000Z-3f9a'], { ...deps, store: gold.store });
    expect(sfn.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input)).toEqual([{ executionArn: arn('cli-20241219T140000Z-3f9a') }]);
    expect(gold.getJson.mock.calls).toEqual([['gold', '_compactor/sensors/lease.json']]);
    expect(inputs(RedriveExecutionCommand)).toEqual([{ executionArn: arn('cli-20241219T140000Z-3f9a') }]);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'redriven cli-20241219T140000Z-3f9a at 2024-12-20T12:00:01.000Z: it goes on from the step it stopped in; the bins it finished are not run again\n' +
        'follow it: npm run compact -- status; its report once it ends: npm run compact -- report cli-20241219T140000Z-3f9a\n',
    });
    expect(await runCli(['redrive', arn('old'), '--force'], deps)).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: old cannot be redriven (Execution redrivable period exceeded.): a FAILED, TIMED_OUT or ABORTED execution can be, within 14 days of its end; to run its input again: npm run compact -- rerun old\nsee: npm run compact -- help redrive\n',
    });
  });

  it('refuses to redrive a FAILED execution (it would fail again in its own Fail state) and one whose table another run holds, unless told --force', async () => {
    sfn.on(DescribeExecutionCommand, { executionArn: arn('failed') }).resolves(described('failed', { status: 'FAILED', error: 'VerificationError', input: '{"table":"sensors"}' }));
    sfn.on(DescribeExecutionCommand, { executionArn: arn('stopped') }).resolves(described('stopped', { status: 'TIMED_OUT', input: '{"table":"sensors"}' }));
    sfn.on(DescribeExecutionCommand, { executionArn: arn('other') }).resolvesOnce(described('other', { status: 'RUNNING' })).resolves(described('other', { status: 'SUCCEEDED' }));
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: NOW });
    const held = goldWith({ table: 'sensors', holder: arn('other'), acquiredAt: '2024-12-20T11:30:00.000Z', expiresAt: '2024-12-21T11:30:00.000Z' });

    expect(await runCli(['redrive', 'failed'], { ...deps, store: held.store })).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: failed FAILED (VerificationError): the workflow caught the error, wrote the run report and ended in its own Fail state, so a redrive would continue from that state and fail again; rerun it instead: npm run compact -- rerun failed (or redrive anyway with --force)\nsee: npm run compact -- help redrive\n',
    });
    expect(await runCli(['redrive', 'stopped'], { ...deps, store: held.store })).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: table sensors is held by ${arn('other')} (since 2024-12-20T11:30:00.000Z): a redriven stopped would go on past its plan step without the run lease, beside that run; redrive once it ended, rerun, or pass --force\nsee: npm run compact -- help redrive\n`,
    });
    expect(inputs(RedriveExecutionCommand)).toEqual([]);
    // The holder has ended since: the lease is free for the redriven execution.
    expect((await runCli(['redrive', 'stopped'], { ...deps, store: held.store })).code).toBe(0);
    expect((await runCli(['redrive', 'failed', '--force'], { ...deps, store: held.store })).code).toBe(0);
    expect(inputs(RedriveExecutionCommand)).toEqual([{ executionArn: arn('stopped') }, { executionArn: arn('failed') }]);
    expect(sfn.commandCalls(DescribeExecutionCommand).map((c) => nameOf(c.args[0].input.executionArn!))).toEqual(['failed', 'stopped', 'other', 'stopped', 'other']);
  });

  it('waits for a redriven execution to end again, not for the end it had before', async () => {
    const redrivenAt = new Date('2024-12-20T12:00:01.000Z');
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: redrivenAt });
    const old = described('f', { status: 'TIMED_OUT', stopDate: new Date('2024-12-20T11:10:00.000Z'), input: '{"table":"sensors"}' });
    sfn.on(DescribeExecutionCommand)
      .resolvesOnce(old)
      .resolvesOnce(old)
      .resolvesOnce(described('f', { status: 'RUNNING', redriveDate: redrivenAt, redriveCount: 1 }))
      .resolves(described('f', { status: 'SUCCEEDED', redriveDate: redrivenAt, redriveCount: 1, stopDate: new Date('2024-12-20T12:01:00.000Z'), output: '{}' }));
    const r = await runCli(['redrive', 'f', '--wait', '--gold-bucket', 'gold', '--table', 'sensors'], { ...deps, store: goldWith(undefined).store });
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(4);
    expect(sleep).toHaveBeenCalledTimes(2);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(-2)).toEqual(['f: SUCCEEDED after 1 h 01 m; no report (expired after the reports\' retention, or never written)', '']);
  });

  it('reruns an execution with its very input under a new name, and refuses an input the pipeline would refuse', async () => {
    const input = '{"table": "sensors", "partitions": ["dt=2024-12-19"], "ifRunning": "skip"}';
    sfn.on(DescribeExecutionCommand, { executionArn: arn('scheduled-1') }).resolves(described('scheduled-1', { status: 'FAILED', input }));
    sfn.on(DescribeExecutionCommand, { executionArn: arn('typo') }).resolves(described('typo', { status: 'FAILED', input: '{"table": "sensors", "dryrun": true}' }));
    sfn.on(StartExecutionCommand).callsFake((i) => ({ executionArn: arn(i.name), startDate: NOW }));
    const r = await runCli(['rerun', arn('scheduled-1')], deps);
    expect(cfn.commandCalls(DescribeStacksCommand)).toEqual([]);
    expect(inputs(StartExecutionCommand)).toEqual([{ stateMachineArn: SM, name: 'scheduled-1-rerun-20241220T120000Z', input }]);
    expect(r.stdout.split('\n')[0]).toBe('rerun of scheduled-1 started as scheduled-1-rerun-20241220T120000Z');
    // A rerun of a rerun keeps the first name.
    sfn.on(DescribeExecutionCommand, { executionArn: arn('scheduled-1-rerun-20241220T110000Z') }).resolves(described('scheduled-1-rerun-20241220T110000Z', { input }));
    await runCli(['rerun', 'scheduled-1-rerun-20241220T110000Z', '--name', 'again'], deps);
    expect(inputs(StartExecutionCommand)[1]).toEqual({ stateMachineArn: SM, name: 'again', input });

    expect(await runCli(['rerun', 'typo'], deps)).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: the input of typo is not a run request the pipeline takes (run input has unknown field(s) dryrun; allowed: table, partitions, dryRun, targetFileMb, ifRunning); start a corrected one: npm run compact -- start --input \'...\'\nsee: npm run compact -- help rerun\n',
    });
    expect(inputs(StartExecutionCommand)).toHaveLength(2);
    expect(await runCli(['rerun', 'arn:aws:states:us-east-1:000000000000:stateMachine:x'], deps)).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: "arn:aws:states:us-east-1:000000000000:stateMachine:x" is not an execution ARN (arn:aws:states:<region>:<account>:execution:<state machine>:<name>)\nsee: npm run compact -- help rerun\n',
    });
  });
});

describe('on the offline runner', () => {
  const env = useLoopback('all', 'cli-deployed');
  let pipeline: LocalPipeline;
  const files = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 8, rowsPerFile: 3, seed: 41 });
  const local = () => ['--endpoint', env.s3.endpoint];
  const keys = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
  let started: { name: string; input: string };

  beforeAll(async () => {
    pipeline = localPipeline({ s3: env.s3, scratchDir: env.scratch });
    await putFiles(env.s3.client, 'landing', files);
  });

  it('runs the input start sent on the synthesized definition, and prints the report it wrote, as text and JSON', async () => {
    sfn.on(StartExecutionCommand).callsFake((i) => ({ executionArn: arn(i.name), startDate: NOW }));
    expect((await runCli(['start', ...local()], deps, keys)).code).toBe(0);
    const [call] = inputs(StartExecutionCommand);
    started = { name: call.name!, input: call.input! };
    const outcome = await pipeline.execute(JSON.parse(started.input), started.name);
    expect(outcome.status).toBe('SUCCEEDED');

    sfn.on(DescribeExecutionCommand).resolves(described(started.name, { input: started.input, output: JSON.stringify(outcome.output) }));
    const text = await runCli(['report', started.name, ...local()], deps, keys);
    const written = Buffer.from(await getBytes(env.s3.client, 'gold', reportTextKey('sensors', arn(started.name)))).toString('utf8');
    expect(text).toEqual({ code: 0, stderr: '', stdout: written });
    expect(written).toMatch(new RegExp(`^# sensors run ${started.name}: succeeded\n`));
    const json = await runCli(['report', started.name, '--json', ...local()], deps, keys);
    expect(JSON.parse(json.stdout)).toEqual(await env.store.getJson('gold', reportKey('sensors', arn(started.name))));
    expect(sfn.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input)).toEqual([{ executionArn: arn(started.name) }, { executionArn: arn(started.name) }]);
  });

  it('lists recent executions with their state, duration and report headline, failed and stopped ones too', async () => {
    // A console typo: the plan step refuses it, the report step still writes the run's report.
    const typo = await pipeline.execute({ table: 'sensors', dryrun: true }, 'console-typo');
    expect(typo.status).toBe('FAILED');
    const reportOf = async (name: string) => (await env.store.getJson<RunReport>('gold', reportKey('sensors', arn(name))))!;
    const report = await reportOf(started.name);
    const usd = (r: RunReport) => `$${r.cost.totalUsd < 0.01 ? r.cost.totalUsd.toFixed(6) : r.cost.totalUsd.toFixed(4)}`;
    const start = new Date('2024-12-20T11:00:00.000Z');
    const item = (name: string, status: string, seconds?: number, extra = {}) => ({
      executionArn: arn(name), stateMachineArn: SM, name, status, startDate: start, ...(seconds !== undefined ? { stopDate: new Date(start.getTime() + seconds * 1000) } : {}), ...extra,
    });
    sfn.on(ListExecutionsCommand).resolves({
      executions: [item('running', 'RUNNING'), item('console-typo', 'FAILED', 2.5, { redriveCount: 1 }), item(started.name, 'SUCCEEDED', 192), item('stopped', 'ABORTED', 4000)] as never,
    });
    const r = await runCli(['status', ...local()], deps, keys);
    expect(inputs(ListExecutionsCommand)).toEqual([{ stateMachineArn: SM, maxResults: 10 }]);
    const rows = [
      ['execution', 'state', 'started', 'took', 'report'],
      ['running', 'RUNNING', '2024-12-20T11:00:00Z', '1 h 00 m', 'running: its report is written when it ends'],
      ['console-typo', 'FAILED (redriven 1x)', '2024-12-20T11:00:00Z', '2.5 s', `failed: InvalidInputError: run input has unknown field(s) dryrun; allowed: table, partitions, dryRun, targetFileMb, ifRunning; ${usd(await reportOf('console-typo'))}`],
      [started.name, 'SUCCEEDED', '2024-12-20T11:00:00Z', '3 m 12 s', `succeeded; 1/1 partition committed, 8 objects -> 1 file, ${usd(report)}`],
      ['stopped', 'ABORTED', '2024-12-20T11:00:00Z', '1 h 06 m', 'stopped before its report step (no report; its alarm is the record)'],
    ];
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    const lines = rows.map((row) => row.map((v, c) => (c < 4 ? v.padEnd(widths[c]) : v)).join('  '));
    expect(r).toEqual({ code: 0, stderr: '', stdout: `stack S3Compactor, table sensors: the 4 latest execution(s)\n${lines.join('\n')}\n` });
    // The headline's counts, against the generated files and the committed version.
    expect(files).toHaveLength(8);
    expect(report.partitions.map((p) => [p.status, p.after?.objects])).toEqual([['committed', 1]]);

    sfn.on(DescribeExecutionCommand).resolves(described('console-typo', { status: 'FAILED', input: '{"table": "sensors", "dryrun": true}' }));
    const failed = await runCli(['report', 'console-typo', ...local()], deps, keys);
    expect(failed.stdout).toMatch(/^# sensors run console-typo: failed: InvalidInputError: run input has unknown field\(s\) dryrun; /);
    sfn.on(DescribeExecutionCommand).resolves(described('stopped', { status: 'ABORTED' }));
    expect(await runCli(['report', 'stopped', ...local()], deps, keys)).toEqual({
      code: 1,
      stderr: '',
      stdout: `stopped: ABORTED; stopped before its report step (no report; its alarm is the record) (looked at s3://gold/${reportKey('sensors', arn('stopped'))})\n`,
    });
  });

  it('filters by state and limit, and lists without headlines when it does not know where the reports are', async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    expect((await runCli(['status', '--state', 'failed', '--limit', '50', ...local()], deps, keys)).stdout).toBe('stack S3Compactor, table sensors: no FAILED executions\n');
    expect(inputs(ListExecutionsCommand)).toEqual([{ stateMachineArn: SM, maxResults: 50, statusFilter: 'FAILED' }]);
    expect((await runCli(['status', '--limit', '0'], deps, keys)).stderr).toBe('error: flag --limit must be an integer from 1 to 1000, got "0"\nsee: npm run compact -- help status\n');
    expect((await runCli(['status', '--state', 'DONE'], deps, keys)).stderr).toBe(
      'error: flag --state must be one of ABORTED, FAILED, PENDING_REDRIVE, RUNNING, SUCCEEDED, TIMED_OUT, got "DONE"\nsee: npm run compact -- help status\n',
    );
    sfn.on(ListExecutionsCommand).resolves({ executions: [{ executionArn: arn('x'), stateMachineArn: SM, name: 'x', status: 'SUCCEEDED', startDate: NOW, stopDate: NOW }] });
    const bare = await runCli(['status', '--state-machine-arn', SM], deps, keys);
    expect(bare.stdout).toBe(['--state-machine-arn: the 1 latest execution(s)', 'execution  state      started               took', 'x          SUCCEEDED  2024-12-20T12:00:00Z  0.0 s', '(pass --gold-bucket and --table for each run report\'s headline)', ''].join('\n'));
    expect(stackOutputKey('sensors', StackOutputs.PartitionKeys)).toBe('SensorsPartitionKeys');
  });
});
