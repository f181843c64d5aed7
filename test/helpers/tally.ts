import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FILE_VAR = 'COMPACTOR_TALLY_FILE';

/**
 * Counts the bad inputs a test file tries and the ones it saw handled. A case adds to `handled`
 * only after every assertion on it passed. Each file prints its line; the suite prints the total.
 */
export function useTally(what = 'bad inputs') {
  const tally = { tried: 0, handled: 0 };
  afterAll(() => {
    console.log(`${what} tried: ${tally.tried}; handled: ${tally.handled}`);
    const file = process.env[FILE_VAR];
    if (file) appendFileSync(file, `${JSON.stringify(tally)}\n`);
  });
  return tally;
}

/** Jest globalSetup: the file the test files add their counts to. */
export function startSuiteTally(): void {
  const file = join(tmpdir(), `compactor-tally-${process.pid}.jsonl`);
  rmSync(file, { force: true });
  process.env[FILE_VAR] = file;
}

/** Jest globalTeardown: the suite's total. */
export function printSuiteTally(): void {
  const file = process.env[FILE_VAR];
  if (!file) return;
  let lines: string[];
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return;
  }
  const sum = lines.map((l) => JSON.parse(l) as { tried: number; handled: number }).reduce((a, b) => ({ tried: a.tried + b.tried, handled: a.handled + b.handled }), { tried: 0, handled: 0 });
  rmSync(file, { force: true });
  console.log(`\nbad inputs tried: ${sum.tried}; handled: ${sum.handled}`);
}
