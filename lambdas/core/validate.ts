import { InvalidInputError } from './errors';

/** Checks that `input` is an object whose listed fields have the given primitive types. */
export function requireFields<T>(input: unknown, what: string, fields: Record<string, 'string' | 'number' | 'boolean' | 'object'>): T {
  if (typeof input !== 'object' || input === null) throw new InvalidInputError(`${what} must be an object, got ${JSON.stringify(input)}`);
  const o = input as Record<string, unknown>;
  for (const [name, type] of Object.entries(fields)) {
    if (typeof o[name] !== type || o[name] === null) {
      throw new InvalidInputError(`${what} field "${name}" must be a ${type}, got ${JSON.stringify(o[name])}`);
    }
  }
  return input as T;
}
