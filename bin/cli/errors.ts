/** How an error the CLI ends with is told: one line naming what to change, and an exit code. */
import { CompactorError } from '../../lambdas/core/errors';
import { helpHint } from './command-line';
import { UsageError } from './flags';

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0'];

export function isLocalEndpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    return LOOPBACK_HOSTS.includes(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

/** The credentials the loopback S3 server takes (local/s3-server.ts), loaded only when they are needed. */
async function localCredentials(): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  return (await import('../../local/s3-server')).LOCAL_CREDENTIALS;
}

export interface ErrorContext {
  readonly verb?: string;
  readonly endpoint?: string;
}

/** An AWS SDK error: a service's answer (`$metadata`), or the SDK's own (no credentials, no region). */
const isSdkError = (e: unknown): e is Error & { $metadata?: unknown } => e instanceof Error && ('$metadata' in e || /ProviderError$/.test(e.name));

export async function describeError(e: unknown, ctx: ErrorContext): Promise<{ lines: string[]; code: number }> {
  if (e instanceof UsageError) return { lines: [`error: ${e.message}`, helpHint(e.verb ?? ctx.verb)], code: EXIT_USAGE };
  const err = e as Error;
  if (err?.name === 'CredentialsProviderError' || /Could not load credentials/.test(err?.message ?? '')) {
    if (isLocalEndpoint(ctx.endpoint)) {
      const c = await localCredentials();
      return {
        lines: [`error: no AWS credentials for --endpoint ${ctx.endpoint}; the local S3 server (local/s3-server.ts) takes AWS_ACCESS_KEY_ID=${c.accessKeyId} AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`],
        code: EXIT_FAILED,
      };
    }
    return { lines: ['error: no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role provides them'], code: EXIT_FAILED };
  }
  if (err?.message === 'Region is missing') return { lines: ['error: no AWS region: pass --region or set AWS_REGION'], code: EXIT_USAGE };
  if (e instanceof CompactorError || isSdkError(e)) return { lines: [`${err.name}: ${err.message}`], code: EXIT_FAILED };
  // Anything else is a bug: its stack helps.
  return { lines: [String(err?.stack ?? e)], code: EXIT_FAILED };
}
