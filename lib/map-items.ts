import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/**
 * A Distributed Map's ItemSelector: each item as the plan wrote it (every field of T, by its
 * JSON type), plus the execution id for the step's log lines. Typed by the payload, so a renamed
 * field fails to compile.
 */
export function itemSelectorOf<T>(fields: Record<Exclude<keyof T, 'executionId'> & string, 'string' | 'number'>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries<'string' | 'number'>(fields)) {
    const path = `$$.Map.Item.Value.${name}`;
    out[name] = kind === 'number' ? sfn.JsonPath.numberAt(path) : sfn.JsonPath.stringAt(path);
  }
  out.executionId = sfn.JsonPath.executionId;
  return out;
}
