/**
 * Output ratios on the in-memory S3: swap records what the committed bins measured, the next plan
 * sizes its bins with it, and a garbled or hostile ratios file is ignored with a warning.
 */
import type { BinManifest, BinSpec } from '../../lambdas/core/contracts';
import { DEFAULT_OUTPUT_RATIOS } from '../../lambdas/core/formats';
import { outputRatiosKey } from '../../lambdas/core/keys';
import { planRun } from '../../lambdas/use-cases/plan-run';
import { sensorFiles } from '../../local/generate';
import { putAll, useMemoryStore } from '../helpers/memory';
import { testSettings, usePipeline } from '../helpers/pipeline';

const env = useMemoryStore('ratios-test');
const RATIOS = outputRatiosKey('sensors');
const AT = `s3://gold/${RATIOS}`;
const hour = (h: string, seed: number) => sensorFiles({ prefix: 'sensors/', hours: [`2024-12-19/${h}`], filesPerHour: 6, rowsPerFile: 40, seed });
const specOf = async (binKey: string) => (await env.store.getJson<BinSpec>('gold', binKey))!;
/** The planner's estimate of a bin at a given ratio: each file rounded up, as it packs them. */
const estimateAt = (spec: BinSpec, ratio: number) => spec.files.reduce((n, f) => n + Math.ceil(f.size * ratio), 0);

describe('output ratios', () => {
  it('sizes the second plan\'s bins with the ratio the first run measured', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock);
    putAll(env.store, 'landing', hour('10', 1));
    const first = await p.plan();
    const firstSpec = await specOf(first.items[0].binKey);
    expect(firstSpec.estimatedOutputBytes).toBe(estimateAt(firstSpec, DEFAULT_OUTPUT_RATIOS.jsonl));
    const manifest = (await env.store.getJson<BinManifest>('gold', (await p.compact(first.items[0])).manifestKey))!;
    expect(await env.store.getJson('gold', RATIOS)).toBeUndefined();
    const swap = await p.swap(first.output);
    expect(swap.committed).toBe(1);
    expect(swap.warnings).toBeUndefined();

    // One JSON Lines bin: the measured ratio is its Parquet bytes over its input bytes.
    const inputBytes = manifest.inputs.reduce((n, i) => n + i.size, 0);
    const measured = manifest.output.bytes / inputBytes;
    expect(measured).not.toBeCloseTo(DEFAULT_OUTPUT_RATIOS.jsonl, 2);
    const stored = (await env.store.getJson<Record<string, number>>('gold', RATIOS))!;
    expect(Object.keys(stored)).toEqual(['jsonl']);
    expect(stored.jsonl).toBeCloseTo(measured, 12);

    putAll(env.store, 'landing', hour('11', 2));
    const second = await planRun({ store: env.store, settings: testSettings, clock: env.clock }, { table: 'sensors' });
    expect(second.warnings).toEqual([]);
    const bins = second.plan.partitions.map((x) => [x.path, x.bins.length]);
    expect(bins).toEqual([['dt=2024-12-19/hour=11', 1]]);
    const spec = await specOf((await env.store.getJson<Array<{ binKey: string }>>('gold', second.output.itemsKey))![0].binKey);
    expect(spec.estimatedOutputBytes).toBe(estimateAt(spec, stored.jsonl));
    expect(spec.estimatedOutputBytes).not.toBe(estimateAt(spec, DEFAULT_OUTPUT_RATIOS.jsonl));
  });

  it('moves a measured ratio halfway toward the next run\'s measurement, and a rerun measures nothing again', async () => {
    const p = usePipeline(env.store, env.scratch, env.clock);
    putAll(env.store, 'landing', hour('10', 1));
    await p.run();
    const after1 = (await env.store.getJson<Record<string, number>>('gold', RATIOS))!.jsonl;
    const etag1 = env.store.object('gold', RATIOS)!.etag;
    putAll(env.store, 'landing', hour('12', 3));
    const run2 = await p.run();
    const manifest = (await env.store.getJson<BinManifest>('gold', (await p.compact(run2.items[0])).manifestKey))!;
    const observed = manifest.output.bytes / manifest.inputs.reduce((n, i) => n + i.size, 0);
    expect((await env.store.getJson<Record<string, number>>('gold', RATIOS))!.jsonl).toBeCloseTo(0.5 * after1 + 0.5 * observed, 12);

    // The same plan swapped again commits nothing, so it records nothing.
    const etag2 = env.store.object('gold', RATIOS)!.etag;
    expect(etag2).not.toBe(etag1);
    expect(await p.swap(run2.output)).toMatchObject({ committed: 0, unchanged: 1 });
    expect(env.store.object('gold', RATIOS)!.etag).toBe(etag2);
  });

  const notJson = (text: string) => {
    try {
      JSON.parse(text);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error(`${text} is JSON`);
  };
  it.each([
    ['text that is not JSON', '{"jsonl": 0.2', `not JSON: ${notJson('{"jsonl": 0.2')}`],
    ['an array', '[0.2, 0.3]', 'expected an object of ratios per format, got an array'],
    ['null', 'null', 'expected an object of ratios per format, got null'],
    ['a negative ratio', '{"jsonl": -1}', 'jsonl must be a number from 0.001 to 10, got -1'],
    ['a ratio as text', '{"jsonl": "0.2"}', 'jsonl must be a number from 0.001 to 10, got "0.2"'],
    ['an infinite ratio', '{"jsonl": 1e999}', 'jsonl must be a number from 0.001 to 10, got Infinity'],
    ['a zero ratio next to a good one', '{"csv": 0.3, "jsonl": 0}', 'jsonl must be a number from 0.001 to 10, got 0'],
    ['an unknown format', '{"avro": 0.2}', 'unknown format "avro" (known: jsonl, jsonl.gz, csv, csv.gz, parquet)'],
    ['a prototype key', '{"__proto__": {"jsonl": 5}}', 'unknown format "__proto__" (known: jsonl, jsonl.gz, csv, csv.gz, parquet)'],
  ])('ignores %s with a warning, plans with the defaults, and swap replaces it with a measurement', async (_, body, reason) => {
    const p = usePipeline(env.store, env.scratch, env.clock);
    env.store.putObject('gold', RATIOS, body);
    putAll(env.store, 'landing', hour('10', 1));
    const planned = await planRun({ store: env.store, settings: testSettings, clock: env.clock }, { table: 'sensors' });
    expect(planned.warnings).toEqual([`output ratios ${AT} ignored (${reason}); the default ratios are used`]);
    const item = (await env.store.getJson<Array<{ binKey: string }>>('gold', planned.output.itemsKey))![0] as Parameters<typeof p.compact>[0];
    const spec = await specOf(item.binKey);
    expect(spec.estimatedOutputBytes).toBe(estimateAt(spec, DEFAULT_OUTPUT_RATIOS.jsonl));

    const manifest = (await env.store.getJson<BinManifest>('gold', (await p.compact(item)).manifestKey))!;
    const swap = await p.swap(planned.output);
    expect(swap).toMatchObject({ committed: 1, warnings: [`output ratios ${AT} ignored (${reason}); replaced by this run's measurement`] });
    const measured = manifest.output.bytes / manifest.inputs.reduce((n, i) => n + i.size, 0);
    const stored = (await env.store.getJson<Record<string, number>>('gold', RATIOS))!;
    expect(Object.keys(stored)).toEqual(['jsonl']);
    expect(stored.jsonl).toBeCloseTo(measured, 12);
  });
});
