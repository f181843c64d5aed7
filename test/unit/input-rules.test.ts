import { badRecordReason, minorityKindReasons, misfitReason, namesProblem, unreadableParquetReason } from '../../lambdas/core/input-rules';

describe('input rules', () => {
  it.each([
    [['a', 'b'], undefined],
    [['a', ''], 'a column name is empty'],
    [['a', 'a'], 'column "a" appears twice'],
    [['Id', 'id'], 'columns "Id" and "id" differ only by case: Glue and Athena cannot tell them apart'],
  ])('names problem of %j is %j', (names, why) => {
    expect(namesProblem(names)).toBe(why);
  });

  it.each([
    ['{"a":1}', undefined],
    ['  \t', undefined],
    ['{"a":', 'malformed JSON (Unexpected end of JSON input)'],
    ['[1]', 'not a JSON object (an array)'],
    ['null', 'not a JSON object (null)'],
    ['7', 'not a JSON object (a number)'],
  ])('bad-record reason of %j is %j', (line, why) => {
    expect(badRecordReason(Buffer.from(line))).toBe(why);
  });

  it('names invalid UTF-8 and oversized records', () => {
    expect(badRecordReason(Buffer.from([0x7b, 0xff, 0x7d]))).toBe('not valid UTF-8');
    expect(badRecordReason(Buffer.from('{}'), 10 * 1024 * 1024 + 1)).toBe('record of 10485761 bytes is over the 10485760-byte limit');
  });

  it('sets aside the objects whose field holds a kind other than most records there', () => {
    const kinds = new Map([
      ['a.json', new Map([['v', new Set(['number'])]])],
      ['b.json', new Map([['v', new Set(['number', 'object'])]])],
      ['c.json', new Map([['v', new Set(['string'])]])],
    ]);
    const totals = new Map([['v', new Map([['number', 5], ['object', 1], ['string', 1]])]]);
    expect([...minorityKindReasons(kinds, totals)]).toEqual([
      ['b.json', 'field "v" is object here but number in most records'],
      ['c.json', 'field "v" is string here but number in most records'],
    ]);
  });

  it('words misfits and unreadable Parquet the same everywhere', () => {
    expect(misfitReason('price', '"abc"', 'DECIMAL(10,2)')).toBe('field "price" is "abc", which is not a DECIMAL(10,2)');
    expect(unreadableParquetReason('s3://l/k.parquet: bad magic')).toBe('not a readable Parquet file: s3://l/k.parquet: bad magic');
  });
});
