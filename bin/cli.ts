/**
 * The operator's CLI: `npm run compact -- <command> [flags]`; `npm run compact -- help` lists the
 * commands, `help <command>` their flags.
 *
 * - On the deployed workflow (Step Functions, found from the stack outputs or --state-machine-arn):
 *   start, status, report, redrive, rerun (bin/cli/deployed.ts).
 * - In this process against any S3 endpoint, under the table's run lease: run, plan, retire,
 *   rollback, partitions, catalog (bin/cli/local.ts).
 *
 * Exit codes: 0 done, 1 failed (the run, or AWS refused), 2 the command line must change (an
 * unknown, missing or invalid flag is named as the flag).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SFNClient } from '@aws-sdk/client-sfn';
import { logger } from '../lambdas/adapters/logger';
import { makeS3Client, S3ObjectStore } from '../lambdas/adapters/s3';
import { parseCommandLine } from './cli/command-line';
import { runDeployedVerb, type DeployedDeps } from './cli/deployed';
import { describeError } from './cli/errors';
import { runLocalVerb } from './cli/local';
import { verbNamed } from './cli/verbs';

/** Runs one command line; resolves with the exit code, rejects with what went wrong (see `cli`). */
export async function main(argv: readonly string[], deps: Partial<DeployedDeps> = {}): Promise<number> {
  const parsed = parseCommandLine(argv);
  if ('help' in parsed) {
    process.stdout.write(parsed.help);
    return 0;
  }
  if (parsed.notice) console.error(parsed.notice);
  logger.setLogLevel('WARN');
  if (!parsed.verb.deployed) return runLocalVerb(parsed);
  const f = parsed.flags as Readonly<Record<string, string | undefined>>;
  return runDeployedVerb(parsed, {
    sfn: (region) => new SFNClient({ ...(region ? { region } : {}) }),
    cfn: () => new CloudFormationClient({ ...(f.region ? { region: f.region } : {}) }),
    store: (region) => new S3ObjectStore(makeS3Client({ endpoint: f.endpoint, ...(region ? { region } : {}) })),
    clock: { now: () => new Date() },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    pollMs: 5000,
    ...deps,
  });
}

/** `main` as a process runs it: errors told in one line on stderr, and the exit code. */
export async function cli(argv: readonly string[], deps: Partial<DeployedDeps> = {}): Promise<number> {
  try {
    return await main(argv, deps);
  } catch (e) {
    const verb = verbNamed(argv[0] ?? '') ? argv[0] : undefined;
    const endpoint = argv.find((_, i) => argv[i - 1] === '--endpoint') ?? argv.find((a) => a.startsWith('--endpoint='))?.slice('--endpoint='.length);
    const { lines, code } = await describeError(e, { verb, endpoint });
    for (const l of lines) console.error(l);
    return code;
  }
}

if (require.main === module) {
  void cli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
