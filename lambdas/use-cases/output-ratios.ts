import type { BinManifest } from '../core/contracts';
import { ConcurrentCommitError } from '../core/errors';
import { outputRatiosKey } from '../core/keys';
import { binObservations, effectiveRatios, mergeOutputRatios, parseOutputRatios, type MeasuredRatios } from '../core/output-ratios';
import type { ObjectStore } from '../core/ports';
import type { TableSettings } from '../core/settings';

type Where = Pick<TableSettings, 'goldBucket' | 'table'>;

const location = (s: Where) => `s3://${s.goldBucket}/${outputRatiosKey(s.table)}`;

/** The stored ratios and their ETag; a file that is not valid ratios reads as none, with the reason. */
async function readStored(store: ObjectStore, s: Where): Promise<{ measured: MeasuredRatios; etag?: string; warning?: string }> {
  const key = outputRatiosKey(s.table);
  let stored: { value: unknown; etag: string } | undefined;
  try {
    stored = await store.getJsonVersioned<unknown>(s.goldBucket, key);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    const etag = (await store.head(s.goldBucket, key))?.etag;
    return { measured: {}, ...(etag ? { etag } : {}), warning: `output ratios ${location(s)} ignored (not JSON: ${e.message}); the default ratios are used` };
  }
  if (!stored) return { measured: {} };
  const parsed = parseOutputRatios(stored.value);
  if ('error' in parsed) return { measured: {}, etag: stored.etag, warning: `output ratios ${location(s)} ignored (${parsed.error}); the default ratios are used` };
  return { measured: parsed.ratios, etag: stored.etag };
}

/** The ratios earlier runs measured, for the planner; an unreadable file is ignored, never fatal. */
export async function readOutputRatios(store: ObjectStore, s: Where): Promise<{ measured: MeasuredRatios; warning?: string }> {
  const { measured, warning } = await readStored(store, s);
  return { measured, ...(warning ? { warning } : {}) };
}

/**
 * Folds what the committed bins measured into the stored ratios, with a conditional write: of two
 * runs recording at once, the one that lost leaves its measurement out (an estimate, not data).
 */
export async function recordOutputRatios(store: ObjectStore, s: Where, manifests: ReadonlyArray<Pick<BinManifest, 'inputs' | 'output'>>): Promise<{ recorded?: MeasuredRatios; warnings: string[] }> {
  const before = await readStored(store, s);
  const warnings = before.warning ? [before.warning.replace('the default ratios are used', 'replaced by this run\'s measurement')] : [];
  const ratios = effectiveRatios(before.measured);
  const observations = manifests.flatMap((m) => binObservations(m, ratios));
  if (!observations.length) return { warnings };
  const recorded = mergeOutputRatios(before.measured, observations);
  try {
    await store.putJsonIf(s.goldBucket, outputRatiosKey(s.table), recorded, before.etag);
  } catch (e) {
    if (!(e instanceof ConcurrentCommitError)) throw e;
    return { warnings: [...warnings, `output ratios ${location(s)} changed while this run recorded its own; its measurement is left out`] };
  }
  return { recorded, warnings };
}
