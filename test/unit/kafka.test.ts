import { normalize, subtract, union } from '../../lambdas/core/intervals';
import { dedupKafka, kafkaSortKey, mergeOffsets, offsetGaps, parseKafkaName } from '../../lambdas/core/kafka';

describe('parseKafkaName', () => {
  it.each([
    ['topics/orders/partition=3/orders+3+0000001000.json', { topic: 'orders', partition: 3, startOffset: 1000 }],
    ['topics/a+b/year=2024/month=12/day=19/hour=14/a+b+0+0000000000.json.gz', { topic: 'a+b', partition: 0, startOffset: 0 }],
    ['topics/orders/partition=3/orders+3+0000001000.keys.json', { topic: 'orders', partition: 3, startOffset: 1000 }],
    ['topics/orders/partition=3/orders+3+0000001000.snappy.parquet', { topic: 'orders', partition: 3, startOffset: 1000 }],
    ['sensors/dt=2024-12-19/hour=14/reading-1.json', undefined],
    ['topics/orders/partition=3/orders+3+99999999999999999999.json', undefined],
  ])('%s', (key, parsed) => expect(parseKafkaName(key)).toEqual(parsed));
});

describe('offset interval sets', () => {
  it.each([
    ['merges touching and overlapping ranges', [[5, 7], [0, 3], [3, 4], [6, 9], [9, 9]], [[0, 4], [5, 9]]],
    ['drops empty ranges', [[4, 4], [2, 1]], []],
  ] as const)('normalize %s', (_name, input, expected) => expect(normalize(input)).toEqual(expected));

  it.each([
    [[[0, 10]], [[2, 4], [6, 8]], [[0, 2], [4, 6], [8, 10]]],
    [[[0, 10]], [[0, 10]], []],
    [[[0, 5], [10, 15]], [[3, 12]], [[0, 3], [12, 15]]],
    [[[0, 5]], [], [[0, 5]]],
  ] as const)('subtract %j - %j', (a, b, expected) => expect(subtract(a, b)).toEqual(expected));

  it('unions per topic-partition and reports the gaps between held offsets', () => {
    const held = mergeOffsets({ 'o+0': [[0, 25]] }, { 'o+0': [[30, 35]], 'o+1': [[0, 5]] }, undefined, { 'o+0': [[40, 45], [20, 26]] });
    expect(held).toEqual({ 'o+0': [[0, 26], [30, 35], [40, 45]], 'o+1': [[0, 5]] });
    expect(offsetGaps(held)).toEqual([{ topicPartition: 'o+0', gaps: [[26, 30], [35, 40]] }]);
    expect(union([[0, 1]], [[1, 2]])).toEqual([[0, 2]]);
  });
});

describe('kafkaSortKey', () => {
  it('orders one topic-partition by start offset whatever the padding or folder', () => {
    const keys = ['t/p=0/o+0+100.json', 't/p=0/o+0+0000000020.json', 't/p=0/x/o+0+0000000050.json', 't/p=0/o+1+0000000001.json', 't/p=0/plain.json', 't/p=0/o+0+0000000020.json.gz'];
    expect([...keys].sort((a, b) => (kafkaSortKey(a) < kafkaSortKey(b) ? -1 : 1))).toEqual([
      't/p=0/o+0+0000000020.json',
      't/p=0/o+0+0000000020.json.gz',
      't/p=0/x/o+0+0000000050.json',
      't/p=0/o+0+100.json',
      't/p=0/o+1+0000000001.json',
      't/p=0/plain.json',
    ]);
  });
});

describe('dedupKafka', () => {
  const o = (key: string, partition: number, startOffset: number, records: number) => ({ key, topic: 't', partition, startOffset, records });

  it('keeps each offset once within a bin: the later-starting copy wins, gaps stay gaps', () => {
    const { drop, ranges } = dedupKafka(
      [
        o('a', 0, 0, 100),
        o('b', 0, 100, 50), // 100..149
        o('b-redelivered', 0, 120, 50), // 120..169: b's 120..149 are left out
        o('c', 0, 200, 10), // gap 170..199
        o('d', 1, 5, 5),
        o('d-again', 1, 5, 5), // same offsets: the greater key keeps them
      ],
      [],
    );
    expect(Object.fromEntries(drop)).toEqual({ b: [[20, 50]], d: [[0, 5]] });
    expect(ranges).toEqual([
      { topic: 't', partition: 0, offsets: [[0, 170], [200, 210]], duplicates: 30 },
      { topic: 't', partition: 1, offsets: [[5, 10]], duplicates: 5 },
    ]);
  });

  it('leaves out what the committed version holds, and keeps what fills its gaps', () => {
    const { drop, ranges } = dedupKafka([o('late', 0, 20, 15), o('gap-filler', 0, 25, 5)], [], { 't+0': [[0, 25], [30, 35]] });
    // late holds 20..34: 20..24 and 30..34 are committed, 25..29 are also in gap-filler (which starts later).
    expect(Object.fromEntries(drop)).toEqual({ late: [[0, 15]] });
    expect(ranges).toEqual([{ topic: 't', partition: 0, offsets: [[25, 30]], duplicates: 15 }]);
  });

  it('leaves out offsets that a later bin of the partition keeps', () => {
    const bin1 = [o('x', 0, 0, 10), o('y', 0, 10, 10)]; // 0..19
    const bin2 = [o('z', 0, 15, 10)]; // 15..24, planned in the next bin
    const first = dedupKafka(bin1, bin2);
    const second = dedupKafka(bin2, []);
    expect(Object.fromEntries(first.drop)).toEqual({ y: [[5, 10]] });
    expect(first.ranges[0].offsets).toEqual([[0, 15]]);
    expect(second.ranges[0].offsets).toEqual([[15, 25]]);
    expect(union(first.ranges[0].offsets, second.ranges[0].offsets)).toEqual([[0, 25]]);
  });

  it('drops a middle slice when a later object covers it but the tail is unique', () => {
    const { drop } = dedupKafka([o('long', 0, 0, 100), o('mid', 0, 40, 10)], [], { 't+0': [[90, 95]] });
    expect(drop.get('long')).toEqual([[40, 50], [90, 95]]);
  });
});
