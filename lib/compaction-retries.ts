/** The retry policies every task of the run shares, and the errors they match. */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { ErrorNames } from '../lambdas/core/errors';

/** Errors of the Lambda service itself (throttling, a dropped invoke): the function never ran or its result was lost. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.TooManyRequestsException',
];

/** Errors a handler throws on purpose that no retry can fix (see lambdas/core/errors.ts). */
export const TERMINAL_ERRORS = [
  ErrorNames.InvalidInput,
  ErrorNames.Configuration,
  ErrorNames.Verification,
  ErrorNames.SourceChanged,
  ErrorNames.ConcurrentCommit,
  ErrorNames.Catalog,
  ErrorNames.AlreadyRunning,
];

/**
 * Terminal errors are never retried. Listed first so that no later retrier can match them;
 * they go straight to the Catch.
 */
export const NO_RETRY_ON_TERMINAL: sfn.RetryProps = { errors: TERMINAL_ERRORS, maxAttempts: 0 };

/**
 * Lambda service errors: 6 retries, 2 s doubling, capped at 30 s, FULL jitter.
 * Total wait before giving up at most 2 + 4 + 8 + 16 + 30 + 30 = 90 s (45 s on average with jitter).
 */
export const LAMBDA_SERVICE_RETRY: sfn.RetryProps = {
  errors: LAMBDA_SERVICE_ERRORS,
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 6,
  maxDelay: Duration.seconds(30),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * RetryableError from a handler (S3 or Glue still throttling after the SDK's own retries):
 * 3 retries, 5 s tripling, FULL jitter. Total wait at most 5 + 15 + 45 = 65 s (~33 s on average),
 * on top of the attempts themselves (a compact attempt may take up to 15 min).
 */
export const RETRYABLE_ERROR_RETRY: sfn.RetryProps = {
  errors: [ErrorNames.Retryable],
  interval: Duration.seconds(5),
  backoffRate: 3,
  maxAttempts: 3,
  jitterStrategy: sfn.JitterType.FULL,
};

/** Every task's retry policies, in evaluation order. */
export const TASK_RETRIES: readonly sfn.RetryProps[] = [NO_RETRY_ON_TERMINAL, LAMBDA_SERVICE_RETRY, RETRYABLE_ERROR_RETRY];
