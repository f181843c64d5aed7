import { createWriteStream } from 'node:fs';
import { CompactorError, RetryableError } from '../core/errors';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` writing into the file at `path`. A failed attempt waits until its file stream is
 * closed: a write still in flight would otherwise land after the retry truncated the file, and the
 * chunk would hold a record twice.
 */
export async function intoFile<T>(path: string, flags: 'a' | 'w', fn: (out: NodeJS.WritableStream) => Promise<T>): Promise<T> {
  const out = createWriteStream(path, { flags });
  try {
    return await fn(out);
  } catch (e) {
    if (!out.closed) await new Promise<void>((r) => out.destroy().once('close', () => r()));
    throw e;
  }
}

/**
 * Re-reads an object whose body failed after the request succeeded (a reset or timeout mid-body):
 * the store's request layer (lean GET attempts, or the SDK's maxAttempts) already retried the
 * request itself, so its errors, retryable ones included, go straight to the state machine's
 * retry of the step. Our terminal errors (changed source, bad input) are final.
 */
export async function withRetries<T>(attempts: number, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const ours = e instanceof CompactorError;
      if (ours || attempt >= attempts) {
        if (!ours) {
          throw new RetryableError(`${what} failed after ${attempt} attempts: ${(e as Error).message}`, { cause: e });
        }
        throw e;
      }
      await sleep(100 * 2 ** attempt * Math.random());
    }
  }
}
