import { binItemSchema, lifecycleInputSchema, planInputSchema, reportInputSchema, swapInputSchema } from '../../lambdas/core/payloads';
import { parsePayload } from '../../lambdas/core/payload-schema';

const item = { table: 'sensors', planId: 'p1', binId: 'b1', partition: 'dt=2024-12-19', version: 'v1', binKey: 'k', inputFiles: 3, inputBytes: 300 };

describe('handler payloads, checked by the schemas their types come from', () => {
  it('accepts a well-formed payload and returns it as given, fields it does not declare included', () => {
    const given = { ...item, executionId: 'arn:x', extra: 1 };
    expect(parsePayload(binItemSchema, given, 'bin item')).toBe(given);
    expect(parsePayload(lifecycleInputSchema, { table: 'sensors' }, 'lifecycle input')).toEqual({ table: 'sensors' });
  });

  it.each([
    [binItemSchema, 'bin item', { ...item, binId: 7 }, 'bin item field "binId" must be a string, got 7'],
    [binItemSchema, 'bin item', { ...item, binKey: undefined }, 'bin item field "binKey" must be a string, got undefined'],
    [binItemSchema, 'bin item', { ...item, inputBytes: '300' }, 'bin item field "inputBytes" must be a number, got "300"'],
    [binItemSchema, 'bin item', { ...item, executionId: 42 }, 'bin item field "executionId" must be a string, got 42'],
    [binItemSchema, 'bin item', [item], 'bin item must be an object, got [{"table":"sensors","planId":"p1","binId":"b1","partition":"dt=2024-12-19","version":"v1","binKey":"k","inputFiles":3,"inputBytes":300}]'],
    [planInputSchema, 'plan input', { request: {} }, 'plan input field "executionId" must be a string, got undefined'],
    [swapInputSchema, 'swap input', { plan: { planId: 'p', planBucket: 'g' } }, 'swap input field "plan" field "planKey" must be a string, got undefined'],
    [swapInputSchema, 'swap input', { plan: null }, 'swap input field "plan" must be an object, got null'],
    [lifecycleInputSchema, 'lifecycle input', { table: 'sensors', dryRun: 'yes' }, 'lifecycle input field "dryRun" must be a boolean, got "yes"'],
    [reportInputSchema, 'report input', { state: 'x', executionId: 'e', startedAt: 't' }, 'report input field "state" must be an object, got "x"'],
  ])('fails naming the field: %#', (schema, what, payload, message) => {
    expect(() => parsePayload(schema as typeof binItemSchema, payload, what)).toThrow(expect.objectContaining({ name: 'InvalidInputError', message }));
  });
});
