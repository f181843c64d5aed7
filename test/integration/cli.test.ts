/**
 * The CLI as an operator runs it: real processes against the loopback S3 server, a catalog file.
 * One run per table at a time (the workflow's lease), private scratch, a catalog checked before
 * anything is committed, drift kept and reported until adopted or overruled.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { leaseKey, pendingKey, pendingPrefix, stateKey } from '../../lambdas/core/keys';
import { cliHolder, type Lease } from '../../lambdas/core/lease';
import type { PartitionState } from '../../lambdas/core/state';
import { main } from '../../bin/cli';
import { putFiles, sensorFiles } from '../../local/generate';
import { useLoopback } from '../helpers/loopback';
import { runCli } from '../helpers/cli';
import { allKeys, compareRows, queryParquetObjects, rowsFromJsonLines, rowsFromParquetObjects } from '../helpers/rows';

const env = useLoopback('each', 'cli-test');
const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const P14 = 'dt=2024-12-19/hour=14';
const files = sensorFiles({ prefix: 'sensors/', hours: ['2024-12-19/14'], filesPerHour: 8, rowsPerFile: 3, seed: 31 });
const catalogFile = () => join(env.scratch, 'catalog.json');

const flags = () => [
  '--endpoint', env.s3.endpoint, '--landing-bucket', 'landing', '--gold-bucket', 'gold', '--table', 'sensors', '--partition-keys', 'dt,hour',
  '--catalog-file', catalogFile(), '--scratch-dir', join(env.scratch, 'work'),
];

/** Runs `npm run compact -- <args>` as its own process; resolves with its exit code and output. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'bin', 'cli.ts'), ...args, ...flags()], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
  }).then(
    (o) => ({ code: 0, ...o }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
  return { ...out, stderr: out.stderr.split('\n').filter((l) => l && !/NodeVersionSupportWarning|node >=22|node v20|trace-warnings|^To continue|^and security|^More information|^versions published/.test(l)).join('\n') };
}

/** The same command in this process (quicker): its output lines, or its error. */
async function inProcess(...args: string[]): Promise<{ stdout: string; error?: Error }> {
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const keys = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY };
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  try {
    const error = await main([...args, ...flags()]).then(() => undefined, (e: Error) => e);
    return { stdout: lines.map((l) => `${l}\n`).join(''), ...(error ? { error } : {}) };
  } finally {
    log.mockRestore();
    for (const [k, v] of Object.entries(keys)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

const state = () => env.store.getJson<PartitionState>('gold', stateKey('sensors', P14));
const lease = () => env.store.getJson<Lease>('gold', leaseKey('sensors'));
const catalogOnDisk = async () => JSON.parse(await readFile(catalogFile(), 'utf8'));

/** Every committed file is the object its state names (same size and ETag), and every row is there once. */
async function expectCommittedIntact() {
  const st = (await state())!;
  for (const f of st.files) expect(await env.store.head('gold', f.key)).toEqual({ bytes: f.bytes, etag: f.etag });
  const keys = (await allKeys(env.s3.client, 'gold', st.location.replace('s3://gold/', ''))).map((o) => o.key);
  expect(keys).toEqual(st.files.map((f) => f.key));
  const rows = await rowsFromParquetObjects(env.s3.client, 'gold', keys, env.scratch);
  expect(compareRows(files.flatMap((f) => rowsFromJsonLines(f.body)), rows)).toMatchObject({ lost: 0, extra: 0 });
}

describe('npm run compact', () => {
  it('takes the table lease: refuses to run while another run holds it, and takes over at once from a dead process of this host', async () => {
    await putFiles(env.s3.client, 'landing', files);
    const now = Date.now();
    const live = cliHolder({ host: hostname(), pid: process.pid, startedAt: now });
    await env.store.putJson('gold', leaseKey('sensors'), { table: 'sensors', holder: live, acquiredAt: new Date(now).toISOString(), expiresAt: new Date(now + 120_000).toISOString() });
    const refused = await inProcess('run');
    expect(refused.stdout).toBe('');
    expect(refused.error).toMatchObject({
      name: 'AlreadyRunningError',
      message: `table sensors is being compacted by ${live} (since ${new Date(now).toISOString()}); this run changed nothing. Wait for it to finish, or stop it, then rerun.`,
    });
    expect(await state()).toBeUndefined();

    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const gone = cliHolder({ host: hostname(), pid: dead, startedAt: now });
    await env.store.putJson('gold', leaseKey('sensors'), { table: 'sensors', holder: gone, acquiredAt: new Date(now).toISOString(), expiresAt: new Date(now + 120_000).toISOString() });
    const took = await inProcess('run');
    expect(took.error).toBeUndefined();
    expect(took.stdout).toContain(`bin 1/1 ${P14}: 24 rows`);
    const released = (await lease())!;
    expect(released.holder).toMatch(new RegExp(`^cli:${hostname().replace(/:/g, '_')}:${process.pid}:\\d+$`));
    expect(Date.parse(released.expiresAt)).toBeLessThanOrEqual(Date.now());
    await expectCommittedIntact();
  });

  it('runs two CLI processes started together on one scratch directory: one commits, the other is refused or finds nothing to do, and nothing committed is rewritten', async () => {
    await putFiles(env.s3.client, 'landing', files);
    const both = await Promise.all([cli('run'), cli('run')]);
    for (const r of both) {
      if (r.code === 0) expect(r.stdout).toMatch(/^plan /);
      else expect(r.stderr).toMatch(/^AlreadyRunningError: table sensors (is being compacted by cli:\S+ \(since [^)]+\)|was taken by cli:\S+ at the same moment); this run changed nothing/);
    }
    expect(both.filter((r) => r.stdout.includes('"committed":1'))).toHaveLength(1);
    await expectCommittedIntact();
    // The last holder was one of the two processes, and gave the lease up when it ended.
    const last = (await lease())!;
    expect(last.holder).toMatch(new RegExp(`^cli:${hostname().replace(/:/g, '_')}:\\d+:\\d+$`));
    expect(last.holder).not.toMatch(new RegExp(`:${process.pid}:`));
    expect(Date.parse(last.expiresAt)).toBeLessThanOrEqual(Date.now());
  });

  it('fails before committing anything, naming the file, when the local catalog is truncated', async () => {
    await putFiles(env.s3.client, 'landing', files);
    await writeFile(catalogFile(), '{"columns": [{"name": "device_id", "ty');
    const out = await inProcess('run');
    expect(out.stdout).toBe('');
    expect(out.error).toMatchObject({ name: 'CatalogError' });
    expect(out.error!.message).toMatch(new RegExp(`^local catalog ${catalogFile()} is not valid JSON \\(.+\\); fix it, or remove it to have it rebuilt from the committed versions$`));
    expect(await state()).toBeUndefined();
    expect(await allKeys(env.s3.client, 'gold', 'sensors/')).toEqual([]);
  });

  it('rebuilds a deleted catalog with its columns, and keeps a partition repointed by hand, reporting it, until told to overrule it', async () => {
    await putFiles(env.s3.client, 'landing', files);
    expect((await inProcess('run')).error).toBeUndefined();
    const built = await catalogOnDisk();
    expect(built.columns.map((c: { name: string }) => c.name)).toEqual(['device_id', 'ts', 'temperature', 'humidity', 'battery', 'seq']);
    await rm(catalogFile());
    const rebuilt = await inProcess('run');
    expect(rebuilt.stdout).toContain('"catalogUpdated":1');
    expect(await catalogOnDisk()).toEqual(built);

    const st = (await state())!;
    const restored = 's3://gold/restored/dt=2024-12-19/hour=14/';
    await writeFile(catalogFile(), JSON.stringify({ ...built, partitions: [{ values: ['2024-12-19', '14'], location: restored }] }));
    const kept = await inProcess('run');
    expect(kept.stdout).toContain(
      `  catalog drift (kept): ${P14}: the catalog points at ${restored}, not at a version this pipeline committed (current ${st.version} at ${st.location}); kept as it is: npm run compact -- catalog adopt|overrule --partition ${P14}`,
    );
    expect((await catalogOnDisk()).partitions).toEqual([{ values: ['2024-12-19', '14'], location: restored }]);
    expect((await inProcess('catalog', 'status')).stdout).toBe(`${P14}: drift, catalog ${restored}, committed ${st.location}\n`);
    const overruled = await inProcess('catalog', 'overrule', '--partition', P14);
    expect(overruled.stdout).toBe(`${P14} -> ${st.location} (v=${st.version}), verified\n`);
    expect((await catalogOnDisk()).partitions).toEqual([{ values: ['2024-12-19', '14'], location: st.location }]);
  });

  it('takes the table settings the Lambdas have as flags: declared columns and compression reach the written Parquet', async () => {
    await putFiles(env.s3.client, 'landing', files);
    const out = await inProcess('run', '--columns', 'temperature:decimal(5,2),battery:int', '--compression', 'zstd');
    expect(out.error).toBeUndefined();
    const st = (await state())!;
    const keys = st.files.map((f) => f.key);
    const types = await queryParquetObjects(env.s3.client, 'gold', keys, env.scratch, 'SELECT column_name, column_type FROM (DESCRIBE SELECT temperature, battery FROM $OUT)');
    expect(types).toEqual([{ column_name: 'temperature', column_type: 'DECIMAL(5,2)' }, { column_name: 'battery', column_type: 'INTEGER' }]);
    const codecs = await queryParquetObjects(env.s3.client, 'gold', keys, env.scratch, `SELECT DISTINCT compression FROM parquet_metadata('${join(env.scratch, 'out-0.parquet')}')`);
    expect(codecs).toEqual([{ compression: 'ZSTD' }]);
    // The exact decimal sum, from the landing text in hundredths.
    const cents = files.flatMap((f) => f.body.trim().split('\n')).reduce((n, l) => n + Math.round((JSON.parse(l) as { temperature: number }).temperature * 100), 0);
    const [sum] = await queryParquetObjects(env.s3.client, 'gold', keys, env.scratch, 'SELECT CAST(SUM(temperature) AS VARCHAR) AS s FROM $OUT');
    expect(sum).toEqual({ s: (cents / 100).toFixed(2) });
  });

  it('lists the partition states with partitions; the old status form still does, saying what to type instead', async () => {
    await putFiles(env.s3.client, 'landing', files);
    expect((await inProcess('run')).error).toBeUndefined();
    const st = (await state())!;
    const keys = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
    const line = `${P14}: v=${st.version} 24 rows in 1 file(s), committed ${st.committedAt}, in the catalog since ${st.verifiedAt}; earlier: none\n`;
    expect(await runCli(['partitions', ...flags()], {}, keys)).toEqual({ code: 0, stdout: line, stderr: '' });
    expect(await runCli(['status', ...flags()], {}, keys)).toEqual({
      code: 0,
      stdout: line,
      stderr: 'note: "status" lists the deployed workflow\'s executions now; the partition states are "npm run compact -- partitions" with the same flags\n',
    });
  });

  it('retires from the pending index (retire --dry-run says what would go), and catalog repair indexes a partition the index lacks', async () => {
    await putFiles(env.s3.client, 'landing', files);
    expect((await inProcess('run')).error).toBeUndefined();
    const indexed = async () => (await allKeys(env.s3.client, 'gold', pendingPrefix('sensors'))).map((o) => o.key);
    expect(await indexed()).toEqual([pendingKey('sensors', P14)]);
    const wouldRetire = files.map((f) => `  would retire s3://landing/${f.key}\n`).sort().join('');
    const dry = await inProcess('retire', '--dry-run', '--grace-days', '0');
    expect(dry.stdout).toBe(`{"retired":0,"waiting":0,"unverified":[],"changedAfterCommit":[]}\n${wouldRetire}`);

    // A table committed before the index existed (or an entry removed by hand): a run does not see
    // the partition; the full scan puts it back.
    await env.store.deleteKeys('gold', [{ key: pendingKey('sensors', P14) }]);
    expect((await inProcess('retire', '--dry-run', '--grace-days', '0')).stdout).toBe('{"retired":0,"waiting":0,"unverified":[],"changedAfterCommit":[]}\n');
    expect((await inProcess('catalog', 'repair')).stdout).toBe(`1 partition(s): 0 catalog entries repaired, 0 drifted, 1 indexed\n  indexed ${P14}\n`);
    expect((await inProcess('retire', '--dry-run', '--grace-days', '0')).stdout).toBe(`{"retired":0,"waiting":0,"unverified":[],"changedAfterCommit":[]}\n${wouldRetire}`);
    expect((await inProcess('retire', '--grace-days', '0')).stdout).toBe(`{"retired":${files.length},"waiting":0,"unverified":[],"changedAfterCommit":[]}\n`);
    expect(await allKeys(env.s3.client, 'landing', 'sensors/')).toEqual([]);
    expect(await indexed()).toEqual([]);
    const st = (await state())!;
    expect((await inProcess('partitions')).stdout).toBe(`${P14}: v=${st.version} 24 rows in 1 file(s), committed ${st.committedAt}, in the catalog since ${st.verifiedAt}; earlier: none\n`);
  });
});
