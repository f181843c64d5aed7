/**
 * What a run costs: S3 requests by kind, Lambda GB-seconds per step, Step Functions state
 * transitions, priced from a table (us-east-1 list prices unless overridden). The estimate of the
 * same figures from a plan is in run-estimate.
 */
import { ConfigurationError } from './errors';

/** S3 request kinds as S3 bills them. */
export const S3_REQUEST_KINDS = ['LIST', 'GET', 'PUT', 'COPY', 'DELETE', 'HEAD'] as const;
export type S3RequestKind = (typeof S3_REQUEST_KINDS)[number];
export type RequestCounts = Readonly<Record<S3RequestKind, number>>;

export const noRequests = (): Record<S3RequestKind, number> => ({ LIST: 0, GET: 0, PUT: 0, COPY: 0, DELETE: 0, HEAD: 0 });

export function addRequests(...all: ReadonlyArray<Partial<RequestCounts>>): RequestCounts {
  const sum = noRequests();
  for (const c of all) for (const k of S3_REQUEST_KINDS) sum[k] += c[k] ?? 0;
  return sum;
}

export const totalRequests = (c: RequestCounts) => S3_REQUEST_KINDS.reduce((n, k) => n + c[k], 0);

/** The steps of a run, one Lambda function each. */
export const STEPS = ['plan', 'compact', 'merge', 'swap', 'lifecycle', 'report'] as const;
export type StepName = (typeof STEPS)[number];

/** What one invocation of a step used, measured by its handler. */
export interface StepUsage {
  readonly step: StepName;
  readonly memoryMb: number;
  /** Handler time (Lambda bills per ms, from the start of the handler to its end). */
  readonly durationMs: number;
  readonly requests: RequestCounts;
}

/** Prices in USD. Defaults: us-east-1 list prices (S3 Standard, Lambda x86, Step Functions Standard). */
export interface PriceTable {
  readonly region: string;
  /** Per 1,000 requests. DeleteObjects is a POST: priced as PUT/COPY/POST/LIST (a single DeleteObject is free). */
  readonly s3PerThousandRequests: RequestCounts;
  readonly lambdaPerGbSecond: number;
  readonly lambdaPerMillionRequests: number;
  readonly stepFunctionsPerThousandTransitions: number;
  /** S3 Tables managed compaction, for comparison: per 1,000 objects and per GB processed. */
  readonly s3TablesPerThousandObjects: number;
  readonly s3TablesPerGb: number;
}

export const US_EAST_1_PRICES: PriceTable = {
  region: 'us-east-1',
  s3PerThousandRequests: { LIST: 0.005, GET: 0.0004, PUT: 0.005, COPY: 0.005, DELETE: 0.005, HEAD: 0.0004 },
  lambdaPerGbSecond: 0.0000166667,
  lambdaPerMillionRequests: 0.2,
  stepFunctionsPerThousandTransitions: 0.025,
  s3TablesPerThousandObjects: 0.002,
  s3TablesPerGb: 0.005,
};

/** The product's goal, all-in, per million tiny objects compacted. */
export const GOAL_PER_MILLION_OBJECTS_USD = 0.5;

/** The floor: one GET per object, which no compactor reading the objects can avoid. */
export const floorPerMillionObjects = (prices: PriceTable) => prices.s3PerThousandRequests.GET * 1000;

const GB = 1024 * 1024 * 1024;

/** Memory of each step's function (MB), to turn estimated seconds into GB-seconds. */
export type StepMemory = Readonly<Record<StepName, number>>;

export interface CostModel {
  readonly prices: PriceTable;
  readonly memoryMb: StepMemory;
}

export const DEFAULT_STEP_MEMORY: StepMemory = { plan: 1024, compact: 4096, merge: 3008, swap: 512, lifecycle: 512, report: 512 };
export const DEFAULT_COST_MODEL: CostModel = { prices: US_EAST_1_PRICES, memoryMb: DEFAULT_STEP_MEMORY };

/** Overrides of the price table, as the construct takes them (any subset). */
export type PriceOverrides = Partial<Omit<PriceTable, 's3PerThousandRequests'>> & { readonly s3PerThousandRequests?: Partial<RequestCounts> };

/** The price table with overrides applied; every price must be a finite number >= 0. */
export function pricesWith(overrides: PriceOverrides = {}, base: PriceTable = US_EAST_1_PRICES): PriceTable {
  const prices: PriceTable = { ...base, ...overrides, s3PerThousandRequests: { ...base.s3PerThousandRequests, ...overrides.s3PerThousandRequests } };
  const bad: string[] = [];
  for (const [k, v] of Object.entries(prices)) {
    if (k === 'region') continue;
    if (k === 's3PerThousandRequests') {
      for (const kind of Object.keys(v as object)) {
        if (!(S3_REQUEST_KINDS as readonly string[]).includes(kind)) bad.push(`s3PerThousandRequests.${kind} is not a request kind (${S3_REQUEST_KINDS.join(', ')})`);
      }
      for (const kind of S3_REQUEST_KINDS) if (!validPrice((v as RequestCounts)[kind])) bad.push(`s3PerThousandRequests.${kind} must be a number >= 0, got ${JSON.stringify((v as RequestCounts)[kind])}`);
    } else if (!validPrice(v)) bad.push(`${k} must be a number >= 0, got ${JSON.stringify(v)}`);
  }
  if (typeof prices.region !== 'string' || !prices.region) bad.push('region must name where the prices are from');
  const known = Object.keys(US_EAST_1_PRICES);
  for (const k of Object.keys(overrides)) if (!known.includes(k)) bad.push(`${k} is not a price (known: ${known.join(', ')})`);
  if (bad.length) throw new ConfigurationError(`price table: ${bad.join('; ')}`);
  return prices;
}

const validPrice = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The cost model as the construct passes it (environment variable COST_MODEL, JSON). */
export function parseCostModel(raw: string | undefined): CostModel {
  if (!raw) return DEFAULT_COST_MODEL;
  let o: { prices?: PriceOverrides; memoryMb?: Partial<StepMemory> };
  try {
    o = JSON.parse(raw) as typeof o;
  } catch (e) {
    throw new ConfigurationError(`cost model is not JSON: ${(e as Error).message}`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ConfigurationError(`cost model must be a JSON object, got ${JSON.stringify(o)}`);
  const memoryMb = { ...DEFAULT_STEP_MEMORY, ...o.memoryMb };
  for (const step of STEPS) {
    if (!(Number.isInteger(memoryMb[step]) && memoryMb[step] >= 128)) throw new ConfigurationError(`cost model: memoryMb.${step} must be an integer >= 128, got ${memoryMb[step]}`);
  }
  return { prices: pricesWith(o.prices), memoryMb };
}

export interface StepCost {
  readonly step: StepName;
  readonly invocations: number;
  readonly gbSeconds: number;
  readonly usd: number;
}

export interface RunCost {
  readonly requests: RequestCounts;
  readonly s3Usd: number;
  readonly lambda: readonly StepCost[];
  readonly lambdaUsd: number;
  readonly transitions: number;
  readonly stepFunctionsUsd: number;
  readonly totalUsd: number;
  /** Landing objects compacted, and the bytes read for them. */
  readonly objects: number;
  readonly bytes: number;
  /** undefined when nothing was compacted. */
  readonly perMillionObjectsUsd?: number;
  /** The same objects and bytes through S3 Tables managed compaction. */
  readonly s3Tables: { readonly usd: number; readonly perMillionObjectsUsd?: number };
}

/** Lambda bills memory x duration rounded up to the millisecond. */
export const gbSeconds = (u: Pick<StepUsage, 'memoryMb' | 'durationMs'>) => (u.memoryMb / 1024) * (Math.ceil(u.durationMs) / 1000);

export function costOf(usage: readonly StepUsage[], extraRequests: Partial<RequestCounts>, transitions: number, work: { objects: number; bytes: number }, prices: PriceTable): RunCost {
  const requests = addRequests(...usage.map((u) => u.requests), extraRequests);
  const s3Usd = S3_REQUEST_KINDS.reduce((n, k) => n + (requests[k] * prices.s3PerThousandRequests[k]) / 1000, 0);
  const lambda = STEPS.flatMap((step) => {
    const of = usage.filter((u) => u.step === step);
    if (!of.length) return [];
    const gbs = of.reduce((n, u) => n + gbSeconds(u), 0);
    return [{ step, invocations: of.length, gbSeconds: gbs, usd: gbs * prices.lambdaPerGbSecond + (of.length * prices.lambdaPerMillionRequests) / 1e6 }];
  });
  const lambdaUsd = lambda.reduce((n, l) => n + l.usd, 0);
  const stepFunctionsUsd = (transitions * prices.stepFunctionsPerThousandTransitions) / 1000;
  const totalUsd = s3Usd + lambdaUsd + stepFunctionsUsd;
  const perMillion = (usd: number) => (work.objects > 0 ? (usd / work.objects) * 1e6 : undefined);
  const s3TablesUsd = (work.objects * prices.s3TablesPerThousandObjects) / 1000 + (work.bytes / GB) * prices.s3TablesPerGb;
  return {
    requests,
    s3Usd,
    lambda,
    lambdaUsd,
    transitions,
    stepFunctionsUsd,
    totalUsd,
    objects: work.objects,
    bytes: work.bytes,
    ...(perMillion(totalUsd) !== undefined ? { perMillionObjectsUsd: perMillion(totalUsd) } : {}),
    s3Tables: { usd: s3TablesUsd, ...(perMillion(s3TablesUsd) !== undefined ? { perMillionObjectsUsd: perMillion(s3TablesUsd) } : {}) },
  };
}

/** What an execution went through, for counting its state transitions. */
export interface ExecutionPath {
  /** Plan returned (did not fail). */
  readonly planned: boolean;
  readonly skipped: boolean;
  /** Dry run or no bins: the NothingToCompact choice was taken. */
  readonly nothingToCompact: boolean;
  /** Items the Map ran (0 when it did not run). */
  readonly mapItems: number;
  readonly mapRan: boolean;
  /** Items the merge Map ran (0 when it did not run). */
  readonly mergeItems?: number;
  readonly mergeRan?: boolean;
  readonly swapRan: boolean;
  readonly lifecycleRan: boolean;
  /** The run ends in IncompletePartitions (a Pass and a Fail state). */
  readonly incomplete: boolean;
}

/**
 * State transitions of one execution: Step Functions bills each state entered (retries included),
 * and each Distributed Map item enters its Compact state once. Counted from the definition's
 * shape: Plan, AnythingToCompact, [NothingToCompact], [CompactBins, AnythingToMerge, [MergeFiles]],
 * [Swap], [Lifecycle], Report, RunOutcome and the final state. Retries are not counted (their number is not known here).
 */
export function transitionsOf(p: ExecutionPath): number {
  // AnythingToMerge is entered once the bins' Map returned: the swap or the merge Map follows it.
  const anythingToMerge = p.mapRan && (p.swapRan || !!p.mergeRan);
  const steps = [true, p.planned, p.nothingToCompact, p.mapRan, anythingToMerge, p.mergeRan, p.swapRan, p.lifecycleRan, true, true, true, p.incomplete];
  return steps.filter(Boolean).length + p.mapItems + (p.mergeItems ?? 0);
}

/** S3 requests Step Functions itself makes for the Distributed Map: the items GET, the result files and manifest PUTs. */
export const mapRequests = (resultFiles: number): Partial<RequestCounts> => ({ GET: 1, PUT: resultFiles + 1 });

/** lib-storage's part size in the S3 adapter: below it an upload is one PutObject. */
export const MULTIPART_PART_BYTES = 16 * 1024 * 1024;

/** PUT-class requests of one upload: one PutObject, or create + parts + complete. */
export const uploadPutRequests = (bytes: number) => (bytes < MULTIPART_PART_BYTES ? 1 : Math.ceil(bytes / MULTIPART_PART_BYTES) + 2);

/** Pages of a listing: S3 returns at most 1,000 keys per LIST request. */
export const listPages = (keys: number) => Math.max(1, Math.ceil(keys / 1000));
