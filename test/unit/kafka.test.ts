import { kafkaCoverage, parseKafkaName } from '../../lambdas/core/kafka';

describe('parseKafkaName', () => {
  it.each([
    ['topics/orders/partition=3/orders+3+0000001000.json', { topic: 'orders', partition: 3, startOffset: 1000 }],
    ['topics/a+b/year=2024/month=12/day=19/hour=14/a+b+0+0000000000.json.gz', { topic: 'a+b', partition: 0, startOffset: 0 }],
    ['topics/orders/partition=3/orders+3+0000001000.keys.json', { topic: 'orders', partition: 3, startOffset: 1000 }],
    ['sensors/dt=2024-12-19/hour=14/reading-1.json', undefined],
  ])('%s', (key, parsed) => expect(parseKafkaName(key)).toEqual(parsed));
});

describe('kafkaCoverage', () => {
  const o = (key: string, partition: number, startOffset: number, records: number) => ({ key, topic: 't', partition, startOffset, records });
  it('drops the offsets a redelivered object repeats and reports gaps, per partition', () => {
    const { ranges, dropLeading } = kafkaCoverage([
      o('a', 0, 0, 100),
      o('b', 0, 100, 50),
      o('b-redelivered', 0, 120, 50), // 120..169: 120..149 already held
      o('c', 0, 200, 10), // gap 170..199
      o('d', 1, 5, 5),
      o('d-again', 1, 5, 5), // entirely repeated
    ]);
    expect(Object.fromEntries(dropLeading)).toEqual({ 'b-redelivered': 30, 'd-again': 5 });
    expect(ranges).toEqual([
      { topic: 't', partition: 0, from: 0, to: 210, duplicates: 30, gaps: [[170, 200]] },
      { topic: 't', partition: 1, from: 5, to: 10, duplicates: 5, gaps: [] },
    ]);
  });
});
