import { numberFields, quoteNumberFields } from '../../lambdas/core/json-numbers';

describe('quoteNumberFields', () => {
  const fields = numberFields(['price', 'fee']);
  it.each([
    ['quotes a top-level number', '{"price": 12345678901234567.89, "a": 1}', '{"price": "12345678901234567.89", "a": 1}'],
    ['quotes every wanted field, exponents and signs included', '{"fee":-1.5e-3,"price":0}', '{"fee":"-1.5e-3","price":"0"}'],
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
