/**
 * Which deployed workflow a verb acts on: the state machine of a table, found from its stack's
 * outputs (`<Table>StateMachineArn`, ...; lambdas/core/outputs.ts) or given by --state-machine-arn.
 */
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { StackOutputs, stackOutputKey } from '../../lambdas/core/outputs';
import type { FlagValues } from './command-line';
import { UsageError } from './flags';

/** The stack `cdk deploy` creates from bin/app.ts. */
export const DEFAULT_STACK = 'S3Compactor';

export interface Target {
  readonly stateMachineArn: string;
  /** Where it was found, for messages. */
  readonly from: string;
  readonly table?: string;
  readonly goldBucket?: string;
  readonly partitionKeys?: readonly string[];
}

const ARN_SUFFIX = StackOutputs.StateMachineArn;

/** A state machine's region, from its ARN. */
export const regionOfArn = (arn: string) => arn.split(':')[3] || undefined;

/** `arn:aws:states:r:a:stateMachine:sm` -> `arn:aws:states:r:a:execution:sm:<name>`; an execution ARN is kept as it is. */
export function executionArnOf(ref: string, stateMachineArn: () => Promise<string>): Promise<string> {
  if (ref.startsWith('arn:')) {
    if (!/^arn:[^:]+:states:[^:]*:[^:]*:execution:[^:]+:[^:]+$/.test(ref)) throw new UsageError(`"${ref}" is not an execution ARN (arn:aws:states:<region>:<account>:execution:<state machine>:<name>)`);
    return Promise.resolve(ref);
  }
  return stateMachineArn().then((sm) => `${sm.replace(':stateMachine:', ':execution:')}:${ref}`);
}

/** The stack's outputs, or why they cannot be read. */
async function stackOutputs(cfn: CloudFormationClient, stack: string): Promise<Output[]> {
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
    return out.Stacks?.[0]?.Outputs ?? [];
  } catch (e) {
    const err = e as Error;
    if (err.name === 'ValidationError' && /does not exist/.test(err.message)) {
      const region = await cfn.config.region().catch(() => 'the default region');
      throw new UsageError(`stack ${stack} was not found in ${region} (${err.message}); pass --stack NAME and --region, or --state-machine-arn`);
    }
    throw e;
  }
}

/** The table's state machine and where its objects are, from the flags and, unless the ARN is given, the stack. */
export async function resolveTarget(cfn: () => CloudFormationClient, flags: FlagValues): Promise<Target> {
  const table = flags.table as string | undefined;
  const goldBucket = flags['gold-bucket'] as string | undefined;
  const keys = typeof flags['partition-keys'] === 'string' ? flags['partition-keys'].split(',') : undefined;
  const arn = flags['state-machine-arn'] as string | undefined;
  if (arn) {
    if (flags.stack) throw new UsageError('pass --stack or --state-machine-arn, not both');
    if (!/^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:[^:]+$/.test(arn)) throw new UsageError(`flag --state-machine-arn: "${arn}" is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)`);
    return { stateMachineArn: arn, from: '--state-machine-arn', ...(table ? { table } : {}), ...(goldBucket ? { goldBucket } : {}), ...(keys ? { partitionKeys: keys } : {}) };
  }
  const stack = (flags.stack as string | undefined) ?? DEFAULT_STACK;
  const outputs = new Map((await stackOutputs(cfn(), stack)).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  const owners = [...outputs.keys()].filter((k) => k.endsWith(ARN_SUFFIX)).map((k) => k.slice(0, -ARN_SUFFIX.length));
  const tableOf = (owner: string) => outputs.get(`${owner}${StackOutputs.GlueTableName}`) ?? owner;
  const tables = owners.map(tableOf);
  let owner: string | undefined;
  if (table) {
    owner = owners.find((o) => o === stackOutputKey(table, '') || tableOf(o) === table);
    if (!owner) throw new UsageError(`stack ${stack} has no table ${table} (${tables.length ? `its tables: ${tables.join(', ')}` : `no output ends in ${ARN_SUFFIX}: is it a compactor stack?`})`);
  } else if (owners.length === 1) {
    owner = owners[0];
  } else {
    throw new UsageError(owners.length ? `stack ${stack} has the tables ${tables.join(', ')}: pass --table` : `stack ${stack} has no output ending in ${ARN_SUFFIX}: is it a compactor stack? (or pass --state-machine-arn)`);
  }
  const out = (name: string) => outputs.get(`${owner}${name}`);
  const keysOut = out(StackOutputs.PartitionKeys);
  return {
    stateMachineArn: out(ARN_SUFFIX)!,
    from: `stack ${stack}`,
    table: tableOf(owner),
    ...(goldBucket ?? out(StackOutputs.GoldBucketName) ? { goldBucket: goldBucket ?? out(StackOutputs.GoldBucketName) } : {}),
    ...(keys ?? keysOut ? { partitionKeys: keys ?? keysOut!.split(',') } : {}),
  };
}
