import { formatDuckType, hiveType, parseDuckType, schemaDrift } from '../../lambdas/core/schema';

describe('hiveType', () => {
  it.each([
    ['VARCHAR', 'string'],
    ['BIGINT', 'bigint'],
    ['DOUBLE', 'double'],
    ['TIMESTAMP WITH TIME ZONE', 'timestamp'],
    ['DECIMAL(38,0)', 'decimal(38,0)'],
    ['STRUCT(a BIGINT)', 'struct<a:bigint>'],
    ['STRUCT(x JSON, t VARCHAR, "é" DOUBLE)', 'struct<x:string,t:string,é:double>'],
    ['BIGINT[]', 'array<bigint>'],
    ['STRUCT(a BIGINT, b VARCHAR)[]', 'array<struct<a:bigint,b:string>>'],
    ['MAP(VARCHAR, JSON)', 'map<string,string>'],
    ['MAP(VARCHAR, STRUCT(k DECIMAL(18,3), l DATE[]))', 'map<string,struct<k:decimal(18,3),l:array<date>>>'],
    ['STRUCT(m STRUCT(n STRUCT(o BOOLEAN[][])))', 'struct<m:struct<n:struct<o:array<array<boolean>>>>>'],
    // Names a Hive type string cannot spell, and types Hive has not, are reported.
    ['STRUCT("a b" BIGINT)', undefined],
    ['STRUCT("a:b" BIGINT)', undefined],
    ['UUID', undefined],
    ['STRUCT(t TIME)', undefined],
    ['UNION(a INTEGER, b VARCHAR)', undefined],
  ])('%s -> %s', (duck, hive) => expect(hiveType(duck)).toBe(hive));
});

describe('parseDuckType', () => {
  it.each([
    'STRUCT("a b" BIGINT, "x""y" VARCHAR[], "Temp" DOUBLE)',
    'MAP(VARCHAR, STRUCT("k" DECIMAL(18,3), "l" DATE[3]))',
    'STRUCT("e" ENUM(\'a,b\', \'c)\'))[][]',
    'TIMESTAMP WITH TIME ZONE',
  ])('reads %s and writes it back the same', (t) => expect(formatDuckType(parseDuckType(t))).toBe(t));
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
      append: [{ name: 'firmware', type: 'string' }, { name: 'rssi', type: 'bigint' }, { name: 'meta', type: 'struct<a:bigint>' }],
      conflicts: ['temperature: written as string, the table says double'],
    });
  });
});
