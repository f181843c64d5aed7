/**
 * Small JSON Lines objects are staged from one buffer; larger ones stream. Both ways must stage the
 * same bytes and the same facts, hostile inputs included: every bin here is fetched both ways (the
 * stream way fed in 1- and 5-byte chunks: a BOM cut across chunks too) and compared field by field.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { fetchInputs, type StagedInputs } from '../../lambdas/adapters/fetch-inputs';
import { RequestCountingStore } from '../../lambdas/adapters/request-counting-store';
import { collect } from '../../lambdas/adapters/small-json';
import { MAX_RECORD_BYTES } from '../../lambdas/core/formats';
import type { SourceFile } from '../../lambdas/core/partitions';
import type { ObjectStore } from '../../lambdas/core/ports';
import type { MemoryStore } from '../../local/memory-store';
import { useMemoryStore } from '../helpers/memory';

const b = (s: string) => Buffer.from(s, 'utf8');
const gz = (s: string | Buffer) => gzipSync(s);
const lines = (n: number, line: string) => line.repeat(n);
const truncated = (g: Buffer) => g.subarray(0, g.length - 1000);

/** Stored bytes by key (the `.gz` suffix sets the format). */
const HOSTILE: Record<string, Buffer> = {
  'crlf.jsonl': b('{"a":1}\r\n{"a":2,"b":"x"}\r\n'),
  'no-final-newline.jsonl': b('{"a":1}\n{"a":2}'),
  'blank-lines.jsonl': b('\n\n{"a":1}\n  \n\t\r\n{"b":null}\n\n'),
  'only-blank.jsonl': b(' \n\t\r\n'),
  'empty.jsonl': b(''),
  'bom.jsonl': b('\ufeff{"a":1}\n{"a":3}'),
  'bom-only.jsonl': b('\ufeff'),
  'bom-prefix.jsonl': Buffer.from([0xef, 0xbb]),
  'bom-prefix-then-data.jsonl': Buffer.concat([Buffer.from([0xef, 0xbb]), b('{"a":1}\n')]),
  'invalid-utf8.jsonl': Buffer.concat([b('{"s":"ok"}\n{"s":"'), Buffer.from([0xff, 0xfe, 0xc3]), b('"}\n{"s":"end"}\n')]),
  'bad-json.jsonl': b('{"a":\n{"b":2}\n[1,2]\n"str"\n{"c":{"d":[1,{"e":null}]}}\n'),
  'decimals.jsonl': b('{"price": 1.5}\n{"a":"x"}\n{"price": -2e3, "x": {"price": 4}}\n{"price": 12345678901234567890.125, "q": 0.1}\n{"price":"7"}'),
  'wide-ints.jsonl': b('{"id": 9007199254740993, "n": {"m": -9007199254740995}}\n{"id": 1}\n'),
  'dup-keys.jsonl': b('{"a":1,"a":2}\n{"A":1,"a":2}\n'),
  'gz-ok.jsonl.gz': gz('\ufeff{"price": 2.50}\r\n\n{"a":[1,2,3]}'),
  'gz-two-members.jsonl.gz': Buffer.concat([gz('{"a":1}\n'), gz('{"price": 3.25}\n')]),
  'gz-trailing-garbage.jsonl.gz': Buffer.concat([gz('{"a":1}\n'), b('not gzip')]),
  'gz-truncated.jsonl.gz': truncated(gz(Array.from({ length: 2000 }, (_, i) => `{"a":${i},"price":9.${i}}\n`).join(''))),
  'gz-not-gzip.jsonl.gz': b('{"a":1}\n'),
  'gz-empty.jsonl.gz': b(''),
  'gz-invalid-utf8.jsonl.gz': gz(Buffer.concat([b('{"s":"'), Buffer.from([0xc0, 0x80]), b('"}\n')])),
  // Under the 3 MB cap of the first bin once decompressed: staged from the buffer.
  'gz-2mb.jsonl.gz': gz(lines(100_000, '{"price":1.25,"k":"v"}\n').slice(0, 2_000_000)),
  // Over the 3 MB cap, under the buffer: the buffer's own pass refuses it.
  'gz-bomb-4mb.jsonl.gz': gz(lines(500_000, '{"a":1}\n')),
  // Over the buffer too: the held bytes go through the stream stages.
  'gz-bomb-20mb.jsonl.gz': gz(Buffer.alloc(20 * 1024 * 1024, 0x20)),
};

/** A record over the size limit needs the default cap: a bin of its own. */
const OVERSIZED: Record<string, Buffer> = {
  'gz-oversized-record.jsonl.gz': gz(`{"a":1}\n{"big":"${'x'.repeat(MAX_RECORD_BYTES + 10)}"}\n{"price": 1.5}\n`),
  'after.jsonl': b('{"price": 0.5}\n'),
};

/** The store read as a stream, in `size`-byte chunks, with no whole-body read. */
function chunkyStore(inner: MemoryStore, size: number): ObjectStore {
  const s = Object.create(inner) as ObjectStore & { getBytes?: unknown };
  s.getBytes = undefined;
  s.getStream = async (bucket, key, ifMatch) => {
    const all = await collect(await inner.getStream(bucket, key, ifMatch));
    const parts: Buffer[] = [];
    for (let at = 0; at < all.length; at += size) parts.push(all.subarray(at, at + size));
    return Readable.from(parts);
  };
  return s;
}

/** Everything a fetch stages, with paths made relative to its directory. */
async function snapshot(staged: StagedInputs) {
  const chunks = await Promise.all(staged.jsonChunks.map(async (c) => [basename(c), (await readFile(c)).toString('base64')]));
  const j = staged.json!;
  return {
    chunks,
    jsonRows: [...staged.jsonRows],
    segments: staged.jsonSegments.map((s) => ({ ...s, chunk: basename(s.chunk) })),
    rewritten: [...staged.rewritten].sort(),
    setAside: staged.setAside,
    bytes: staged.bytes,
    paths: { parent: j.paths.parent, name: j.paths.name, fold: j.paths.fold, mapLike: j.paths.mapLike },
    pathRecords: j.pathRecords,
    nonNull: j.nonNull,
    flagged: [...j.flagged],
    wideInts: [...j.wideInts],
  };
}

describe('small objects staged from one buffer, as the stream stages them', () => {
  const env = useMemoryStore('small-json');

  async function both(objects: Record<string, Buffer>, chunk: number, maxDecompressedBytes?: number) {
    const sources: SourceFile[] = Object.entries(objects).map(([key, body]) => {
      const etag = env.store.putObject('landing', key, body);
      return { key, size: body.length, etag, format: key.endsWith('.gz') ? 'jsonl.gz' : 'jsonl' };
    });
    const o = { concurrency: 1, exactNumberFields: ['price'], maxDecompressedBytes, chunkBytes: 1024 };
    const fast = new RequestCountingStore(env.store);
    const slow = new RequestCountingStore(chunkyStore(env.store, chunk));
    const buckets = { landing: 'landing', gold: 'gold' };
    const viaBuffer = await fetchInputs(fast, buckets, sources, join(env.scratch, 'buffer'), o);
    const viaStream = await fetchInputs(slow, buckets, sources, join(env.scratch, 'stream'), { ...o, smallObjectBytes: -1 });
    return { viaBuffer: await snapshot(viaBuffer), viaStream: await snapshot(viaStream), gets: [fast.counts.GET, slow.counts.GET] };
  }

  it.each([1, 5])('stages the same bytes, counts, facts and set-asides over hostile objects (stream in %d-byte chunks)', async (chunk) => {
    const { viaBuffer, viaStream, gets } = await both(HOSTILE, chunk, 3 * 1024 * 1024);
    expect(viaBuffer).toEqual(viaStream);
    // One GET per object either way.
    expect(gets).toEqual([24, 24]);
    // The comparison is not vacuous: what the hostile objects did.
    const rows = new Map(viaBuffer.jsonRows);
    expect(rows.get('blank-lines.jsonl')).toBe(2);
    expect(rows.get('only-blank.jsonl')).toBe(0);
    expect(rows.get('no-final-newline.jsonl')).toBe(2);
    // Two bytes that begin a BOM but are not one are data: a record of their own.
    expect(rows.get('bom-prefix.jsonl')).toBe(1);
    expect(rows.get('bom-prefix-then-data.jsonl')).toBe(1);
    expect(rows.get('bom.jsonl')).toBe(2);
    expect(rows.get('gz-2mb.jsonl.gz')).toBe(86_957);
    expect(viaBuffer.rewritten).toEqual(['decimals.jsonl', 'gz-2mb.jsonl.gz', 'gz-ok.jsonl.gz', 'gz-two-members.jsonl.gz']);
    expect(HOSTILE['gz-truncated.jsonl.gz'].length).toBeGreaterThan(4000);
    const aside = (key: string, why: string) => ({ key, reason: `s3://landing/${key} ${why}` });
    const bomb = 'is larger than 3145728 bytes once decompressed (a gzip bomb?); split the object or raise MAX_DECOMPRESSED_MB';
    expect(viaBuffer.setAside).toEqual([
      aside('gz-bomb-20mb.jsonl.gz', bomb),
      aside('gz-bomb-4mb.jsonl.gz', bomb),
      aside('gz-empty.jsonl.gz', 'is not a readable gzip file (unexpected end of file): set aside whole'),
      aside('gz-not-gzip.jsonl.gz', 'is not a readable gzip file (incorrect header check): set aside whole'),
      aside('gz-trailing-garbage.jsonl.gz', 'is not a readable gzip file (incorrect header check): set aside whole'),
      aside('gz-truncated.jsonl.gz', 'is not a readable gzip file (unexpected end of file): set aside whole'),
    ]);
    const staged = Buffer.concat(viaBuffer.chunks.map(([, c]) => Buffer.from(c, 'base64'))).toString('latin1');
    expect(staged).toContain('{"price": "12345678901234567890.125", "q": 0.1}\n');
    expect(staged).toContain('{"a":1}\r\n{"a":2,"b":"x"}\r\n');
    expect(staged).not.toContain('\xef\xbb\xbf');
    expect(staged).toContain('\n\xef\xbb{"a":1}\n');
    expect(new Map(viaBuffer.flagged).get('bad-json.jsonl')?.map((f) => f.line)).toEqual([1, 3, 4]);
    expect(new Map(viaBuffer.wideInts).get('wide-ints.jsonl')?.map((w) => w.text)).toEqual(['9007199254740993', '-9007199254740995']);
  });

  it('stages a record over the size limit the same way (the buffer hands it to the stream path)', async () => {
    const { viaBuffer, viaStream, gets } = await both(OVERSIZED, 5);
    expect(viaBuffer).toEqual(viaStream);
    // Over the buffer once decompressed: read again, streamed to its chunk (as before the buffer path).
    expect(gets).toEqual([3, 2]);
    expect(new Map(viaBuffer.flagged).get('gz-oversized-record.jsonl.gz')).toEqual([
      { line: 2, reason: `record of ${MAX_RECORD_BYTES + 20} bytes is over the ${MAX_RECORD_BYTES}-byte limit` },
    ]);
    expect(viaBuffer.jsonRows).toEqual([['gz-oversized-record.jsonl.gz', 3], ['after.jsonl', 1]]);
  });
});
