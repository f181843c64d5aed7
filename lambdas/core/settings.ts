import { ConfigurationError, InvalidInputError } from './errors';
import type { RunRequest } from './contracts';
import { GRACE_DAYS, MB, TARGET_FILE_MB } from './units';
import { DEFAULT_MAX_BIN_OBJECTS, MAX_BIN_OBJECTS_LIMIT } from './bin-budget';
import { duckdbType } from './schema';
import { LAYOUT_KINDS, type LayoutKind } from './partitions';

/** Environment variable names, shared with the CDK construct that sets them. */
export const Env = {
  LandingBucket: 'LANDING_BUCKET',
  GoldBucket: 'GOLD_BUCKET',
  TableName: 'TABLE_NAME',
  LandingPrefix: 'LANDING_PREFIX',
  GoldPrefix: 'GOLD_PREFIX',
  PartitionKeys: 'PARTITION_KEYS',
  TargetFileMb: 'TARGET_FILE_MB',
  MinInputFiles: 'MIN_INPUT_FILES',
  MaxBinsPerRun: 'MAX_BINS_PER_RUN',
  MaxBinObjects: 'MAX_BIN_OBJECTS',
  Compression: 'PARQUET_COMPRESSION',
  SortBy: 'SORT_BY',
  FetchConcurrency: 'FETCH_CONCURRENCY',
  EngineMemoryMb: 'ENGINE_MEMORY_MB',
  EngineThreads: 'ENGINE_THREADS',
  ScratchDir: 'SCRATCH_DIR',
  S3Endpoint: 'S3_ENDPOINT',
  GlueDatabase: 'GLUE_DATABASE',
  GraceDays: 'GRACE_DAYS',
  QuietPeriodMinutes: 'QUIET_PERIOD_MINUTES',
  MaxRejectedPercent: 'MAX_REJECTED_PERCENT',
  MaxDecompressedMb: 'MAX_DECOMPRESSED_MB',
  Layout: 'LANDING_LAYOUT',
  CoerceToString: 'COERCE_TO_STRING',
  TableColumns: 'TABLE_COLUMNS',
  /** Price table and function memory for run estimates and reports (JSON, see core/cost.ts). */
  CostModel: 'COST_MODEL',
} as const;

export type Compression = 'snappy' | 'zstd';

/** One pipeline compacts one table. */
export interface TableSettings {
  readonly table: string;
  readonly landingBucket: string;
  /** Ends in `/` (or is empty). */
  readonly landingPrefix: string;
  readonly goldBucket: string;
  readonly goldPrefix: string;
  readonly partitionKeys: readonly string[];
  /** How producers lay out landing keys. */
  readonly layout: LayoutKind;
  readonly targetFileMb: number;
  readonly minInputFiles: number;
  readonly maxBinsPerRun: number;
  /** Objects one bin may hold, so that it finishes well inside the compact step's timeout (core/bin-budget). */
  readonly maxBinObjects: number;
  /** Days a retired object stays readable after the catalog stopped needing it. */
  readonly graceDays: number;
  /** A partition is compacted once its time window ended this many minutes ago. */
  readonly quietPeriodMinutes: number;
}

export interface EngineSettings {
  readonly compression: Compression;
  readonly sortBy: readonly string[];
  readonly fetchConcurrency: number;
  readonly memoryLimitMb: number;
  readonly threads: number;
  /** Target bytes of one Parquet row group (uncompressed, as DuckDB counts it). */
  readonly rowGroupBytes: number;
  readonly scratchDir: string;
  /** A bin fails when more than this percentage of its records cannot be read. */
  readonly maxRejectedPercent: number;
  /** Cap on one object's decompressed size (gzip bombs). */
  readonly maxDecompressedMb: number;
  /** Fields whose mixed kinds are written as strings (`*`: any); files that disagree otherwise go to quarantine. */
  readonly coerceToString: readonly string[];
  /** The table's declared columns as DuckDB types: written with a checked CAST (decimals stay decimals). */
  readonly declaredTypes: Readonly<Record<string, string>>;
}

export const DEFAULT_ENGINE_SETTINGS: EngineSettings = {
  compression: 'snappy',
  sortBy: [],
  fetchConcurrency: 32,
  memoryLimitMb: 1024,
  threads: 2,
  // DuckDB buffers row groups outside its memory limit: 64 MB row groups kept a 512 MB-output bin
  // at ~0.9 GB peak RSS where 128 MB reached ~1.6 GB (same speed), and suit Athena/Spark readers.
  rowGroupBytes: 64 * MB,
  scratchDir: '/tmp/compactor',
  maxRejectedPercent: 1,
  maxDecompressedMb: 4096,
  coerceToString: [],
  declaredTypes: {},
};

type Vars = Readonly<Record<string, string | undefined>>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function required(vars: Vars, name: string): string {
  const v = vars[name];
  if (!v) throw new ConfigurationError(`environment variable ${name} is required`);
  return v;
}

function integer(vars: Vars, name: string, fallback: number, min: number, max: number): number {
  const raw = vars[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigurationError(`environment variable ${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

export function asPrefix(p: string): string {
  return p === '' || p.endsWith('/') ? p : `${p}/`;
}

export function parseColumns(raw: string | undefined, what: string): string[] {
  const cols = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of cols) if (!IDENT.test(c)) throw new ConfigurationError(`${what}: "${c}" is not a plain column name`);
  return cols;
}

export function parseTableSettings(vars: Vars): TableSettings {
  const table = required(vars, Env.TableName);
  const partitionKeys = parseColumns(vars[Env.PartitionKeys] ?? 'dt,hour', Env.PartitionKeys);
  const layout = (vars[Env.Layout] || 'hive') as LayoutKind;
  if (!LAYOUT_KINDS.includes(layout)) throw new ConfigurationError(`environment variable ${Env.Layout} must be one of ${LAYOUT_KINDS.join(', ')}, got "${layout}"`);
  if (layout === 'firehose' && !['dt,hour', 'year,month,day,hour'].includes(partitionKeys.join())) {
    throw new ConfigurationError(`the firehose layout (YYYY/MM/DD/HH/) needs ${Env.PartitionKeys} dt,hour or year,month,day,hour, got ${partitionKeys.join(',')}`);
  }
  return {
    table,
    landingBucket: required(vars, Env.LandingBucket),
    landingPrefix: asPrefix(vars[Env.LandingPrefix] ?? `${table}/`),
    goldBucket: required(vars, Env.GoldBucket),
    goldPrefix: asPrefix(vars[Env.GoldPrefix] ?? `${table}/`),
    partitionKeys,
    layout,
    targetFileMb: integer(vars, Env.TargetFileMb, TARGET_FILE_MB.default, TARGET_FILE_MB.min, TARGET_FILE_MB.max),
    minInputFiles: integer(vars, Env.MinInputFiles, 5, 2, 1_000_000),
    maxBinsPerRun: integer(vars, Env.MaxBinsPerRun, 1000, 1, 100_000),
    maxBinObjects: integer(vars, Env.MaxBinObjects, DEFAULT_MAX_BIN_OBJECTS, 1, MAX_BIN_OBJECTS_LIMIT),
    graceDays: integer(vars, Env.GraceDays, GRACE_DAYS.default, GRACE_DAYS.min, GRACE_DAYS.max),
    quietPeriodMinutes: integer(vars, Env.QuietPeriodMinutes, 60, 0, 100_000),
  };
}

/** `TABLE_COLUMNS`: the table's columns as JSON `[{"name": ..., "type": <Hive type>}]`. */
function parseDeclaredTypes(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  let cols: Array<{ name: string; type: string }>;
  try {
    cols = JSON.parse(raw) as typeof cols;
    if (!Array.isArray(cols)) throw new Error('not a list');
  } catch (e) {
    throw new ConfigurationError(`environment variable ${Env.TableColumns} must be a JSON list of {"name", "type"}: ${(e as Error).message}`);
  }
  const out: Record<string, string> = {};
  for (const [i, c] of cols.entries()) {
    if (typeof c !== 'object' || c === null || typeof c.name !== 'string' || typeof c.type !== 'string') {
      throw new ConfigurationError(`environment variable ${Env.TableColumns} must be a JSON list of {"name", "type"}: item ${i} is ${JSON.stringify(c)}`);
    }
    const t = duckdbType(c.type);
    if (t) out[c.name] = t;
  }
  return out;
}

export function parseEngineSettings(vars: Vars): EngineSettings {
  const compression = (vars[Env.Compression] ?? DEFAULT_ENGINE_SETTINGS.compression).toLowerCase();
  if (compression !== 'snappy' && compression !== 'zstd') {
    throw new ConfigurationError(`environment variable ${Env.Compression} must be snappy or zstd, got "${compression}"`);
  }
  return {
    ...DEFAULT_ENGINE_SETTINGS,
    compression,
    sortBy: parseColumns(vars[Env.SortBy], Env.SortBy),
    fetchConcurrency: integer(vars, Env.FetchConcurrency, DEFAULT_ENGINE_SETTINGS.fetchConcurrency, 1, 256),
    memoryLimitMb: integer(vars, Env.EngineMemoryMb, DEFAULT_ENGINE_SETTINGS.memoryLimitMb, 128, 65536),
    threads: integer(vars, Env.EngineThreads, DEFAULT_ENGINE_SETTINGS.threads, 1, 64),
    scratchDir: vars[Env.ScratchDir] || DEFAULT_ENGINE_SETTINGS.scratchDir,
    maxRejectedPercent: integer(vars, Env.MaxRejectedPercent, DEFAULT_ENGINE_SETTINGS.maxRejectedPercent, 0, 100),
    maxDecompressedMb: integer(vars, Env.MaxDecompressedMb, DEFAULT_ENGINE_SETTINGS.maxDecompressedMb, 1, 1_000_000),
    coerceToString: vars[Env.CoerceToString]?.trim() === '*' ? ['*'] : parseColumns(vars[Env.CoerceToString], Env.CoerceToString),
    declaredTypes: parseDeclaredTypes(vars[Env.TableColumns]),
  };
}

/**
 * Validates an execution input as a person may type it into the console: every problem
 * is named with its field, so a typo fails the run at once instead of compacting the wrong thing.
 */
export function parseRunRequest(input: unknown, settings: Pick<TableSettings, 'table' | 'partitionKeys'>): RunRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidInputError(`run input must be a JSON object like {"table": "${settings.table}"}, got ${JSON.stringify(input)}`);
  }
  const o = input as Record<string, unknown>;
  const allowed = ['table', 'partitions', 'dryRun', 'targetFileMb', 'ifRunning'];
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new InvalidInputError(`run input has unknown field(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`);
  if (o.table !== settings.table) {
    throw new InvalidInputError(`run input field "table" must be "${settings.table}" (this pipeline's table), got ${JSON.stringify(o.table)}`);
  }
  if (o.dryRun !== undefined && typeof o.dryRun !== 'boolean') {
    throw new InvalidInputError(`run input field "dryRun" must be true or false, got ${JSON.stringify(o.dryRun)}`);
  }
  if (o.targetFileMb !== undefined && !(Number.isInteger(o.targetFileMb) && (o.targetFileMb as number) >= TARGET_FILE_MB.min && (o.targetFileMb as number) <= TARGET_FILE_MB.max)) {
    throw new InvalidInputError(`run input field "targetFileMb" must be an integer from ${TARGET_FILE_MB.min} to ${TARGET_FILE_MB.max}, got ${JSON.stringify(o.targetFileMb)}`);
  }
  if (o.ifRunning !== undefined && o.ifRunning !== 'fail' && o.ifRunning !== 'skip') {
    throw new InvalidInputError(`run input field "ifRunning" must be "fail" or "skip" (what to do when another run holds the table), got ${JSON.stringify(o.ifRunning)}`);
  }
  let partitions: string[] | undefined;
  if (o.partitions !== undefined) {
    if (!Array.isArray(o.partitions) || o.partitions.some((p) => typeof p !== 'string' || p === '')) {
      throw new InvalidInputError(`run input field "partitions" must be a list of partition path prefixes like ["${settings.partitionKeys[0]}=2024-12-19"], got ${JSON.stringify(o.partitions)}`);
    }
    partitions = o.partitions as string[];
    for (const p of partitions) {
      const key = p.split('=')[0];
      if (!settings.partitionKeys.includes(key) || !p.includes('=')) {
        throw new InvalidInputError(`run input field "partitions": "${p}" does not start with a partition key of ${settings.partitionKeys.join(', ')} (k=v)`);
      }
    }
  }
  return {
    table: settings.table,
    ...(partitions ? { partitions } : {}),
    ...(o.dryRun !== undefined ? { dryRun: o.dryRun } : {}),
    ...(o.targetFileMb !== undefined ? { targetFileMb: o.targetFileMb as number } : {}),
    ...(o.ifRunning !== undefined ? { ifRunning: o.ifRunning } : {}),
  };
}
