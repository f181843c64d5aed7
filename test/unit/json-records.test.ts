import { FieldPaths, newFacts, RecordScanner } from '../../lambdas/core/json-records';

const scan = (line: string | Buffer, exact: string[] = [], paths = new FieldPaths()) => {
  const out = newFacts();
  const buf = typeof line === 'string' ? Buffer.from(line) : line;
  const record = new RecordScanner(paths, new Set(exact)).scan(buf, 0, buf.length, out);
  return { record, ...out, names: out.paths.map((p) => paths.text(p)).sort(), top: out.keys.map((k) => paths.name[k]), nullNames: out.nulls.map((k) => paths.name[k]) };
};

describe('RecordScanner', () => {
  it.each([
    ['[1,2]', 'not a JSON object (an array)'],
    ['"x"', 'not a JSON object (a string)'],
    ['42', 'not a JSON object (a number)'],
    ['null', 'not a JSON object (null)'],
    ['{"a":1', expect.stringMatching(/^malformed JSON \(/)],
    ['{"a":1}{"b":2}', expect.stringMatching(/^malformed JSON \(/)],
    ['{"a":1}\r{"b":2}', expect.stringMatching(/^malformed JSON \(/)],
    ['{"a":01}', expect.stringMatching(/^malformed JSON \(/)],
    ['{"a":"x\ty"}', expect.stringMatching(/^malformed JSON \(/)],
    ['{"a":tru}', expect.stringMatching(/^malformed JSON \(/)],
    ['{"a":1,"a":2}', 'duplicate field "a"'],
    ['{"a":1,"\\u0061":2}', 'duplicate field "a"'],
    ['{"m":{"x":1,"x":2}}', 'duplicate field "m.x"'],
    ['{"l":[{"x":1,"x":2}]}', 'duplicate field "l[].x"'],
    ['{"Temp":1,"temp":2}', 'fields "Temp" and "temp" differ only by case: Glue and Athena cannot tell them apart'],
    ['{"m":{"A":1,"a":2}}', 'fields "A" and "a" (in "m") differ only by case: Glue and Athena cannot tell them apart'],
    ['{"":1}', 'field name is empty'],
    ['{"m":{"":1}}', 'field name is empty (in "m")'],
    ['{"a":"\\ud800"}', 'a string holds an unpaired UTF-16 surrogate escape (not valid Unicode)'],
    ['{"a":"\\udc00x"}', 'a string holds an unpaired UTF-16 surrogate escape (not valid Unicode)'],
    ['{"\\ud800":1}', 'a field name holds an unpaired UTF-16 surrogate escape (not valid Unicode)'],
    ['{"a":-0}', 'field "a" is -0, which an integer column stores as 0 (declare the column string to keep it)'],
    ['{"m":[-0]}', 'field "m[]" is -0, which an integer column stores as 0 (declare the column string to keep it)'],
    ['{"a":-0.0}', 'field "a" is -0.0, a negative zero, which the Parquet file would not keep apart from 0 (declare the column string to keep it)'],
    ['{"m":{"x":-0e5}}', 'field "m.x" is -0e5, a negative zero, which the Parquet file would not keep apart from 0 (declare the column string to keep it)'],
    ['{"a":9223372036854775808}', 'field "a" is 9223372036854775808, beyond the 64-bit integer range: declare the column decimal(38,0) or string to keep it'],
    ['{"a":-123456789012345678901234567890}', 'field "a" is -123456789012345678901234567890, beyond the 64-bit integer range: declare the column decimal(38,0) or string to keep it'],
    ['{"a":1e309}', 'field "a" is 1e309, beyond the range of a double'],
    ['{"m":{"x":-2.5e400}}', 'field "m.x" is -2.5e400, beyond the range of a double'],
    ['{"a":1e-400}', 'field "a" is 1e-400, too small for a double (it would be stored as 0)'],
  ])('%s goes to quarantine: %s', (line, problem) => {
    expect(scan(line)).toMatchObject({ record: true, problem });
  });

  it('finds invalid UTF-8 and records over the size limit', () => {
    expect(scan(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])).problem).toBe('not valid UTF-8');
    expect(scan(`{"a":"${'x'.repeat(10 * 1024 * 1024)}"}`).problem).toBe('record of 10485768 bytes is over the 10485760-byte limit');
  });

  it.each([
    ['{"a":1}'],
    ['  {"a": 1}\r'],
    ['{"a":-0.5,"b":0,"c":-1,"a2":-0.01e3,"d":5e-324,"e":1.7976931348623157e308,"f":0e-999,"g":9223372036854775807,"h":-9223372036854775808}'],
    ['{"s":"\\ud83d\\ude00 \\u00e9 \\" \\\\ \\/ \\b\\f\\n\\r\\t","t":true,"u":false,"v":null}'],
    ['{"m":{"Temp":1},"n":{"temp":2}}'],
    ['{"a":{},"b":[],"c":[[[]]],"d":[{}]}'],
  ])('%s is a good record', (line) => {
    expect(scan(line)).toMatchObject({ record: true, problem: undefined });
  });

  it('tells blank lines from records', () => {
    expect(scan(' \t\r').record).toBe(false);
    expect(scan('').record).toBe(false);
  });

  it('names every field path once, top-level fields in order, and which are null', () => {
    const r = scan('{"b":null,"a":{"x":[{"y":1},{"y":2,"z":null}],"w":{}},"c":[1,[2]]}');
    expect(r.top).toEqual(['b', 'a', 'c']);
    expect(r.nullNames).toEqual(['b']);
    expect(r.names).toEqual(['a', 'a.w', 'a.x', 'a.x[].y', 'a.x[].z', 'b', 'c']);
  });

  it('notes integers beyond 2^53 with their path, and leaves declared fields to their cast', () => {
    expect(scan('{"id":9007199254740993,"m":{"n":[-9007199254740993]},"s":9007199254740992}').wideInts.map((w) => w.text)).toEqual(['9007199254740993', '-9007199254740993']);
    expect(scan('{"price":123456789012345678901234567890,"z":-0}', ['price', 'z'])).toMatchObject({ problem: undefined, wideInts: [] });
    expect(scan('{"price":[-0]}', ['price']).problem).toMatch(/-0/);
  });

  it('gives case variants across records one folded path, so a bin can tell which spelling most records use', () => {
    const paths = new FieldPaths();
    const a = scan('{"Temp":1,"m":{"X":1}}', [], paths).paths;
    const b = scan('{"temp":1,"m":{"x":1}}', [], paths).paths;
    expect(a.map((p) => paths.fold[p])).toEqual(b.map((p) => paths.fold[p]));
    expect(a).not.toEqual(b);
  });

  it('treats an object with more distinct names than a struct would take as a map', () => {
    const paths = new FieldPaths();
    for (let i = 0; i < 300; i++) expect(scan(`{"m":{"k${i}":1,"K${i}x":2}}`, [], paths).problem).toBeUndefined();
    expect(paths.size).toBeLessThan(260);
    expect(scan('{"m":{"q":1,"q":2}}', [], paths).problem).toBe('duplicate field "m.q"');
  });
});
