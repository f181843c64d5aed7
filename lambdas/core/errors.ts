/**
 * Error names are constants so that handlers (where thrown) and the CDK
 * definition (Retry/Catch) cannot drift apart.
 */
export const ErrorNames = {
  Retryable: 'RetryableError',
  InvalidInput: 'InvalidInputError',
  SourceChanged: 'SourceChangedError',
  Verification: 'VerificationError',
  Configuration: 'ConfigurationError',
  ConcurrentCommit: 'ConcurrentCommitError',
  Catalog: 'CatalogError',
  AlreadyRunning: 'AlreadyRunningError',
} as const;

export type ErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

/** Base of every error the product throws on purpose. */
export abstract class CompactorError extends Error {
  abstract readonly retryable: boolean;
  constructor(name: ErrorName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
  }
}

type ErrorOptions = { cause?: unknown };

/** The base of one kind of error: its name and whether the same call may succeed later. */
function errorKind<R extends boolean>(name: ErrorName, retryable: R) {
  return class extends CompactorError {
    readonly retryable: R = retryable;
    constructor(message: string, options?: ErrorOptions) {
      super(name, message, options);
    }
  };
}

/** A transient failure (throttling, a dropped connection): the same call may succeed later. */
export class RetryableError extends errorKind(ErrorNames.Retryable, true) {}

/** Input that can never succeed as given: a bad run request, unreadable data. */
export class InvalidInputError extends errorKind(ErrorNames.InvalidInput, false) {}

/** A source object changed or vanished between planning and compaction. */
export class SourceChangedError extends errorKind(ErrorNames.SourceChanged, false) {}

/** The written output does not match its inputs: never commit it. */
export class VerificationError extends errorKind(ErrorNames.Verification, false) {}

/** Options or environment outside their allowed range. */
export class ConfigurationError extends errorKind(ErrorNames.Configuration, false) {}

/** Another run committed this partition first: this run's version is stale and was not committed. */
export class ConcurrentCommitError extends errorKind(ErrorNames.ConcurrentCommit, false) {}

/** The catalog refused a change (per-partition errors in a successful response, or a read-back mismatch). */
export class CatalogError extends errorKind(ErrorNames.Catalog, false) {}

/** Another run of the same table holds the lease: this run stops before changing anything. */
export class AlreadyRunningError extends errorKind(ErrorNames.AlreadyRunning, false) {
  /** Who holds the lease (an execution id), when known. */
  readonly holder?: string;
  constructor(message: string, options?: ErrorOptions & { holder?: string }) {
    super(message, options);
    if (options?.holder) this.holder = options.holder;
  }
}
