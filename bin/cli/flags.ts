/**
 * Every flag of the CLI, once: its value, its help line and, for table settings, the environment
 * variable of the Lambdas it stands for (the CLI feeds the same settings parser the Lambdas use).
 */
import { ConfigurationError } from '../../lambdas/core/errors';
import { Env } from '../../lambdas/core/settings';
import { LAYOUT_KINDS } from '../../lambdas/core/partitions';

/** A command line that cannot be run as typed: the user must change it (exit 2). */
export class UsageError extends Error {
  constructor(message: string, readonly verb?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Flag {
  /** Takes no value. */
  readonly boolean?: true;
  /** Placeholder of its value in help. */
  readonly value?: string;
  /** The Lambda setting this flag gives (an `Env` name). */
  readonly env?: string;
  readonly help: string;
}

/** Settings every local verb takes: they describe the table, so a superset is harmless. */
export const TABLE_FLAGS = {
  endpoint: { value: 'URL', env: Env.S3Endpoint, help: 'S3-compatible endpoint (MinIO, Ceph, the loopback server), path-style; default AWS' },
  region: { value: 'REGION', help: 'AWS region of the buckets, Glue, Step Functions and the stack; default AWS_REGION or your profile\'s' },
  table: { value: 'T', env: Env.TableName, help: 'the table (its prefixes default to T/)' },
  'landing-bucket': { value: 'B', env: Env.LandingBucket, help: 'bucket the small files land in' },
  'gold-bucket': { value: 'G', env: Env.GoldBucket, help: 'bucket of the compacted table and the pipeline\'s own objects' },
  'landing-prefix': { value: 'P', env: Env.LandingPrefix, help: 'where the table\'s small files land; default T/' },
  'gold-prefix': { value: 'P', env: Env.GoldPrefix, help: 'the table location in the gold bucket; default T/' },
  'partition-keys': { value: 'K,K', env: Env.PartitionKeys, help: 'partition columns in key order; default dt,hour' },
  layout: { value: LAYOUT_KINDS.join('|'), env: Env.Layout, help: 'how producers lay out landing keys: k=v folders, or Firehose YYYY/MM/DD/HH/; default hive' },
  columns: {
    value: 'NAME:TYPE,...',
    env: Env.TableColumns,
    help: 'declared columns (Hive types: amount:decimal(10,2),ts:timestamp), written with a checked cast; or a JSON list [{"name","type"}]. A new local catalog starts with them',
  },
  'target-mb': { value: 'MB', env: Env.TargetFileMb, help: 'target Parquet file size, 64-1024; default 512' },
  'min-input-files': { value: 'N', env: Env.MinInputFiles, help: 'a partition is compacted once it has this many small files, 2 or more; default 5' },
  'max-bin-objects': { value: 'N', env: Env.MaxBinObjects, help: 'objects one bin holds at most, so it finishes inside the compact timeout (a partition of more bins is merged into target-size files); default 200000' },
  'max-bins-per-run': { value: 'N', env: Env.MaxBinsPerRun, help: 'bins one run compacts at most (the rest waits: run-cap); default 1000' },
  'quiet-period-minutes': { value: 'MIN', env: Env.QuietPeriodMinutes, help: 'a partition is compacted once its time window ended this long ago; default 60' },
  'grace-days': { value: 'DAYS', env: Env.GraceDays, help: 'days a retired object stays readable after the catalog stopped needing it; default 3' },
  compression: { value: 'snappy|zstd', env: Env.Compression, help: 'Parquet compression; default snappy' },
  'sort-by': { value: 'COL,COL', env: Env.SortBy, help: 'sort each file by these columns; default none' },
  'fetch-concurrency': { value: 'N', env: Env.FetchConcurrency, help: 'GETs in flight per bin, 1-256; default 32' },
  'engine-memory-mb': { value: 'MB', env: Env.EngineMemoryMb, help: 'DuckDB memory limit, 128-65536; default 1024' },
  'engine-threads': { value: 'N', env: Env.EngineThreads, help: 'DuckDB threads, 1-64; default 2' },
  'scratch-dir': { value: 'DIR', env: Env.ScratchDir, help: 'local working directory; each bin works in a directory of its own below it; default <tmp>/compactor' },
  'max-rejected-percent': { value: 'PCT', env: Env.MaxRejectedPercent, help: 'a bin fails when more of its records than this cannot be read, 0-100; default 1' },
  'max-decompressed-mb': { value: 'MB', env: Env.MaxDecompressedMb, help: 'cap on one object\'s decompressed size (gzip bombs); default 4096' },
  'coerce-to-string': { value: 'COL,COL|*', env: Env.CoerceToString, help: 'fields whose mixed kinds are written as strings (* for any); otherwise files that disagree go to quarantine' },
  'cost-model': { value: 'JSON', env: Env.CostModel, help: 'prices and function memory for the plan\'s estimate, {"prices": {...}, "memoryMb": {...}} (see lambdas/core/cost.ts); default us-east-1 list prices' },
  'catalog-file': { value: 'FILE', help: 'a local catalog file (the default: ./.compactor-catalog-T.json)' },
  'glue-database': { value: 'DB', env: Env.GlueDatabase, help: 'use the Glue table T of this database as the catalog instead of a local file' },
} as const satisfies Record<string, Flag>;

/** Flags of one or a few verbs. */
export const VERB_FLAGS = {
  partitions: { value: 'P,P', help: 'only partitions whose path starts with one of these, e.g. dt=2024-12-19' },
  'dry-run': { boolean: true, help: 'change nothing' },
  partition: { value: 'PATH', help: 'one partition, e.g. dt=2024-12-19/hour=14' },
  version: { value: 'V', help: 'the committed version to go back to (see partitions)' },
  stack: { value: 'NAME', help: 'the CloudFormation stack to find the table in by its outputs; default S3Compactor (what cdk deploy creates)' },
  'state-machine-arn': { value: 'ARN', help: 'the state machine itself, instead of the stack\'s outputs (then status and report need --table and --gold-bucket)' },
  'if-running': { value: 'fail|skip', help: 'when another run holds the table: fail (default) or end as skipped' },
  input: { value: 'JSON', help: 'the whole execution input as the console takes it, {"table": "T", ...}; instead of --partitions, --dry-run, --target-mb, --if-running' },
  name: { value: 'NAME', help: 'execution name (unique per state machine for 90 days; the same name and input again is the same execution); default cli-<time>-<random>' },
  wait: { boolean: true, help: 'wait for the execution to end, then print its report\'s headline; exit 1 unless it succeeded' },
  limit: { value: 'N', help: 'executions to list, 1-1000; default 10' },
  state: { value: 'STATE', help: 'only executions in this state: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE' },
  force: { boolean: true, help: 'redrive a FAILED execution even so (it continues from the Fail state it ended in, and fails again unless that state was not the workflow\'s own)' },
  json: { boolean: true, help: 'print the report as JSON (report.json) instead of text (report.md)' },
} as const satisfies Record<string, Flag>;

export const FLAGS: Readonly<Record<string, Flag>> = { ...TABLE_FLAGS, ...VERB_FLAGS };
export type FlagName = keyof typeof TABLE_FLAGS | keyof typeof VERB_FLAGS;

export const flagOf = (name: string) => `--${name}`;

/** `PARTITION_KEYS` -> `--partition-keys`: settings errors are reported in the terms the user typed. */
const FLAG_OF_ENV: ReadonlyMap<string, string> = new Map(
  Object.entries(FLAGS)
    .filter(([, f]) => f.env)
    .map(([name, f]) => [f.env!, flagOf(name)]),
);

/** The flag a Lambda setting is given by, if any. */
export const flagForEnv = (env: string) => FLAG_OF_ENV.get(env);

/** Rewrites a settings error naming environment variables into one naming the flags. */
export function inFlagTerms(message: string): string {
  let out = message.replace(/environment variable ([A-Z][A-Z0-9_]*)/g, (whole, env: string) => (FLAG_OF_ENV.has(env) ? `flag ${FLAG_OF_ENV.get(env)}` : whole));
  for (const [env, flag] of FLAG_OF_ENV) out = out.replace(new RegExp(`\\b${env}\\b`, 'g'), flag);
  return out.replace(/^cost model( is|:)/, 'flag --cost-model$1');
}

/** Runs the settings parser on flag values: what it refuses is a usage error, in flag terms. */
export function fromFlags<T>(parse: () => T, verb?: string): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ConfigurationError) throw new UsageError(inFlagTerms(e.message), verb);
    throw e;
  }
}

/** Splits `a:decimal(10,2),b:array<string>` at the commas outside brackets. */
function topLevelParts(raw: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '(' || c === '<') depth++;
    else if (c === ')' || c === '>') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(raw.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(raw.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

const isColumn = (c: unknown): c is { name: string; type: string } => {
  const o = c as { name?: unknown; type?: unknown } | null | undefined;
  return typeof o?.name === 'string' && typeof o?.type === 'string';
};

/** `--columns` as the Lambdas' `TABLE_COLUMNS` (a JSON list); a JSON list is passed as it is. */
export function columnsFlag(raw: string): { json: string; columns: Array<{ name: string; type: string }> } | { problem: string } {
  if (raw.trim().startsWith('[')) {
    try {
      const columns: unknown = JSON.parse(raw);
      if (!Array.isArray(columns) || !columns.every(isColumn)) return { problem: 'the JSON list must hold {"name": ..., "type": ...} objects' };
      return { json: raw, columns };
    } catch (e) {
      return { problem: `not valid JSON (${(e as Error).message})` };
    }
  }
  const columns: Array<{ name: string; type: string }> = [];
  for (const part of topLevelParts(raw)) {
    const colon = part.indexOf(':');
    const name = part.slice(0, colon).trim();
    const type = part.slice(colon + 1).trim();
    if (colon < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || !type) return { problem: `"${part}" is not NAME:TYPE (e.g. amount:decimal(10,2))` };
    columns.push({ name, type });
  }
  return { json: JSON.stringify(columns), columns };
}
