import type { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { MAX_BIN_OBJECTS_LIMIT } from '../lambdas/core/bin-budget';
import { pricesWith } from '../lambdas/core/cost';
import { QUARANTINE_PREFIX, SYSTEM_PREFIX } from '../lambdas/core/keys';
import { partitionProjectionEnabled, partitionProjectionProblem } from '../lambdas/core/projection';
import { GRACE_DAYS, TARGET_FILE_MB } from '../lambdas/core/units';
import { DEFAULT_PARTITION_KEYS, type CompactionPipelineProps } from './compaction-pipeline-props';
import { encryptionProblems } from './compaction-storage';
import { LEGACY_TIERING_DAYS, retentionProblems, tieringProblems } from './table-lifecycle-rules';

const IDENT = /^[a-z_][a-z0-9_]*$/;

/** Every invalid prop, each saying how to fix it. */
export function pipelinePropsProblems(props: CompactionPipelineProps): string[] {
  const problems: string[] = [];
  const int = (name: string, v: number | undefined, min: number, max: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) problems.push(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  };
  const prefix = (name: string, v: string | undefined) => {
    if (v === undefined) return;
    if (v === '' || !v.endsWith('/') || v.startsWith('/')) problems.push(`${name} must be a non-empty key prefix ending with "/" and not starting with "/", e.g. "${props.tableName}/"; got "${v}"`);
    else if (v.startsWith(SYSTEM_PREFIX)) problems.push(`${name} must not start with "${SYSTEM_PREFIX}" (reserved for the pipeline's own objects); got "${v}"`);
    else if (name === 'goldPrefix' && v.startsWith(QUARANTINE_PREFIX)) problems.push(`goldPrefix must not start with "${QUARANTINE_PREFIX}" (reserved for set-aside records, which expire); got "${v}"`);
  };

  if (!IDENT.test(props.tableName ?? '')) {
    problems.push(`tableName must be lowercase letters, digits and "_" (Glue lowercases names; it is also an S3 prefix), got "${props.tableName}"`);
  }
  if (props.databaseName !== undefined && !IDENT.test(props.databaseName)) {
    problems.push(`databaseName must be lowercase letters, digits and "_", got "${props.databaseName}"`);
  }
  prefix('landingPrefix', props.landingPrefix);
  prefix('goldPrefix', props.goldPrefix);
  const landingBucket = props.lake?.landingBucket ?? props.landingBucket;
  if (landingBucket && landingBucket === (props.lake?.goldBucket ?? props.goldBucket)) {
    const l = props.landingPrefix ?? `${props.tableName}/`;
    const g = props.goldPrefix ?? `${props.tableName}/`;
    if (l.startsWith(g) || g.startsWith(l)) problems.push(`landing and gold share one bucket, so landingPrefix "${l}" and goldPrefix "${g}" must not contain each other`);
  }

  const keys = props.partitionKeys ?? DEFAULT_PARTITION_KEYS;
  if (!keys.length) problems.push('partitionKeys must name at least one key (the landing layout is key=value/...)');
  const columns = props.columns ?? [];
  if ((props.createTable ?? true) && !columns.length) {
    problems.push('columns are required when the construct creates the Glue table; pass columns, or createTable: false for an existing table');
  }
  const seen = new Set<string>();
  for (const [what, list] of [['partitionKeys', keys], ['columns', columns]] as const) {
    for (const c of list) {
      if (!IDENT.test(c.name)) problems.push(`${what}: "${c.name}" must be lowercase letters, digits and "_"`);
      if (!c.type?.trim()) problems.push(`${what}: "${c.name}" needs a Hive type such as string, bigint, double, timestamp`);
      if (seen.has(c.name)) problems.push(`${what}: "${c.name}" is defined twice (partition keys are not data columns)`);
      seen.add(c.name);
    }
  }
  for (const s of props.sortBy ?? []) {
    if (!columns.some((c) => c.name === s) && columns.length) problems.push(`sortBy: "${s}" is not one of the columns ${columns.map((c) => c.name).join(', ')}`);
    else if (!IDENT.test(s)) problems.push(`sortBy: "${s}" must be a plain column name`);
  }

  int('targetFileMb', props.targetFileMb, TARGET_FILE_MB.min, TARGET_FILE_MB.max);
  int('maxBinObjects', props.maxBinObjects, 1, MAX_BIN_OBJECTS_LIMIT);
  if (props.compression !== undefined && props.compression !== 'snappy' && props.compression !== 'zstd') {
    problems.push(`compression must be "snappy" or "zstd", got "${String(props.compression)}"`);
  }
  int('maxConcurrency', props.maxConcurrency, 1, 1000);
  int('toleratedFailurePercentage', props.toleratedFailurePercentage, 0, 100);
  int('graceDays', props.graceDays, GRACE_DAYS.min, GRACE_DAYS.max);
  int('quietPeriodMinutes', props.quietPeriodMinutes, 0, 100_000);
  int('compactMemoryMb', props.compactMemoryMb, 1024, 10240);
  const wholeHours = (name: string, d: Duration | undefined, max: number) => {
    if (d === undefined) return;
    const h = d.toHours({ integral: false });
    if (!(Number.isInteger(h) && h >= 1 && h <= max)) problems.push(`${name} must be whole hours from 1 to ${max}, got ${d.toHumanString()}`);
  };
  wholeHours('backlogAgeAlarm', props.backlogAgeAlarm, 24 * 365);
  wholeHours('noRunAlarm', props.noRunAlarm, 168);
  wholeHours('runTimeout', props.runTimeout, 24 * 365);
  try {
    pricesWith(props.prices);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (props.runtime && props.runtime.family !== lambda.RuntimeFamily.NODEJS) {
    problems.push(`runtime must be a Node.js runtime (the handlers are TypeScript bundled by esbuild), got ${props.runtime.name}`);
  }

  if (props.tiering !== undefined && props.tieringDays !== undefined) {
    problems.push('tiering and tieringDays are both set: keep tiering (tieringDays is deprecated)');
  } else if (props.tieringDays !== undefined) {
    problems.push(...tieringProblems('tieringDays', { ...LEGACY_TIERING_DAYS, ...props.tieringDays }));
  } else if (props.tiering) {
    problems.push(...tieringProblems('tiering', props.tiering));
  }
  if (props.systemRetentionDays) problems.push(...retentionProblems('systemRetentionDays', props.systemRetentionDays));

  if (props.lake) {
    for (const name of ['landingBucket', 'goldBucket', 'databaseName', 'createDatabase', 'encryption', 'encryptionKey'] as const) {
      if (props[name] !== undefined) problems.push(`${name} is the lake's when a lake is given: set it on the CompactionLake ${props.lake.node.path}, not on the pipeline`);
    }
  } else {
    problems.push(...encryptionProblems(props));
  }
  if (props.existingTableParameters !== undefined) {
    if (props.createTable ?? true) problems.push('existingTableParameters describes a table that already exists: it needs createTable: false');
    if (partitionProjectionEnabled(props.existingTableParameters)) problems.push(`existingTableParameters: ${partitionProjectionProblem('the existing table')}`);
  }
  return problems;
}
