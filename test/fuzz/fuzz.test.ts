/**
 * The differential fuzzer's fixed-seed session (see fuzz.ts; `npm run fuzz` runs longer ones). It
 * runs in a child process: hyparquet, its Parquet reader, is an ES module that jest cannot load.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

it('writes every good record exactly once and unchanged, and puts every bad one in quarantine', async () => {
  const root = join(__dirname, '..', '..');
  const { stdout } = await run(join(root, 'node_modules', '.bin', 'tsx'), [join(__dirname, 'fuzz.ts'), '--seed', '1', '--records', '5000', '--shapes', '24'], {
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
    maxBuffer: 16 * 1024 * 1024,
  }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`fuzz failed: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
  });
  const line = stdout.split('\n').find((l) => l.startsWith('fuzz: '));
  expect(line).toBeDefined();
  process.stdout.write(`${line}\n`);
  const m = /^fuzz: (\d+) records, (\d+) shapes, (\d+) bins: lost (\d+), altered (\d+), duplicated (\d+), bad (\d+) accounted (\d+)$/.exec(line!);
  expect(m).not.toBeNull();
  const [records, shapes, bins, lost, altered, duplicated, bad, accounted] = m!.slice(1).map(Number);
  expect({ lost, altered, duplicated }).toEqual({ lost: 0, altered: 0, duplicated: 0 });
  expect(accounted).toBe(bad);
  expect(bad).toBeGreaterThan(0);
  expect(records).toBeGreaterThanOrEqual(5000);
  expect(shapes).toBeGreaterThanOrEqual(20);
  expect(bins).toBeGreaterThan(1);
}, 300_000);
