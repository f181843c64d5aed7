import { hiveType, schemaDrift } from '../../lambdas/core/schema';

describe('hiveType', () => {
  it.each([
    ['VARCHAR', 'string'],
    ['BIGINT', 'bigint'],
    ['DOUBLE', 'double'],
    ['TIMESTAMP WITH TIME ZONE', 'timestamp'],
    ['DECIMAL(38,0)', 'decimal(38,0)'],
    ['STRUCT(a BIGINT)', undefined],
  ])('%s -> %s', (duck, hive) => expect(hiveType(duck)).toBe(hive));
});

describe('schemaDrift', () => {
  const table = [{ name: 'device_id', type: 'string' }, { name: 'temperature', type: 'double' }];
  it('appends new columns in order of first appearance, never reordering, and reports what the table cannot hold', () => {
    const drift = schemaDrift(
      table,
      [
        [{ name: 'temperature', type: 'DOUBLE' }, { name: 'firmware', type: 'VARCHAR' }, { name: 'device_id', type: 'VARCHAR' }],
        [{ name: 'rssi', type: 'BIGINT' }, { name: 'firmware', type: 'VARCHAR' }, { name: 'temperature', type: 'VARCHAR' }, { name: 'meta', type: 'STRUCT(a BIGINT)' }, { name: 'dt', type: 'VARCHAR' }],
      ],
      ['dt', 'hour'],
    );
    expect(drift).toEqual({
      append: [{ name: 'firmware', type: 'string' }, { name: 'rssi', type: 'bigint' }],
      conflicts: ['temperature: written as string, the table says double', 'meta: STRUCT(a BIGINT) has no Hive type here'],
    });
  });
});
