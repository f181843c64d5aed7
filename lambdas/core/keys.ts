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

/** Gold location of one partition version: what the catalog points at once committed. */
export const versionPrefix = (goldPrefix: string, partition: string, version: string) =>
  `${goldPrefix}${partition}/v=${version}/`;

export const outputKey = (goldPrefix: string, partition: string, version: string, binId: string) =>
  `${versionPrefix(goldPrefix, partition, version)}part-${binId}.parquet`;

/** Where a carried file of the base version lands in the new version (same file name). */
export const carriedKey = (goldPrefix: string, partition: string, version: string, fromKey: string) =>
  `${versionPrefix(goldPrefix, partition, version)}${fromKey.slice(fromKey.lastIndexOf('/') + 1)}`;

/** One run report per execution (JSON and text); a redrive of the execution overwrites its own. */
export const reportPrefix = (table: string) => `${SYSTEM_PREFIX}${table}/reports/`;
const executionName = (executionId: string) => executionId.slice(executionId.lastIndexOf(':') + 1);
export const reportKey = (table: string, executionId: string) => `${reportPrefix(table)}${executionName(executionId)}/report.json`;
export const reportTextKey = (table: string, executionId: string) => `${reportPrefix(table)}${executionName(executionId)}/report.md`;
