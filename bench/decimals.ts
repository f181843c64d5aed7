/**
 * EXACT DECIMALS (in memory, no S3): the fetch's line pass with declared-decimal quoting vs the
 * same pass without it, over the same JSON Lines bytes.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { JsonLinesCounter, NumberQuoter } from '../lambdas/adapters/fetch-inputs';
import { numberFields } from '../lambdas/core/json-numbers';
import { sensorFiles } from '../local/generate';
import { table } from '../local/report';
import { fmtInt, MAIN_HOUR, MB, median, secs, timed, type BenchOptions } from './common';

/**
 * Declared decimals cost one extra pass over JSON bytes in Node (quoting their number text): timed
 * against the fetch's own line pass over the same bytes, in this process, in 64 KB chunks as
 * a download delivers them.
 */
export async function decimals(o: BenchOptions) {
  const rows = sensorFiles({ prefix: '', hours: [MAIN_HOUR], filesPerHour: 1, rowsPerFile: 400_000, seed: 4 })[0].body
    .split('\n')
    .filter(Boolean)
    .map((l, i) => `${l.slice(0, -1)},"price":${(i * 7919) % 100_000_000}.${String(i % 100).padStart(2, '0')}}`);
  const data = Buffer.from(rows.join('\n') + '\n');
  const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
  const pass = async (quote: boolean) => {
    let out = 0;
    const stages = [new JsonLinesCounter(Number.MAX_SAFE_INTEGER, 'bench'), ...(quote ? [new NumberQuoter(numberFields(['price']))] : [])];
    await pipeline([Readable.from(chunks), ...stages, new Writable({ write: (c: Buffer, _e, done) => ((out += c.length), done()) })]);
    return out;
  };
  const floor: number[] = [];
  const ours: number[] = [];
  for (let run = 1; run <= o.runs; run++) {
    floor.push((await timed(() => pass(false))).ms);
    const t = await timed(() => pass(true));
    if (t.value !== data.length + 2 * rows.length) throw new Error(`quoting wrote ${t.value} bytes, expected ${data.length + 2 * rows.length}`);
    ours.push(t.ms);
  }
  const [f, q] = [median(floor), median(ours)];
  const mbps = (ms: number) => ((data.length / MB) / (ms / 1000)).toFixed(0);
  console.log(`Exact decimals: ${fmtInt(rows.length)} JSON rows, ${(data.length / MB).toFixed(1)} MB, one declared decimal field; median of ${o.runs}`);
  console.log(
    table(
      ['stage', 'ours (s)', 'floor (s)', 'ratio', 'ours MB/s', 'floor MB/s'],
      [['line pass with decimal quoting vs without', secs(q), secs(f), (f / q).toFixed(2), mbps(q), mbps(f)]],
    ),
  );
  console.log('informational: only tables that declare decimal columns pay this; the sensors table does not.');
}
