/**
 * How long a bin takes to compact, from measured costs, and the object bound that keeps every
 * bin well inside the compact function's timeout. Pure.
 *
 * Sources (this repository's benchmark on a 2-core machine under load, so conservative; both
 * measured against the loopback S3 server with `npm run bench -- --files 5000 --only-throughput`
 * and `node --import tsx bench/fetch-profile.ts 5000`):
 * - per object: the fetch costs 0.45-1.15 ms of CPU per object (lean GET, line pass, staging),
 *   and at 32 GETs in flight S3's ~20-30 ms first-byte latency allows ~1,000-1,500 objects/s;
 *   1.5 ms per object covers both, plus the object's share of manifest and quarantine work.
 * - per byte: the engine (read, two checksum passes, Parquet write) ran 5.8 MB of 116-byte JSON
 *   records in 2.2 s, 0.38 s per MB (row-bound: wider rows cost less per byte); the GETs' transfer
 *   (~90 MB/s per function) adds 0.011 s per MB. Rounded up: 0.4 s per MB.
 * - fixed: cold start, DuckDB start, spec and manifest I/O: 10 s.
 */
export const SECONDS_PER_OBJECT = 0.0015;
export const SECONDS_PER_MB = 0.4;
export const FIXED_SECONDS = 10;

/** The compact function's timeout (lib/compaction-functions.ts uses this constant). */
export const COMPACT_TIMEOUT_SECONDS = 900;
/** A bin's estimate stays within this share of the timeout: a slow S3 or a noisy host has 2x headroom. */
export const BUDGET_SHARE = 0.5;
export const BUDGET_SECONDS = COMPACT_TIMEOUT_SECONDS * BUDGET_SHARE;

/** Bytes of a typical tiny object (the sensor workload's ~250-byte files) for the default bound. */
const TYPICAL_SMALL_OBJECT_BYTES = 1024;

const MB = 1024 * 1024;

/** Estimated seconds to compact a bin of `objects` objects and `inputBytes` bytes. */
export function estimateBinSeconds(objects: number, inputBytes: number): number {
  return Math.ceil(FIXED_SECONDS + objects * SECONDS_PER_OBJECT + (inputBytes / MB) * SECONDS_PER_MB);
}

/**
 * Objects per bin such that a bin of objects up to 1 KB each stays within the budget:
 * (450 - 10) / (0.0015 + 0.4 / 1024) = 232,727, rounded down to 200,000.
 */
export const DEFAULT_MAX_BIN_OBJECTS = (() => {
  const perObject = SECONDS_PER_OBJECT + (TYPICAL_SMALL_OBJECT_BYTES / MB) * SECONDS_PER_MB;
  const n = (BUDGET_SECONDS - FIXED_SECONDS) / perObject;
  return Math.floor(n / 50_000) * 50_000;
})();

/** Above this, even empty objects would take a bin past the budget: the most any setting may allow. */
export const MAX_BIN_OBJECTS_LIMIT = Math.floor((BUDGET_SECONDS - FIXED_SECONDS) / SECONDS_PER_OBJECT / 1000) * 1000;
