import { createHash } from 'node:crypto';

/** Short, stable content id: the first 16 hex digits of a SHA-256 over the given lines. */
export function contentId(lines: readonly string[]): string {
  const h = createHash('sha256');
  for (const line of lines) h.update(line).update('\n');
  return h.digest('hex').slice(0, 16);
}
