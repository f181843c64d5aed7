import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NumberQuoter } from '../../lambdas/adapters/fetch-inputs';
import { MAX_RECORD_BYTES } from '../../lambdas/core/formats';
import { numberFields } from '../../lambdas/core/json-numbers';

async function through(chunks: readonly Buffer[]): Promise<{ out: Buffer; changed: boolean }> {
  const parts: Buffer[] = [];
  const q = new NumberQuoter(numberFields(['price']));
  await pipeline(Readable.from(chunks), q, new Writable({ write: (c: Buffer, _e, done) => (parts.push(c), done()) }));
  return { out: Buffer.concat(parts), changed: q.changed };
}

const split = (data: Buffer, sizes: readonly number[]) => {
  const out: Buffer[] = [];
  for (let at = 0, k = 0; at < data.length; k++) {
    const n = sizes[k % sizes.length];
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
};

describe('NumberQuoter', () => {
  const input = Buffer.from('{"price": 1.5}\n{"a":"x"}\n{"price": -2e3, "x": {"price": 4}}\n{"price": 7}');
  const expected = '{"price": "1.5"}\n{"a":"x"}\n{"price": "-2000", "x": {"price": 4}}\n{"price": "7"}';

  it.each([[[1]], [[3, 5]], [[7, 1, 2]], [[1000]]])('quotes the same whatever the chunk sizes (%j)', async (sizes) => {
    const { out, changed } = await through(split(input, sizes));
    expect(out.toString()).toBe(expected);
    expect(changed).toBe(true);
  });

  it('passes a line over the record size limit through as it is, and quotes the lines after it', async () => {
    const huge = Buffer.from(`{"price": 1, "pad": "${'x'.repeat(MAX_RECORD_BYTES)}"}\n`);
    const data = Buffer.concat([Buffer.from('{"price": 2}\n'), huge, Buffer.from('{"price": 3}\n')]);
    const { out } = await through(split(data, [65536]));
    expect(out.length).toBe(data.length + 4);
    expect(out.subarray(0, 15).toString()).toBe('{"price": "2"}\n');
    expect(out.subarray(15, 15 + huge.length).equals(huge)).toBe(true);
    expect(out.subarray(15 + huge.length).toString()).toBe('{"price": "3"}\n');
  });
});
