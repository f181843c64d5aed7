import { InvalidInputError } from './errors';

/**
 * A small schema builder for Step Functions payloads: one declaration gives both the TypeScript
 * type (`Infer`) and the check at the handler's edge, so a renamed field cannot drift between them.
 * Fields not declared are let through (a newer definition may send more).
 */
export interface Field<T> {
  /** What the field must be, for the error: `a string`, `an object`. */
  readonly expected: string;
  readonly optional: boolean;
  /** The value, or throws InvalidInputError naming `at`. */
  check(value: unknown, at: string): T;
}

export type Infer<F> = F extends Field<infer T> ? T : never;

const got = (v: unknown) => (v === undefined ? 'undefined' : JSON.stringify(v));

function primitive<T>(kind: 'string' | 'number' | 'boolean', expected: string): Field<T> {
  return {
    expected,
    optional: false,
    check(v, at) {
      if (typeof v !== kind || (kind === 'number' && !Number.isFinite(v))) throw new InvalidInputError(`${at} must be ${expected}, got ${got(v)}`);
      return v as T;
    },
  };
}

export const string = (): Field<string> => primitive('string', 'a string');
export const number = (): Field<number> => primitive('number', 'a number');
export const boolean = (): Field<boolean> => primitive('boolean', 'a boolean');

/** Any value, checked later by its own parser (the run request). */
export const unknown = (): Field<unknown> => ({ expected: 'any value', optional: false, check: (v) => v });

/** An object typed as T whose fields are not checked here (the state the workflow assembles). */
export const opaque = <T extends object>(): Field<T> => ({
  expected: 'an object',
  optional: false,
  check(v, at) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidInputError(`${at} must be an object, got ${got(v)}`);
    return v as T;
  },
});

export const optional = <T>(f: Field<T>): Field<T | undefined> => ({
  expected: f.expected,
  optional: true,
  check: (v, at) => (v === undefined ? undefined : f.check(v, at)),
});

type Shape = Record<string, Field<unknown>>;
// A field whose value may be undefined is an optional property.
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type Fields<S extends Shape> = { readonly [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { readonly [K in OptionalKeys<S>]?: Infer<S[K]> };
/** Flattens an intersection so editors show one object type. */
type Flat<T> = { [K in keyof T]: T[K] } & {};

export interface ObjectField<S extends Shape> extends Field<Flat<Fields<S>>> {
  readonly shape: S;
}

/** An object with the given fields; errors name the field as `<what> field "<name>"`. */
export function object<S extends Shape>(shape: S): ObjectField<S> {
  return {
    shape,
    expected: 'an object',
    optional: false as const,
    check(v, at) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidInputError(`${at} must be an object, got ${got(v)}`);
      const o = v as Record<string, unknown>;
      for (const [name, f] of Object.entries(shape)) f.check(o[name], `${at} field "${name}"`);
      return v as Flat<Fields<S>>;
    },
  };
}

/** Checks `input` against `schema`; `what` names the payload in the error (`bin item`). */
export const parsePayload = <T>(schema: Field<T>, input: unknown, what: string): T => schema.check(input, what);
