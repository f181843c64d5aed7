/**
 * The CLI's command line: help, and every flag problem named as the flag (never as the Lambdas'
 * environment variable), without a stack trace, exit code 2. Nothing here reaches S3 or AWS.
 */
import { FLAGS, TABLE_FLAGS, flagForEnv } from '../../bin/cli/flags';
import { VERBS } from '../../bin/cli/verbs';
import { DEFAULT_ENGINE_SETTINGS, Env, parseTableSettings } from '../../lambdas/core/settings';
import { runCli } from '../helpers/cli';

const TABLE = ['--landing-bucket', 'landing', '--gold-bucket', 'gold', '--table', 'sensors'];
const ENV_NAMES = Object.values(Env);

/** A usage error: exit 2, one error line naming the flag, the help hint, nothing on stdout, no stack trace, no env var. */
function expectUsageError(r: { code: number; stdout: string; stderr: string }, message: string, verb?: string) {
  expect(r).toEqual({ code: 2, stdout: '', stderr: `error: ${message}\nsee: npm run compact -- help${verb ? ` ${verb}` : ''}\n` });
  for (const name of ENV_NAMES) expect(r.stderr).not.toContain(name);
}

describe('help', () => {
  it('prints the commands for help, --help and no arguments, and exits 0', async () => {
    const help = await runCli(['help']);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    for (const v of VERBS) expect(help.stdout).toContain(`\n  ${v.name.padEnd(10)}  ${v.summary}\n`);
    expect(await runCli(['--help'])).toEqual(help);
    expect(await runCli([])).toEqual(help);
  });

  it('prints one command\'s usage and every flag it takes for help <command> and <command> --help', async () => {
    for (const v of VERBS) {
      const help = await runCli(['help', v.name]);
      expect(help.code).toBe(0);
      expect(help.stdout.split('\n')[0]).toBe(`usage: npm run compact -- ${v.name}${v.args ? ` ${v.args}` : ''}${(v.required ?? []).map((f) => ` --${f} ${FLAGS[f].value}`).join('')} [flags]`);
      const listed = help.stdout.split('\n').filter((l) => /^ {2}--/.test(l)).map((l) => l.trim().split(' ')[0]);
      expect(listed).toEqual(v.flags.map((f) => `--${f}`));
      expect(await runCli([v.name, ...TABLE, '--help'])).toEqual(help);
    }
    expectUsageError(await runCli(['help', 'compact']), 'no command "compact"; the commands are start, status, report, redrive, rerun, run, plan, retire, rollback, partitions, catalog');
  });

  it('has a flag for every setting the Lambdas take, and every local command takes all of them', () => {
    for (const env of ENV_NAMES) expect({ env, flag: flagForEnv(env) }).toEqual({ env, flag: expect.stringMatching(/^--[a-z-]+$/) });
    for (const v of VERBS.filter((x) => !x.deployed)) expect(v.flags).toEqual(expect.arrayContaining(Object.keys(TABLE_FLAGS)));
  });

  it('states the defaults the settings parser applies', () => {
    const t = parseTableSettings({ TABLE_NAME: 'sensors', LANDING_BUCKET: 'l', GOLD_BUCKET: 'g' });
    const e = DEFAULT_ENGINE_SETTINGS;
    const defaults: Record<string, string | number> = {
      'target-mb': t.targetFileMb,
      'min-input-files': t.minInputFiles,
      'max-bins-per-run': t.maxBinsPerRun,
      'max-bin-objects': t.maxBinObjects,
      'quiet-period-minutes': t.quietPeriodMinutes,
      'grace-days': t.graceDays,
      'partition-keys': t.partitionKeys.join(','),
      layout: t.layout,
      compression: e.compression,
      'fetch-concurrency': e.fetchConcurrency,
      'engine-memory-mb': e.memoryLimitMb,
      'engine-threads': e.threads,
      'max-rejected-percent': e.maxRejectedPercent,
      'max-decompressed-mb': e.maxDecompressedMb,
    };
    for (const [flag, value] of Object.entries(defaults)) expect({ flag, help: FLAGS[flag].help }).toEqual({ flag, help: expect.stringMatching(new RegExp(`; default ${value}$`)) });
  });
});

describe('flag problems', () => {
  it.each([
    [['run', ...TABLE, '--tabel', 'x'], 'unknown flag --tabel'],
    [['run', ...TABLE, '-t', 'x'], 'unknown flag -t'],
    [['run', ...TABLE, '--partition', 'dt=1'], 'flag --partition is not a flag of run'],
    [['retire', ...TABLE, '--partitions', 'dt=1'], 'flag --partitions is not a flag of retire'],
    [['run', ...TABLE, '--target-mb'], 'flag --target-mb needs a value (--target-mb MB; a value starting with - as --target-mb=VALUE)'],
    [['run', '--table', '--gold-bucket', 'g'], 'flag --table needs a value (--table T; a value starting with - as --table=VALUE)'],
    [['run', ...TABLE, '--dry-run=yes'], 'flag --dry-run takes no value'],
    [['run', ...TABLE, '--sort-by='], 'flag --sort-by needs a value, got an empty one'],
    [['run', '--landing-bucket', 'landing'], 'run needs --gold-bucket and --table'],
    [['rollback', ...TABLE, '--partition', 'dt=1/hour=2'], 'rollback needs --version'],
    [['run', ...TABLE, 'now'], 'run takes no arguments, got "now"'],
    [['partitions', ...TABLE, 'dt=1'], 'partitions takes no arguments, got "dt=1" (a flag is --name value)'],
    [['catalog', 'fix', ...TABLE], 'catalog takes status, adopt, overrule or repair, got "fix"'],
    [['catalog', 'adopt', ...TABLE], 'catalog adopt needs --partition'],
    [['report'], 'report needs <execution>'],
    [['status', 'all'], 'status takes no arguments, got "all"'],
  ])('%j: %s', async (argv, message) => {
    expectUsageError(await runCli(argv), message, argv[0]);
  });

  it.each([
    ['--target-mb', '2000', 'flag --target-mb must be an integer from 64 to 1024, got "2000"'],
    ['--min-input-files', '1', 'flag --min-input-files must be an integer from 2 to 1000000, got "1"'],
    ['--max-bins-per-run', 'lots', 'flag --max-bins-per-run must be an integer from 1 to 100000, got "lots"'],
    ['--max-bin-objects', '0', 'flag --max-bin-objects must be an integer from 1 to 293000, got "0"'],
    ['--quiet-period-minutes', '-5', 'flag --quiet-period-minutes must be an integer from 0 to 100000, got "-5"'],
    ['--grace-days', '2.5', 'flag --grace-days must be an integer from 0 to 3650, got "2.5"'],
    ['--fetch-concurrency', '0', 'flag --fetch-concurrency must be an integer from 1 to 256, got "0"'],
    ['--engine-memory-mb', '64', 'flag --engine-memory-mb must be an integer from 128 to 65536, got "64"'],
    ['--engine-threads', '100', 'flag --engine-threads must be an integer from 1 to 64, got "100"'],
    ['--max-rejected-percent', '101', 'flag --max-rejected-percent must be an integer from 0 to 100, got "101"'],
    ['--max-decompressed-mb', '0', 'flag --max-decompressed-mb must be an integer from 1 to 1000000, got "0"'],
    ['--compression', 'lz4', 'flag --compression must be snappy or zstd, got "lz4"'],
    ['--layout', 'flat', 'flag --layout must be one of hive, firehose, got "flat"'],
    ['--partition-keys', 'dt,ho ur', '--partition-keys: "ho ur" is not a plain column name'],
    ['--sort-by', 'ts desc', '--sort-by: "ts desc" is not a plain column name'],
    ['--coerce-to-string', 'a.b', '--coerce-to-string: "a.b" is not a plain column name'],
    ['--columns', 'amount decimal(10,2)', 'flag --columns: "amount decimal(10,2)" is not NAME:TYPE (e.g. amount:decimal(10,2))'],
    ['--columns', '[{"name": "a"}]', 'flag --columns: the JSON list must hold {"name": ..., "type": ...} objects'],
    ['--cost-model', '{prices', 'flag --cost-model is not JSON: Expected property name or \'}\' in JSON at position 1'],
    ['--cost-model', '{"memoryMb": {"plan": 64}}', 'flag --cost-model: memoryMb.plan must be an integer >= 128, got 64'],
    ['--partitions', 'day=1', 'flag --partitions: "day=1" does not start with a partition key of dt, hour (k=v)'],
  ])('%s %s is refused by the settings parser, named as the flag', async (flag, value, message) => {
    // A value starting with - goes after =, as the needs-a-value error says.
    expectUsageError(await runCli(['run', ...TABLE, ...(value.startsWith('-') ? [`${flag}=${value}`] : [flag, value])]), message, 'run');
  });

  it('names --partition-keys for a firehose layout without time keys', async () => {
    expectUsageError(
      await runCli(['plan', ...TABLE, '--layout', 'firehose', '--partition-keys', 'region']),
      'the firehose layout (YYYY/MM/DD/HH/) needs --partition-keys dt,hour or year,month,day,hour, got region',
      'plan',
    );
  });

  it('says where the command goes and which commands there are', async () => {
    expectUsageError(await runCli(['--table', 'sensors', 'run']), 'the command comes first: npm run compact -- <command> [flags]; the commands are start, status, report, redrive, rerun, run, plan, retire, rollback, partitions, catalog');
    expectUsageError(await runCli(['compact', ...TABLE]), 'no command "compact"; the commands are start, status, report, redrive, rerun, run, plan, retire, rollback, partitions, catalog');
  });

  it('says which credentials the local S3 server takes when a local endpoint is given without any', async () => {
    const none = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_EC2_METADATA_DISABLED: 'true', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials', AWS_CONFIG_FILE: '/nonexistent/config', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_WEB_IDENTITY_TOKEN_FILE: undefined };
    const endpoint = 'http://127.0.0.1:9';
    const r = await runCli(['partitions', '--endpoint', endpoint, ...TABLE], {}, none);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: no AWS credentials for --endpoint ${endpoint}; the local S3 server (local/s3-server.ts) takes AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER\n` });
  });
});
