/** Every object key the pipeline writes is derived here, from ids only, so retries overwrite. */

/** Objects the pipeline keeps for itself (plans, manifests, stats), outside any table location. */
export const SYSTEM_PREFIX = '_compactor/';

/** Each step's IAM grants are scoped to these prefixes of the table's system objects. */
export const plansPrefix = (table: string) => `${SYSTEM_PREFIX}${table}/plans/`;
export const manifestsPrefix = (table: string) => `${SYSTEM_PREFIX}${table}/manifests/`;

const runDir = (table: string, planId: string) => `${plansPrefix(table)}${planId}/`;

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
  `${manifestsPrefix(table)}${partition}/v=${version}/${binId}.json`;

/** Records of a table's bins that could not be read, with reports: outside any table location. */
export const quarantineTablePrefix = (table: string) => `quarantine/${table}/`;
export const quarantinePrefix = (table: string, partition: string, binId: string) => `${quarantineTablePrefix(table)}${partition}/${binId}/`;

/** Gold location of one partition version: what the catalog points at once committed. */
export const versionPrefix = (goldPrefix: string, partition: string, version: string) =>
  `${goldPrefix}${partition}/v=${version}/`;

export const outputKey = (goldPrefix: string, partition: string, version: string, binId: string) =>
  `${versionPrefix(goldPrefix, partition, version)}part-${binId}.parquet`;

/** Where a carried file of the base version lands in the new version (same file name). */
export const carriedKey = (goldPrefix: string, partition: string, version: string, fromKey: string) =>
  `${versionPrefix(goldPrefix, partition, version)}${fromKey.slice(fromKey.lastIndexOf('/') + 1)}`;
