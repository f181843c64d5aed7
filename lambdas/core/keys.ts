/** Every object key the pipeline writes is derived here, from ids only, so retries overwrite. */

/** Objects the pipeline keeps for itself (plans, manifests, stats), outside any table location. */
export const SYSTEM_PREFIX = '_compactor/';

const runDir = (table: string, planId: string) => `${SYSTEM_PREFIX}${table}/plans/${planId}/`;

export const planKey = (table: string, planId: string) => `${runDir(table, planId)}plan.json`;
export const itemsKey = (table: string, planId: string) => `${runDir(table, planId)}items.json`;
export const binKey = (table: string, planId: string, binId: string) => `${runDir(table, planId)}bins/${binId}.json`;
/** The committed state of one partition: written only by compare-and-swap. */
export const stateKey = (table: string, partition: string) => `${SYSTEM_PREFIX}${table}/state/${partition}/state.json`;
export const statePrefix = (table: string) => `${SYSTEM_PREFIX}${table}/state/`;

/** One run per table: who holds it. */
export const leaseKey = (table: string) => `${SYSTEM_PREFIX}${table}/lease.json`;

export const outputRatiosKey = (table: string) => `${SYSTEM_PREFIX}${table}/output-ratios.json`;

export const manifestKey = (table: string, partition: string, version: string, binId: string) =>
  `${SYSTEM_PREFIX}${table}/manifests/${partition}/v=${version}/${binId}.json`;

/** Records of a bin that could not be read, with a report: outside any table location. */
export const quarantinePrefix = (table: string, partition: string, binId: string) => `quarantine/${table}/${partition}/${binId}/`;

/** S3 keys hold at most this many bytes (UTF-8). */
export const MAX_KEY_BYTES = 1024;

/** The last `max` bytes of `s` that still start on a code point. */
function tailBytes(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  let from = b.length - max;
  while (from < b.length && (b[from] & 0xc0) === 0x80) from++;
  return b.subarray(from).toString('utf8');
}

/** Where the `index`-th object copied whole into a bin's quarantine goes: its name's last 200 bytes keep it recognisable. */
export const quarantineObjectKey = (prefix: string, index: number, sourceKey: string) =>
  `${prefix}objects/${index}-${tailBytes(sourceKey.slice(sourceKey.lastIndexOf('/') + 1), 200)}`;

/** Files of a bin's quarantine besides the copied objects. */
export const QUARANTINE_FILES = ['records.jsonl', 'report.json'] as const;

/** Gold location of one partition version: what the catalog points at once committed. */
export const versionPrefix = (goldPrefix: string, partition: string, version: string) =>
  `${goldPrefix}${partition}/v=${version}/`;

export const outputKey = (goldPrefix: string, partition: string, version: string, binId: string) =>
  `${versionPrefix(goldPrefix, partition, version)}part-${binId}.parquet`;

/** Where a carried file of the base version lands in the new version (same file name). */
export const carriedKey = (goldPrefix: string, partition: string, version: string, fromKey: string) =>
  `${versionPrefix(goldPrefix, partition, version)}${fromKey.slice(fromKey.lastIndexOf('/') + 1)}`;
