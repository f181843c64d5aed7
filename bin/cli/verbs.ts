/** The CLI's commands: what each does, which flags it takes, and its help text. */
import { FLAGS, TABLE_FLAGS, flagOf, type FlagName } from './flags';

export const PROGRAM = 'npm run compact --';

export interface Verb {
  readonly name: string;
  /** Runs the deployed workflow, or works in this process. */
  readonly deployed: boolean;
  /** Positional arguments as usage shows them. */
  readonly args?: string;
  /** How many positionals it takes: [min, max]. */
  readonly positionals?: readonly [number, number];
  readonly summary: string;
  readonly details?: readonly string[];
  readonly flags: readonly FlagName[];
  readonly required?: readonly FlagName[];
  /** What a flag means to this verb, where it differs from its general help. */
  readonly flagHelp?: Partial<Record<FlagName, string>>;
  readonly examples?: readonly string[];
}

const LOCAL = Object.keys(TABLE_FLAGS) as FlagName[];
const LOCAL_REQUIRED: readonly FlagName[] = ['landing-bucket', 'gold-bucket', 'table'];
/** How a deployed verb finds the workflow, and where the reports are read. */
const TARGET: readonly FlagName[] = ['stack', 'state-machine-arn', 'table', 'region', 'gold-bucket', 'endpoint'];
const REQUEST: readonly FlagName[] = ['partitions', 'dry-run', 'target-mb', 'if-running', 'input'];
const TARGET_HELP: Verb['flagHelp'] = {
  table: 'the table in the stack (needed when the stack has several; with --state-machine-arn, the table it compacts)',
  'gold-bucket': 'where the run reports are; default the stack\'s <Table>GoldBucketName output',
  endpoint: 'S3-compatible endpoint the run reports are read from (the loopback server offline); default AWS',
  region: 'region of the stack; default AWS_REGION or your profile\'s (a state machine\'s own comes from its ARN)',
};
const REQUEST_HELP: Verb['flagHelp'] = {
  ...TARGET_HELP,
  'dry-run': 'plan only: the run writes its plan and its report with the estimate, and compacts nothing',
  'target-mb': 'this run\'s target Parquet file size, 64-1024; default the table\'s',
  'partition-keys': 'the keys --partitions are checked against; default the stack\'s <Table>PartitionKeys output',
};

const EXECUTION_ARG = 'The execution is its name (as status lists it) or its ARN.';

export const VERBS: readonly Verb[] = [
  {
    name: 'start',
    deployed: true,
    summary: 'start an execution of the deployed workflow; prints its name and ARN',
    details: [
      'The input is a RunRequest, checked here by the parser the plan step uses: a typo fails before anything starts.',
      'Another run holding the table makes this one fail with AlreadyRunningError (--if-running skip: end as skipped).',
    ],
    flags: [...TARGET, ...REQUEST, 'partition-keys', 'name', 'wait'],
    flagHelp: REQUEST_HELP,
    examples: ['start', 'start --partitions dt=2024-12-19 --dry-run', 'start --stack S3Compactor --table sensors --input \'{"table": "sensors", "targetFileMb": 256}\' --wait'],
  },
  {
    name: 'status',
    deployed: true,
    summary: 'recent executions of the deployed workflow: state, start, duration and the headline of each run report',
    details: ['The partition states of a table are `partitions` (this was `status --landing-bucket ...` before).'],
    flags: [...TARGET, 'limit', 'state'],
    flagHelp: TARGET_HELP,
    examples: ['status', 'status --state FAILED --limit 50'],
  },
  {
    name: 'report',
    deployed: true,
    args: '<execution>',
    positionals: [1, 1],
    summary: 'the run report of one execution (report.md, or report.json with --json)',
    details: [EXECUTION_ARG],
    flags: [...TARGET, 'json'],
    flagHelp: TARGET_HELP,
    examples: ['report cli-20241219T140000Z-3f9a', 'report arn:aws:states:eu-west-1:123456789012:execution:S3Compactor-sensors-compaction:cli-20241219T140000Z-3f9a --json'],
  },
  {
    name: 'redrive',
    deployed: true,
    args: '<execution>',
    positionals: [1, 1],
    summary: 'redrive an aborted or timed-out execution from the step it stopped in (Step Functions RedriveExecution)',
    details: [
      EXECUTION_ARG,
      'Finished bins are not run again; the run report is written when it ends. Possible within 14 days of the end of the execution.',
      'A FAILED execution caught its error, wrote its report and ended in the workflow\'s own Fail state: a redrive would continue there and fail again, so it is refused; rerun it.',
    ],
    flags: [...TARGET, 'force', 'wait'],
    flagHelp: TARGET_HELP,
    examples: ['redrive cli-20241219T140000Z-3f9a --wait'],
  },
  {
    name: 'rerun',
    deployed: true,
    args: '<execution>',
    positionals: [1, 1],
    summary: 'start a new execution with the same input as an earlier one',
    details: [EXECUTION_ARG, 'Safe for any input: finished work is recognised by its ids and verified manifests, never redone into duplicates.'],
    flags: [...TARGET, 'partition-keys', 'name', 'wait'],
    flagHelp: { ...TARGET_HELP, 'partition-keys': 'the keys the input\'s partitions are checked against; default the stack\'s <Table>PartitionKeys output' },
    examples: ['rerun cli-20241219T140000Z-3f9a'],
  },
  {
    name: 'run',
    deployed: false,
    summary: 'plan, compact and commit in this process against any S3 endpoint, under the table\'s run lease',
    details: ['One run per table at a time: a workflow execution or another CLI run holding the table makes this one fail, changing nothing.'],
    flags: [...LOCAL, 'partitions', 'dry-run'],
    required: LOCAL_REQUIRED,
    flagHelp: { 'dry-run': 'plan only, as the plan command: print the bins and the estimate, change nothing' },
    examples: ['run --endpoint http://127.0.0.1:4568 --landing-bucket landing --gold-bucket gold --table sensors'],
  },
  { name: 'plan', deployed: false, summary: 'plan only (a dry run): prints the bins and the estimate', flags: [...LOCAL, 'partitions'], required: LOCAL_REQUIRED },
  {
    name: 'retire',
    deployed: false,
    summary: 'retire what is past its grace (the lifecycle step), under the run lease',
    flags: [...LOCAL, 'dry-run'],
    required: LOCAL_REQUIRED,
    flagHelp: { 'dry-run': 'list what would be retired, delete nothing' },
  },
  {
    name: 'rollback',
    deployed: false,
    summary: 'point one partition back at an earlier committed version, under the run lease',
    flags: [...LOCAL, 'partition', 'version'],
    required: [...LOCAL_REQUIRED, 'partition', 'version'],
    examples: ['rollback --landing-bucket landing --gold-bucket gold --table sensors --partition dt=2024-12-19/hour=14 --version 3f9a...'],
  },
  {
    name: 'partitions',
    deployed: false,
    summary: 'the committed state of each partition: version, rows, files, catalog verification, earlier versions',
    flags: LOCAL,
    required: LOCAL_REQUIRED,
  },
  {
    name: 'catalog',
    deployed: false,
    args: 'status|adopt|overrule|repair',
    positionals: [0, 1],
    summary: 'the catalog entries against the committed versions; adopt or overrule an entry set by hand; repair every partition',
    details: [
      'status (the default) lists each partition\'s standing; adopt keeps the catalog\'s entry, overrule points it back at the committed version (both under the run lease).',
      'repair (under the run lease) reads every partition state, repairs each catalog entry that is missing or behind, and indexes every partition with work pending that the index lacks; a run checks only its own and the indexed partitions.',
    ],
    flags: [...LOCAL, 'partition'],
    required: LOCAL_REQUIRED,
    examples: ['catalog overrule --landing-bucket landing --gold-bucket gold --table sensors --partition dt=2024-12-19/hour=14'],
  },
];

export const verbNamed = (name: string) => VERBS.find((v) => v.name === name);

export const verbList = () => VERBS.map((v) => v.name).join(', ');

const flagUsage = (name: string) => {
  const f = FLAGS[name];
  return f.boolean ? flagOf(name) : `${flagOf(name)} ${f.value}`;
};

function flagLines(v: Verb): string[] {
  const left = v.flags.map(flagUsage);
  const width = Math.min(34, Math.max(...left.map((l) => l.length)));
  return v.flags.map((n, i) => `  ${left[i].padEnd(width)}  ${v.flagHelp?.[n] ?? FLAGS[n].help}`);
}

export function verbHelp(v: Verb): string {
  const required = (v.required ?? []).map(flagUsage).join(' ');
  const out = [`usage: ${PROGRAM} ${v.name}${v.args ? ` ${v.args}` : ''}${required ? ` ${required}` : ''} [flags]`, '', `${v.summary[0].toUpperCase()}${v.summary.slice(1)}.`];
  if (v.details) out.push(...v.details);
  if (v.deployed) {
    out.push(
      '',
      'The workflow is found from the stack outputs (<Table>StateMachineArn, ...: CloudFormation DescribeStacks), or given',
      'by --state-machine-arn. Credentials and region come from the usual AWS environment (AWS_PROFILE, AWS_REGION, ...).',
    );
  } else {
    out.push('', 'Credentials come from the usual AWS environment (AWS_ACCESS_KEY_ID, profiles, ...).');
  }
  out.push('', 'flags:', ...flagLines(v));
  if (v.examples) out.push('', 'examples:', ...v.examples.map((e) => `  ${PROGRAM} ${e}`));
  return `${out.join('\n')}\n`;
}

export function generalHelp(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  const line = (v: Verb) => `  ${v.name.padEnd(width)}  ${v.summary}`;
  return [
    `usage: ${PROGRAM} <command> [flags]`,
    '',
    'The deployed workflow (Step Functions; found from the stack outputs, or --state-machine-arn):',
    ...VERBS.filter((v) => v.deployed).map(line),
    '',
    'In this process, against any S3 endpoint (AWS, MinIO, Ceph, the loopback server), under the table\'s run lease:',
    ...VERBS.filter((v) => !v.deployed).map(line),
    '',
    `${PROGRAM} help <command> (or <command> --help) lists its flags; every table setting of the Lambdas is a flag.`,
    '',
  ].join('\n');
}
