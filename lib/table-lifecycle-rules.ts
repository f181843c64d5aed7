import { Duration } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { mapResultsPrefix, plansPrefix, retiredManifestsPrefix, reportPrefix, tableQuarantinePrefix } from '../lambdas/core/keys';

/**
 * Days after creation at which compacted table data moves to another storage class. Only the
 * classes named are used, in this order: STANDARD_IA or INTELLIGENT_TIERING, then GLACIER_IR,
 * then DEEP_ARCHIVE.
 */
export interface TableTiering {
  /**
   * Days until STANDARD_IA (S3 requires at least 30). Read directly by every engine; each GB read
   * costs a retrieval fee.
   * @default no transition
   */
  readonly infrequentAccess?: number;
  /**
   * Days until INTELLIGENT_TIERING (0: at once). S3 moves each object between access tiers by its
   * own reads, without retrieval fees; every tier it uses is read directly by every engine.
   * @default no transition
   */
  readonly intelligentTiering?: number;
  /**
   * Days until GLACIER_IR: still read directly (milliseconds), at a higher retrieval fee and a
   * 90-day minimum storage charge. Opt-in.
   * @default no transition
   */
  readonly glacierInstantRetrieval?: number;
  /**
   * Days until DEEP_ARCHIVE. Objects there must be restored (hours) before Athena or Spark can
   * read them: queries on those partitions fail until then. Opt-in.
   * @default no transition
   */
  readonly deepArchive?: number;
}

/** Queryable by every engine: STANDARD_IA after 30 days, nothing colder. */
export const DEFAULT_TABLE_TIERING: TableTiering = { infrequentAccess: 30 };

/**
 * The deprecated `tieringDays` prop: each field defaults to its value here.
 * @deprecated use {@link TableTiering} (only the classes named are used)
 */
export interface TieringDays {
  /** @default 30 */
  readonly infrequentAccess?: number;
  /** @default 90 */
  readonly glacierInstantRetrieval?: number;
  /** @default 365 */
  readonly deepArchive?: number;
}

/** What `tieringDays` fields default to (the tiering of earlier versions, DEEP_ARCHIVE included). */
export const LEGACY_TIERING_DAYS: Required<TieringDays> = {
  infrequentAccess: 30,
  glacierInstantRetrieval: 90,
  deepArchive: 365,
};

/**
 * Days the pipeline's own objects of one table are kept, counted from their creation (a retired
 * manifest: from its version's retirement). Partition state, the run lease, output ratios and the
 * manifests of current and superseded versions never expire.
 */
export interface SystemRetentionDays {
  /**
   * Plans (bin specs, items lists) under `_compactor/<table>/plans/`. At least 14: Step Functions
   * redrives a failed execution for up to 14 days, and the redriven run reads its plan.
   * @default 30
   */
  readonly plans?: number;
  /**
   * The Distributed Map's result files under `_compactor/<table>/results/`.
   * @default 30
   */
  readonly mapResults?: number;
  /**
   * Manifests of retired versions (their files deleted) under `_compactor/<table>/retired/`.
   * @default 90
   */
  readonly retiredManifests?: number;
  /**
   * Run reports under `_compactor/<table>/reports/`.
   * @default 90
   */
  readonly runReports?: number;
  /**
   * Set-aside records under `quarantine/<table>/`: the only copy of records the table lacks, so
   * they are kept longest.
   * @default 365
   */
  readonly quarantine?: number;
}

export const DEFAULT_SYSTEM_RETENTION_DAYS: Required<SystemRetentionDays> = {
  plans: 30,
  mapResults: 30,
  retiredManifests: 90,
  runReports: 90,
  quarantine: 365,
};

/** S3 order of the storage classes a table may move through (a lifecycle rule only goes down). */
const TIERS = [
  ['infrequentAccess', s3.StorageClass.INFREQUENT_ACCESS],
  ['intelligentTiering', s3.StorageClass.INTELLIGENT_TIERING],
  ['glacierInstantRetrieval', s3.StorageClass.GLACIER_INSTANT_RETRIEVAL],
  ['deepArchive', s3.StorageClass.DEEP_ARCHIVE],
] as const;

const MAX_DAYS = 36500;
const isDays = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min && (v as number) <= MAX_DAYS;

/** Problems of a tiering (`what` names the prop in messages), each saying how to fix it. */
export function tieringProblems(what: string, t: TableTiering): string[] {
  const problems: string[] = [];
  const known = new Set<string>(TIERS.map(([name]) => name));
  for (const name of Object.keys(t)) if (!known.has(name)) problems.push(`${what}.${name} is not a storage class of the table data; use ${[...known].join(', ')}`);
  let previous: { name: string; days: number } | undefined;
  for (const [name] of TIERS) {
    const days = t[name];
    if (days === undefined) continue;
    const min = name === 'infrequentAccess' ? 30 : 0;
    if (!isDays(days, min)) {
      problems.push(`${what}.${name} must be an integer from ${min} to ${MAX_DAYS}, got ${days}${name === 'infrequentAccess' ? ' (S3 moves objects to STANDARD_IA after 30 days at the earliest)' : ''}`);
      continue;
    }
    if (previous?.name === 'infrequentAccess' && days < previous.days + 30) {
      problems.push(`${what}.${name} (${days}) must be at least 30 days after infrequentAccess (${previous.days}): S3 keeps objects 30 days in STANDARD_IA`);
    } else if (previous && days <= previous.days) {
      problems.push(`${what}.${name} (${days}) must be later than ${previous.name} (${previous.days})`);
    }
    previous = { name, days };
  }
  return problems;
}

export function retentionProblems(what: string, r: SystemRetentionDays): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(r)) {
    if (!(name in DEFAULT_SYSTEM_RETENTION_DAYS)) problems.push(`${what}.${name} is not a kind of the pipeline's own objects; use ${Object.keys(DEFAULT_SYSTEM_RETENTION_DAYS).join(', ')}`);
  }
  for (const [name, days] of Object.entries({ ...DEFAULT_SYSTEM_RETENTION_DAYS, ...r })) {
    const min = name === 'plans' ? 14 : 1;
    if (!isDays(days, min)) {
      problems.push(`${what}.${name} must be an integer from ${min} to ${MAX_DAYS}, got ${days}${name === 'plans' ? ' (a failed execution can be redriven for 14 days, and it reads its plan)' : ''}`);
    }
  }
  return problems;
}

export interface TableRulesProps {
  readonly tableName: string;
  /** Prefix of the table's data in the gold bucket (ends with `/`): the tiering rule's scope. */
  readonly goldPrefix: string;
  /** `false`: no tiering rule. */
  readonly tiering: TableTiering | false;
  /** `false`: no expiry rules. */
  readonly retention: SystemRetentionDays | false;
}

/**
 * The gold bucket's lifecycle rules for one table: its data's tiering and the expiry of the
 * pipeline's own objects, each scoped to one prefix of this table (rule ids carry the table name,
 * so several tables share one bucket).
 */
export function tableLifecycleRules(props: TableRulesProps): s3.LifecycleRule[] {
  const t = props.tableName;
  const rules: s3.LifecycleRule[] = [];
  if (props.tiering) {
    const tiering = props.tiering;
    const transitions = TIERS.flatMap(([name, storageClass]) =>
      tiering[name] === undefined ? [] : [{ storageClass, transitionAfter: Duration.days(tiering[name]) }],
    );
    if (transitions.length) rules.push({ id: `TierTableData-${t}`, prefix: props.goldPrefix, transitions });
  }
  if (props.retention) {
    const days = { ...DEFAULT_SYSTEM_RETENTION_DAYS, ...props.retention };
    const expire = (id: string, prefix: string, n: number): s3.LifecycleRule => ({ id: `${id}-${t}`, prefix, expiration: Duration.days(n) });
    rules.push(
      expire('ExpirePlans', plansPrefix(t), days.plans),
      expire('ExpireMapResults', mapResultsPrefix(t), days.mapResults),
      expire('ExpireRetiredManifests', retiredManifestsPrefix(t), days.retiredManifests),
      expire('ExpireRunReports', reportPrefix(t), days.runReports),
      expire('ExpireQuarantine', tableQuarantinePrefix(t), days.quarantine),
    );
  }
  return rules;
}
