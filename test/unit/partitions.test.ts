import { discover, encodePartitionValue, parseFirehosePartition, parseHivePartition, skipReason, type ListedObject } from '../../lambdas/core/partitions';

const obj = (key: string, size = 100): ListedObject => ({ key, size, etag: `"${key.length}"`, lastModified: '2024-12-19T15:00:00.000Z' });
const layout = { prefix: 'sensors/', partitionKeys: ['dt', 'hour'] };

describe('skipReason', () => {
  it.each([
    ['sensors/dt=1/hour=2/_SUCCESS', 0, 'marker-file'],
    ['sensors/dt=1/hour=2/part-0.json.crc', 10, 'checksum-file'],
    ['sensors/dt=1/hour=2/.part-0.json.crc', 10, 'checksum-file'],
    ['sensors/_temporary/0/task/part.json', 10, 'temporary-file'],
    ['topics/t/+tmp/t/partition=0/uuid.json', 10, 'temporary-file'],
    ['topics/t/partition=0/t+0+0000000000.keys.json', 10, 'companion-file'],
    ['topics/t/partition=0/t+0+0000000000.headers.avro', 10, 'companion-file'],
    ['sensors/dt=1/hour=2/_metadata', 10, 'hidden-file'],
    ['sensors/dt=1/hour=2/a.json', 0, 'empty-object'],
    ['sensors/dt=1/hour=2/a.avro', 10, 'unsupported-format'],
    ['sensors/dt=1/hour=2/a.txt', 10, 'unknown-format'],
    ['sensors/dt=1/hour=2/a.json', 10, undefined],
    ['sensors/dt=1/hour=2/a.JSON.GZ', 10, undefined],
    ['sensors/dt=1/hour=2/a.snappy.parquet', 10, undefined],
    ['sensors/dt=1/hour=2/a.csv', 10, undefined],
  ])('%s (%d bytes) -> %s', (key, size, reason) => {
    expect(skipReason(key, size)).toBe(reason);
  });
});

describe('parseHivePartition', () => {
  it.each([
    ['dt=2024-12-19/hour=14/a.json', { dt: '2024-12-19', hour: '14' }],
    ['dt=2024%2F12%2F19/hour=14/a.json', { dt: '2024/12/19', hour: '14' }],
    ['dt=a%20b/hour=1%2B2/a.json', { dt: 'a b', hour: '1+2' }],
    ['dt=/hour=14/a.json', { dt: '', hour: '14' }],
    ['hour=14/dt=2024-12-19/a.json', undefined],
    ['dt=2024-12-19/a.json', undefined],
    ['dt=2024-12-19/hour=14/extra/a.json', undefined],
    ['2024/12/19/14/a.json', undefined],
    ['dt=%E0%A4%A/hour=1/a.json', undefined],
  ])('%s', (rel, values) => {
    expect(parseHivePartition(rel, ['dt', 'hour'])).toEqual(values);
  });
});

describe('encodePartitionValue', () => {
  it.each([
    ['2024-12-19', '2024-12-19'],
    ['a/b', 'a%2Fb'],
    ['..', '..'],
    ['a b+c', 'a%20b%2Bc'],
    ['é', '%C3%A9'],
    ['😀', '%F0%9F%98%80'],
    ['😁', '%F0%9F%98%81'],
    ['a\u{10FFFF}b', 'a%F4%8F%BF%BFb'],
  ])('%s -> %s', (v, out) => expect(encodePartitionValue(v)).toBe(out));

  it('gives every value outside the Basic Multilingual Plane its own path, which decodes back to it', () => {
    // Every 97th code point of every plane, surrogates excluded, each alone and between ASCII.
    const values: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp += 97) if (cp < 0xd800 || cp > 0xdfff) values.push(String.fromCodePoint(cp), `x${String.fromCodePoint(cp)}y`);
    const paths = values.map(encodePartitionValue);
    expect(new Set(paths).size).toBe(values.length);
    for (const [i, p] of paths.entries()) {
      expect(p).toMatch(/^[A-Za-z0-9._~%-]*$/);
      expect(decodeURIComponent(p)).toBe(values[i]);
    }
  });

  it('keeps a key whose value cannot be spelled in UTF-8 out of every partition', () => {
    expect(parseHivePartition('dt=%F0%9F%98%80/hour=1/a.json', ['dt', 'hour'])).toEqual({ dt: '😀', hour: '1' });
    // A lone surrogate half has no UTF-8 form: S3 cannot hold it, and percent-decoding refuses it.
    expect(parseHivePartition('dt=%ED%A0%80/hour=1/a.json', ['dt', 'hour'])).toBeUndefined();
    const d = discover([obj('sensors/dt=ok/hour=1/a.json'), { ...obj('sensors/dt=x/hour=1/%ZZ.json'), keyError: 'bad' }], layout);
    expect(d.partitions.map((p) => p.path)).toEqual(['dt=ok/hour=1']);
    expect(d.skippedExamples).toContainEqual({ key: 'sensors/dt=x/hour=1/%ZZ.json', reason: 'unreadable-key' });
  });
});

describe('discover', () => {
  it('groups data files by partition in key order and counts what it skips', () => {
    const d = discover(
      [
        obj('sensors/dt=2024-12-19/hour=15/b.json'),
        obj('sensors/dt=2024-12-19/hour=14/b.json'),
        obj('sensors/dt=2024-12-19/hour=14/a.json'),
        obj('sensors/dt=2024-12-19/hour=14/_SUCCESS', 0),
        obj('sensors/dt=2024-12-19/hour=14/empty.json', 0),
        obj('sensors/stray.json'),
        obj('other/dt=2024-12-19/hour=14/a.json'),
      ],
      layout,
    );
    expect(d.partitions.map((p) => [p.path, p.files.files().map((f) => f.key.split('/').pop())])).toEqual([
      ['dt=2024-12-19/hour=14', ['a.json', 'b.json']],
      ['dt=2024-12-19/hour=15', ['b.json']],
    ]);
    expect(d.skipped).toMatchObject({ 'marker-file': 1, 'empty-object': 1, 'outside-layout': 1 });
    expect(d.skippedExamples).toContainEqual({ key: 'sensors/stray.json', reason: 'outside-layout' });
  });

  it('puts differently encoded spellings of one value into one partition', () => {
    const d = discover([obj('sensors/dt=a%20b/hour=1/x.json'), obj('sensors/dt=a b/hour=1/y.json')], layout);
    expect(d.partitions.map((p) => [p.path, p.files.length])).toEqual([['dt=a%20b/hour=1', 2]]);
  });
});

describe('Firehose layout', () => {
  it.each([
    ['2024/12/19/14/stream-1-2024-12-19-14-03-11-abc', ['dt', 'hour'], { dt: '2024-12-19', hour: '14' }],
    ['2024/12/19/14/x.gz', ['year', 'month', 'day', 'hour'], { year: '2024', month: '12', day: '19', hour: '14' }],
    ['2024/12/19/x', ['dt', 'hour'], undefined],
    ['dt=2024-12-19/hour=14/x', ['dt', 'hour'], undefined],
  ])('%s with %j', (rel, keys, values) => {
    expect(parseFirehosePartition(rel, keys)).toEqual(values);
  });

  it('maps YYYY/MM/DD/HH/ into dt/hour partitions and reads extension-less objects as JSON Lines', () => {
    const d = discover(
      [obj('fh/2024/12/19/14/s-1-2024-12-19-14-00-01-aaa'), obj('fh/2024/12/19/14/s-1-2024-12-19-14-00-02-bbb.gz'), obj('fh/2024/12/19/15/part.txt'), obj('fh/stray')],
      { prefix: 'fh/', partitionKeys: ['dt', 'hour'], kind: 'firehose' },
    );
    expect(d.partitions.map((p) => [p.path, p.files.files().map((f) => f.format)])).toEqual([['dt=2024-12-19/hour=14', ['jsonl', 'jsonl.gz']]]);
    expect(d.skipped).toMatchObject({ 'unknown-format': 1, 'outside-layout': 1 });
  });
});
