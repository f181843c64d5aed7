import { subscribe } from 'node:diagnostics_channel';
import type { S3Client } from '@aws-sdk/client-s3';
import { noRequests, type S3RequestKind } from '../../lambdas/core/cost';

/** How S3 bills each SDK command. */
const KIND: Record<string, S3RequestKind> = {
  ListObjectsV2Command: 'LIST',
  GetObjectCommand: 'GET',
  PutObjectCommand: 'PUT',
  CreateMultipartUploadCommand: 'PUT',
  UploadPartCommand: 'PUT',
  CompleteMultipartUploadCommand: 'PUT',
  CopyObjectCommand: 'COPY',
  DeleteObjectsCommand: 'DELETE',
  HeadObjectCommand: 'HEAD',
};

/**
 * Counts what a client sends, by kind, as an independent view of what the request-counting store
 * reports: `counts` per command sent (above the SDK's retries), `attempts` per HTTP attempt (below
 * them; S3 bills each). The loopback server under load makes the SDK retry now and then.
 * Object GETs that bypass the SDK (the lean path, undici) are counted from undici's diagnostics
 * channels: every request to `origin` is an attempt, every answer but a 5xx a request.
 */
export function countWireRequests(client: S3Client, origin?: string) {
  const counts = noRequests();
  const attempts = noRequests();
  const other: string[] = [];
  let paused = false;
  const counter = (into: Record<S3RequestKind, number>, track: boolean) => (next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
    if (!paused) {
      const kind = KIND[context.commandName ?? ''];
      if (kind) into[kind]++;
      else if (track) other.push(context.commandName ?? '?');
    }
    return next(args);
  };
  client.middlewareStack.add(counter(counts, true) as never, { step: 'initialize', name: 'countCommands' });
  client.middlewareStack.add(counter(attempts, false) as never, { step: 'deserialize', name: 'countAttempts' });
  type UndiciRequest = { origin?: string | URL; method: string };
  const ours = (r: UndiciRequest) => !paused && origin !== undefined && String(r.origin) === origin && r.method === 'GET';
  subscribe('undici:request:create', (m) => {
    if (ours((m as { request: UndiciRequest }).request)) attempts.GET++;
  });
  subscribe('undici:request:headers', (m) => {
    const { request, response } = m as { request: UndiciRequest; response: { statusCode: number } };
    if (ours(request) && response.statusCode < 500) counts.GET++;
  });
  return {
    counts,
    attempts,
    other,
    reset() {
      for (const k of Object.keys(counts) as S3RequestKind[]) counts[k] = attempts[k] = 0;
      other.length = 0;
    },
    /** Runs `fn` without counting (the test's own reads). */
    async quietly<T>(fn: () => Promise<T>): Promise<T> {
      paused = true;
      try {
        return await fn();
      } finally {
        paused = false;
      }
    },
  };
}
