/**
 * compactBin's own rules, with a fake Parquet engine over the in-memory store: what it hands the
 * engine, what it checks in what the engine returns, and what it writes (or refuses to write).
 * The fake "Parquet" file is the kept lines as text, so every figure is checked by hand here.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { localScratch } from '../../lambdas/adapters/local-scratch';
import type { BinItem, BinManifest } from '../../lambdas/core/contracts';
import type { CompactedBin, EngineOptions, RejectedRecord } from '../../lambdas/core/engine-contracts';
import type { Intervals } from '../../lambdas/core/intervals';
import type { ObjectStore, ParquetEngine, Scratch, Workspace } from '../../lambdas/core/ports';
import { DEFAULT_ENGINE_SETTINGS, type TableSettings } from '../../lambdas/core/settings';
import { compactBin, type CompactDeps } from '../../lambdas/use-cases/compact-bin';
import { planRun } from '../../lambdas/use-cases/plan-run';
import { useMemoryStore } from '../helpers/memory';
import { testSettings } from '../helpers/pipeline';

const env = useMemoryStore('compact-bin-fake');
const HOUR = 3_600_000;

/** Checksum the fake engine gives a set of lines: independent of order, as the real one is. */
const checksumOf = (lines: readonly string[]) => String(lines.reduce((n, l) => n + [...l].reduce((h, ch) => h + ch.charCodeAt(0), 0), 0));

type Lie = 'none' | 'output-checksum' | 'staged-rows';

class FakeEngine implements ParquetEngine {
  stagedBins = 0;
  readonly compacts: Array<{ drop: ReadonlyMap<string, Intervals>; o: EngineOptions }> = [];
  constructor(private readonly lie: Lie = 'none') {}

  async stage(store: ObjectStore, buckets: { landing: string }, files: ReadonlyArray<{ key: string; etag: string }>) {
    this.stagedBins++;
    const bodies = new Map<string, string[]>();
    for (const f of files) {
      const chunks: Buffer[] = [];
      for await (const c of await store.getStream(buckets.landing, f.key, f.etag)) chunks.push(c as Buffer);
      bodies.set(f.key, Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.trim() !== ''));
    }
    const records = new Map([...bodies].map(([k, lines]) => [k, lines.length]));
    return {
      records,
      compact: async (drop: ReadonlyMap<string, Intervals>, outPath: string, o: EngineOptions): Promise<CompactedBin> => {
        this.compacts.push({ drop, o });
        const kept: string[] = [];
        const rejected: RejectedRecord[] = [];
        const inputRows = new Map<string, number>();
        for (const [key, lines] of bodies) {
          let n = 0;
          lines.forEach((line, record) => {
            if ((drop.get(key) ?? []).some(([a, b]) => record >= a && record < b)) return;
            if (!line.startsWith('{')) return void rejected.push({ key, line: record + 1, record, reason: 'not a JSON object', bytes: Buffer.from(line) });
            kept.push(line);
            n++;
          });
          inputRows.set(key, n);
        }
        await writeFile(outPath, kept.join('\n'));
        const sum = checksumOf(kept);
        return {
          fileRows: new Map(),
          inputRows,
          stagedRows: this.lie === 'staged-rows' ? kept.length + 1 : kept.length,
          outputRows: kept.length,
          inputChecksum: sum,
          outputChecksum: this.lie === 'output-checksum' ? `${sum}0` : sum,
          outputBytes: Buffer.byteLength(kept.join('\n')),
          schema: [{ name: 'line', type: 'VARCHAR' }],
          rejected,
          written: kept.length > 0,
          partitionFields: [],
          setAside: [],
          rewritten: new Set(),
        };
      },
    };
  }

  countRecords(): Promise<number> {
    return Promise.reject(new Error('no later bins in these tests'));
  }
  storedLines(): Promise<Map<number, Buffer>> {
    return Promise.reject(new Error('nothing was rewritten in these tests'));
  }
  async checksum(path: string) {
    const lines = (await readFile(path, 'utf8')).split('\n');
    return { rows: lines.length, checksum: checksumOf(lines) };
  }
  facts(): never {
    throw new Error('not a merge');
  }
  merge(): never {
    throw new Error('not a merge');
  }
}

/** Local scratch that remembers every workspace it opened and whether each was closed. */
function trackedScratch(dir: string) {
  const opened: Array<{ ws: Workspace; closed: boolean }> = [];
  const real = localScratch(dir);
  const scratch: Scratch = {
    async open(label) {
      const ws = await real.open(label);
      const entry = { ws, closed: false };
      opened.push(entry);
      return { ...ws, close: async () => ((entry.closed = true), await ws.close()) };
    },
  };
  return { scratch, opened };
}

const settings: TableSettings = { ...testSettings, minInputFiles: 2 };
const dir = 'sensors/dt=2024-12-20/hour=09/';

async function planOne(objects: Record<string, string>, s: TableSettings = settings): Promise<BinItem> {
  for (const [name, body] of Object.entries(objects)) env.store.putObject('landing', `${s.landingPrefix}${name}`, body);
  env.clock.advance(2 * HOUR);
  const { output } = await planRun({ store: env.store, settings: s, clock: env.clock }, { table: s.table });
  const items = (await env.store.getJson<BinItem[]>(s.goldBucket, output.itemsKey))!;
  expect(items).toHaveLength(1);
  return items[0];
}

function deps(parquet: ParquetEngine, s: TableSettings = settings, maxRejectedPercent = 1) {
  const { scratch, opened } = trackedScratch(env.scratch);
  const d: CompactDeps = { store: env.store, settings: s, engine: { ...DEFAULT_ENGINE_SETTINGS, scratchDir: env.scratch, maxRejectedPercent }, parquet, scratch, clock: env.clock };
  return { d, opened };
}

const goldKeys = () => env.store.keys('gold', '').filter((k) => !k.includes('/_compactor/plans/') && !k.includes('/bins/'));

describe('compactBin with a fake engine', () => {
  const a = ['{"n":1}', '{"n":2}', '{"n":3}'].join('\n');
  const b = ['{"n":4}', '{"n":5}'].join('\n');

  it('uploads the engine\'s file create-only and writes a manifest of exactly what each input gave, with the stored ETag', async () => {
    const item = await planOne({ 'dt=2024-12-20/hour=09/a.json': a, 'dt=2024-12-20/hour=09/b.json': b });
    const engine = new FakeEngine();
    const { d, opened } = deps(engine);
    const out = await compactBin(d, item);

    expect(out).toMatchObject({ inputFiles: 2, inputRows: 5, outputRows: 5, rejectedRecords: 0 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    expect(manifest.inputs.map((i) => [i.key, i.rows])).toEqual([
      [`${dir}a.json`, 3],
      [`${dir}b.json`, 2],
    ]);
    const stored = env.store.object('gold', out.outputKey)!;
    expect(stored.body.toString()).toBe('{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n{"n":5}');
    expect(manifest.output).toMatchObject({ key: out.outputKey, etag: stored.etag, bytes: stored.body.length, rows: 5, checksum: checksumOf(stored.body.toString().split('\n')) });
    // The partition's values and the table's engine settings reach the engine; nothing is dropped.
    expect(engine.compacts).toHaveLength(1);
    expect(engine.compacts[0].drop.size).toBe(0);
    expect(engine.compacts[0].o).toMatchObject({ partitionValues: { dt: '2024-12-20', hour: '09' }, compression: DEFAULT_ENGINE_SETTINGS.compression });
    expect(opened.map((o) => o.closed)).toEqual([true]);

    // A retry reuses the verified manifest: nothing is staged or written again.
    const again = await compactBin(deps(engine).d, item);
    expect(again).toEqual(out);
    expect(engine.stagedBins).toBe(1);
  });

  it.each([
    ['output-checksum' as const, /written file has 5 rows \(checksum \d+0\), inputs 5 rows \(checksum \d+\)/],
    ['staged-rows' as const, /the engine read 6 rows but the inputs hold 5/],
  ])('writes nothing when the engine\'s own figures disagree (%s)', async (lie, message) => {
    const item = await planOne({ 'dt=2024-12-20/hour=09/a.json': a, 'dt=2024-12-20/hour=09/b.json': b });
    const before = goldKeys();
    const { d, opened } = deps(new FakeEngine(lie));
    await expect(compactBin(d, item)).rejects.toMatchObject({ name: 'VerificationError', message: expect.stringMatching(message) as unknown });
    expect(goldKeys()).toEqual(before);
    expect(opened.map((o) => o.closed)).toEqual([true]);
  });

  it('quarantines a few bad records, but fails a bin past the limit without writing anything', async () => {
    const bad = Array.from({ length: 11 }, (_, i) => `oops ${i}`);
    const item = await planOne({ 'dt=2024-12-20/hour=09/a.json': a, 'dt=2024-12-20/hour=09/bad.json': bad.join('\n') });
    const before = goldKeys();
    await expect(compactBin(deps(new FakeEngine()).d, item)).rejects.toThrow(
      `bin ${item.binId} of dt=2024-12-20/hour=09: 11 of 14 records cannot be read, over the 1% limit; nothing was written. First: ${dir}bad.json line 1: not a JSON object`,
    );
    expect(goldKeys()).toEqual(before);

    // At 100 %, the same bin is written and its bad records are kept in quarantine, byte for byte.
    const out = await compactBin(deps(new FakeEngine(), settings, 100).d, item);
    expect(out).toMatchObject({ inputRows: 3, outputRows: 3, rejectedRecords: 11 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    expect(env.store.object('gold', manifest.quarantine!.recordsKey!)!.body.toString()).toBe(`${bad.join('\n')}\n`);
    expect(manifest.inputs.find((i) => i.key.endsWith('bad.json'))).toMatchObject({ rows: 0, rejected: 11 });
  });

  it('hands the engine the Kafka redeliveries to leave out and records each offset once', async () => {
    const kafka: TableSettings = { ...settings, landingPrefix: 'topics/orders/', goldPrefix: 'orders/', partitionKeys: ['partition'], table: 'orders' };
    const recs = (from: number, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ offset: from + i })).join('\n');
    const item = await planOne({ 'partition=0/orders+0+0000000000.json': recs(0, 5), 'partition=0/orders+0+0000000003.json': recs(3, 5) }, kafka);
    const engine = new FakeEngine();
    const out = await compactBin(deps(engine, kafka).d, item);

    // The later-starting object keeps offsets 3 and 4: the earlier one leaves out its records 3 and 4.
    expect([...engine.compacts[0].drop]).toEqual([['topics/orders/partition=0/orders+0+0000000000.json', [[3, 5]]]]);
    expect(out).toMatchObject({ inputRows: 8, outputRows: 8 });
    const manifest = (await env.store.getJson<BinManifest>('gold', out.manifestKey))!;
    expect(manifest.kafka).toEqual([{ topic: 'orders', partition: 0, offsets: [[0, 8]], duplicates: 2 }]);
    expect(manifest.inputs[0]).toMatchObject({ rows: 3, duplicates: 2, dropped: [[3, 5]] });
    const offsets = env.store.object('gold', out.outputKey)!.body.toString().split('\n').map((l) => (JSON.parse(l) as { offset: number }).offset);
    expect(offsets.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
