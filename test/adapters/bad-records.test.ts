import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rejections, dropRecords, removeBadRecords } from '../../lambdas/adapters/bad-records';
import { StagedInputs } from '../../lambdas/adapters/fetch-inputs';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'bad-records-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Two objects concatenated in one chunk, as the fetch stages them. */
async function staged(): Promise<StagedInputs> {
  const chunk = join(dir, 'chunk-0-0.jsonl');
  const a = ['{"n":1}', '{"n":', '', '{"n":3}'];
  const b = ['[1]', '{"n":5}', `{"pad":"${'x'.repeat(300)}"`];
  await writeFile(chunk, [...a, ...b].join('\n') + '\n');
  return new StagedInputs({
    jsonChunks: [chunk],
    files: [],
    jsonRows: new Map([['a.json', 3], ['b.json', 3]]),
    jsonSegments: [
      { chunk, key: 'a.json', firstLine: 0, lines: a.length },
      { chunk, key: 'b.json', firstLine: a.length, lines: b.length },
    ],
    bytes: 0,
  });
}

describe('JSON chunk passes', () => {
  it('blank bad records in place, so object line numbers stay true, and keep bytes within the budget', async () => {
    const s = await staged();
    const out = new Rejections(100);
    expect(await removeBadRecords(s, out)).toBe(3);
    expect(out.records.map((r) => [r.key, r.line, r.reason.slice(0, 20), r.bytes?.toString()])).toEqual([
      ['a.json', 2, 'malformed JSON (Unex', '{"n":'],
      ['b.json', 1, 'not a JSON object (a', '[1]'],
      // Over the budget: no bytes kept, its object is copied to quarantine instead.
      ['b.json', 3, 'malformed JSON (Expe', undefined],
    ]);
    expect((await readFile(s.jsonChunks[0], 'utf8')).split('\n')).toEqual(['{"n":1}', '', '', '{"n":3}', '', '{"n":5}', '', '']);
    expect(Object.fromEntries(s.jsonRows)).toEqual({ 'a.json': 2, 'b.json': 1 });
  });

  it('still counts emptied lines as records, so a later pass names each record by its index', async () => {
    const s = await staged();
    await dropRecords(s, new Map([['a.json', [[0, 1]] as const]]));
    const out = new Rejections();
    await removeBadRecords(s, out);
    expect(out.records.map((r) => [r.key, r.line, r.record])).toEqual([
      ['a.json', 2, 1],
      ['b.json', 1, 0],
      ['b.json', 3, 2],
    ]);
  });

  it('drops records by their index within the object', async () => {
    const s = await staged();
    await dropRecords(s, new Map([['a.json', [[1, 3]] as const]]));
    expect((await readFile(s.jsonChunks[0], 'utf8')).split('\n').slice(0, 4)).toEqual(['{"n":1}', '', '', '']);
    expect(s.jsonRows.get('a.json')).toBe(1);
  });
});
