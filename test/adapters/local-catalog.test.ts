import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCatalog } from '../../lambdas/adapters/local-catalog';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-catalog-test-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const columns = [{ name: 'device_id', type: 'string' }, { name: 'ts', type: 'timestamp' }];
const entry = (hour: number) => ({ values: ['2024-12-19', String(hour).padStart(2, '0')], location: `s3://gold/sensors/dt=2024-12-19/hour=${hour}/v=a/` });

describe('LocalCatalog', () => {
  it.each([
    ['truncated', '{"columns": [{"name": "device_id", "type": "str', /is not valid JSON \(.+\); fix it, or remove it to have it rebuilt from the committed versions$/],
    ['not an object', '[]', /is not a catalog: it holds no JSON object; fix it/],
    ['columns missing', '{"partitions": []}', /is not a catalog: "columns" is not a list; fix it/],
    ['a partition without location', '{"columns": [], "partitions": [{"values": ["a"]}]}', /is not a catalog: partitions\[0\] has no string "values" list and "location"; fix it/],
  ])('fails naming the file and what is wrong when it is %s', async (_name, text, message) => {
    const file = join(dir, 'catalog.json');
    await writeFile(file, text);
    const catalog = new LocalCatalog(file);
    for (const call of [() => catalog.getColumns(), () => catalog.getPartitions([['2024-12-19', '14']]), () => catalog.putPartitions([entry(14)])]) {
      const err = await call().then(() => undefined, (e: Error) => e);
      expect(err).toMatchObject({ name: 'CatalogError' });
      expect(err!.message.startsWith(`local catalog ${file} `)).toBe(true);
      expect(err!.message).toMatch(message);
    }
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('starts a missing file with the table\'s columns, and reads what another process wrote', async () => {
    const file = join(dir, 'sub', 'catalog.json');
    const a = new LocalCatalog(file, columns);
    const b = new LocalCatalog(file, columns);
    expect(await a.getColumns()).toEqual(columns);
    await a.putPartitions([entry(14)]);
    await b.putPartitions([entry(15)]);
    expect(await a.all()).toEqual([entry(14), entry(15)]);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ columns, partitions: [entry(14), entry(15)] });
  });

  it('lets two writers write at the same moment without failing or leaving a broken or temp file behind', async () => {
    const file = join(dir, 'catalog.json');
    const writers = [new LocalCatalog(file, columns), new LocalCatalog(file, columns)];
    const results = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => writers[i % 2].putPartitions([entry(i)])));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    expect(stored.columns).toEqual(columns);
    expect(stored.partitions.length).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(['catalog.json']);
  });
});
