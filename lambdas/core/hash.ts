import { createHash } from 'node:crypto';

/** Short, stable content id: the first 16 hex digits of a SHA-256 over the given lines. */
export function contentId(lines: readonly string[]): string {
  // One update per batch of lines: hashing a million short lines one call each costs seconds.
  const h = createHash('sha256');
  for (let i = 0; i < lines.length; i += 4096) h.update(`${lines.slice(i, i + 4096).join('\n')}\n`);
  return h.digest('hex').slice(0, 16);
}
