import { numberFields, plainNumber, quoteNumberFields } from '../../lambdas/core/json-numbers';

describe('quoteNumberFields', () => {
  const fields = numberFields(['price', 'fee']);
  it.each([
    ['quotes a top-level number', '{"price": 12345678901234567.89, "a": 1}', '{"price": "12345678901234567.89", "a": 1}'],
    ['quotes every wanted field, exponents written out in plain digits', '{"fee":-1.5e-3,"price":0}', '{"fee":"-0.0015","price":"0"}'],
    ['decodes an escaped key before comparing', '{"id":1,"pr\\u0069ce":12345678901234567.89}', '{"id":1,"pr\\u0069ce":"12345678901234567.89"}'],
    ['leaves strings, nulls and nested fields alone', '{"price": "1.10", "fee": null, "x": {"price": 2}, "y": [{"fee": 3}]}', undefined],
    ['ignores the name inside a string value', '{"note": "\\"price\\": 5", "a": 1}', undefined],
    ['finds the field after a string with escapes', '{"n": "a\\\\\\"b,\\"price\\":", "price": 7}', '{"n": "a\\\\\\"b,\\"price\\":", "price": "7"}'],
    ['leaves a truncated record for the reader to report', '{"price": 1.5, "a": ', undefined],
    ['leaves a record that is not an object', '[{"price": 1}]', undefined],
    ['does not match a longer name', '{"prices": 1, "pric": 2}', undefined],
  ])('%s', (_name, line, expected) => {
    const out = quoteNumberFields(Buffer.from(line), fields);
    expect(out?.toString()).toBe(expected);
    if (out) expect(() => JSON.parse(out.toString())).not.toThrow();
  });
});

describe('plainNumber', () => {
  it.each([
    ['-0.5e-3', '-0.0005'],
    ['5e-4', '0.0005'],
    ['0.05e-2', '0.0005'],
    ['1E+2', '100'],
    ['2.5E+3', '2500'],
    ['123456789012345678.5e-2', '1234567890123456.785'],
    ['-0e0', '-0'],
    ['7.250e1', '72.5'],
    ['12.5', undefined],
    ['1e999', undefined],
  ])('%s -> %s', (text, plain) => expect(plainNumber(text)).toBe(plain));
});

describe('quoteNumberFields on invalid numbers', () => {
  it.each(['1.e5', '-.5e1', '00012', '1-2', '1e+', '-', '01.5'])('leaves %s for the reader to reject', (n) => {
    expect(quoteNumberFields(Buffer.from(`{"price": ${n}}`), numberFields(['price']))).toBeUndefined();
  });
  it.each([
    ['0', '"0"'],
    ['-0', '"-0"'],
    ['0.5', '"0.5"'],
    ['10', '"10"'],
    ['1e5', '"100000"'],
    ['1E-5', '"0.00001"'],
    ['-12.50e+3', '"-12500"'],
  ])('quotes %s as %s', (n, quoted) => {
    expect(quoteNumberFields(Buffer.from(`{"price": ${n}}`), numberFields(['price']))?.toString()).toBe(`{"price": ${quoted}}`);
  });
});
