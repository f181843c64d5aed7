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
  constructor(name: ErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

/** A transient failure (throttling, a dropped connection): the same call may succeed later. */
export class RetryableError extends CompactorError {
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorNames.Retryable, message, options);
  }
}

/** Input that can never succeed as given: a bad run request, unreadable data. */
export class InvalidInputError extends CompactorError {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorNames.InvalidInput, message, options);
  }
}

/** A source object changed or vanished between planning and compaction. */
export class SourceChangedError extends CompactorError {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorNames.SourceChanged, message, options);
  }
}

/** The written output does not match its inputs: never commit it. */
export class VerificationError extends CompactorError {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorNames.Verification, message, options);
  }
}

/** Options or environment outside their allowed range. */
export class ConfigurationError extends CompactorError {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorNames.Configuration, message, options);
  }
}

/** Another run committed this partition first: this run's version is stale and was not committed. */
export class ConcurrentCommitError extends CompactorError {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorNames.ConcurrentCommit, message, options);
  }
}

/** The catalog refused a change (per-partition errors in a successful response, or a read-back mismatch). */
export class CatalogError extends CompactorError {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorNames.Catalog, message, options);
  }
}

/** Another run of the same table holds the lease: this run stops before changing anything. */
export class AlreadyRunningError extends CompactorError {
  readonly retryable = false;
  /** Who holds the lease (an execution id), when known. */
  readonly holder?: string;
  constructor(message: string, options?: { cause?: unknown; holder?: string }) {
    super(ErrorNames.AlreadyRunning, message, options);
    if (options?.holder) this.holder = options.holder;
  }
}
