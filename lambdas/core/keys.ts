/** Every object key the pipeline writes is derived here, from ids only, so retries overwrite. */
import { contentId } from './hash';

/** Objects the pipeline keeps for itself (plans, manifests, stats), outside any table location. */
export const SYSTEM_PREFIX = '_compactor/';

/** Plans of every run (bin specs, items lists): read during the run and by a redrive of it. */
export const plansPrefix = (table: string) => `${SYSTEM_PREFIX}${table}/plans/`;
/** Where the Distributed Map writes its per-item results (ResultWriter). */
export const mapResultsPrefix = (table: string) => `${SYSTEM_PREFIX}${table}/results/`;
/** Each step's IAM grants are scoped to prefixes of the table's system objects, such as these. */
export const manifestsPrefix = (table: string) => `${SYSTEM_PREFIX}${table}/manifests/`;

const runDir = (table: string, planId: string) => `${plansPrefix(table)}${planId}/`;

export const planKey = (table: string, planId: string) => `${runDir(table, planId)}plan.json`;
export const itemsKey = (table: string, planId: string) => `${runDir(table, planId)}items.json`;
export const binKey = (table: string, planId: string, binId: string) => `${runDir(table, planId)}bins/${binId}.json`;
/** JSON array of merge items: the second Distributed Map's ItemReader source. */
export const mergeItemsKey = (table: string, planId: string) => `${runDir(table, planId)}merges.json`;
export const mergeSpecKey = (table: string, planId: string, mergeId: string) => `${runDir(table, planId)}merges/${mergeId}.json`;

/**
 * Intermediate files of bins that a merge reads: outside any table location, so nothing half
 * merged is ever visible as table data; lifecycle deletes them after the grace, as it does superseded versions.
 */
export const stagePrefix = (table: string) => `${SYSTEM_PREFIX}${table}/stage/`;
export const stageOutputKey = (table: string, partition: string, version: string, binId: string) =>
  `${stagePrefix(table)}${partition}/v=${version}/part-${binId}.parquet`;
export const stageVersionPrefix = (table: string, partition: string, version: string) => `${stagePrefix(table)}${partition}/v=${version}/`;
export const locationOfStage = (bucket: string, table: string, partition: string, version: string) => `s3://${bucket}/${stageVersionPrefix(table, partition, version)}`;
/** The committed state of one partition: written only by compare-and-swap. */
export const stateKey = (table: string, partition: string) => `${SYSTEM_PREFIX}${table}/state/${partition}/state.json`;
export const statePrefix = (table: string) => `${SYSTEM_PREFIX}${table}/state/`;
/** The index of partitions with pending work: what swap and lifecycle read instead of every state. */
export const pendingPrefix = (table: string) => `${SYSTEM_PREFIX}${table}/pending/`;
/** One entry per partition, named by a hash of its path (short, fixed-length keys). */
export const pendingKey = (table: string, partition: string) => `${pendingPrefix(table)}${contentId([partition])}.json`;

/** One run per table: who holds it. */
export const leaseKey = (table: string) => `${SYSTEM_PREFIX}${table}/lease.json`;

export const outputRatiosKey = (table: string) => `${SYSTEM_PREFIX}${table}/output-ratios.json`;

/** The manifests of one version: kept where they are while the version is current or superseded. */
export const versionManifestsPrefix = (table: string, partition: string, version: string) => `${manifestsPrefix(table)}${partition}/v=${version}/`;

export const manifestKey = (table: string, partition: string, version: string, binId: string) =>
  `${versionManifestsPrefix(table, partition, version)}${binId}.json`;

/** The manifest of one merge, next to its version's bin manifests. */
export const mergeManifestKey = (table: string, partition: string, version: string, mergeId: string) =>
  `${versionManifestsPrefix(table, partition, version)}merge-${mergeId}.json`;

/**
 * Manifests of retired versions are moved here when their files are deleted: S3 lifecycle rules
 * filter by prefix only, so only a prefix of their own lets a bucket rule expire them (counted
 * from the move) while the manifests of current and superseded versions stay.
 */
export const retiredManifestsPrefix = (table: string) => `${SYSTEM_PREFIX}${table}/retired/manifests/`;

/** Where a manifest of a retired version is kept until the retention expires it. */
export const retiredManifestKey = (table: string, key: string) => `${retiredManifestsPrefix(table)}${key.slice(manifestsPrefix(table).length)}`;

/** Set-aside records of every table, outside any table location. */
export const QUARANTINE_PREFIX = 'quarantine/';
/** Records of a table's bins that could not be read, with reports. */
export const tableQuarantinePrefix = (table: string) => `${QUARANTINE_PREFIX}${table}/`;
export const quarantinePrefix = (table: string, partition: string, binId: string) => `${tableQuarantinePrefix(table)}${partition}/${binId}/`;

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

/** The `index`-th file a merge writes into its version. */
export const mergedOutputKey = (goldPrefix: string, partition: string, version: string, mergeId: string, index: number) =>
  `${versionPrefix(goldPrefix, partition, version)}part-${mergeId}-${index}.parquet`;

/** Where a carried file of the base version lands in the new version (same file name). */
export const carriedKey = (goldPrefix: string, partition: string, version: string, fromKey: string) =>
  `${versionPrefix(goldPrefix, partition, version)}${fromKey.slice(fromKey.lastIndexOf('/') + 1)}`;

/** One run report per execution (JSON and text); a redrive of the execution overwrites its own. */
export const reportPrefix = (table: string) => `${SYSTEM_PREFIX}${table}/reports/`;
const executionName = (executionId: string) => executionId.slice(executionId.lastIndexOf(':') + 1);
export const reportKey = (table: string, executionId: string) => `${reportPrefix(table)}${executionName(executionId)}/report.json`;
export const reportTextKey = (table: string, executionId: string) => `${reportPrefix(table)}${executionName(executionId)}/report.md`;
