/**
 * The estimate of a run's cost from its plan, before anything runs: each step's requests as the
 * steps make them, and their duration from a simple model.
 */
import {
  addRequests,
  costOf,
  DEFAULT_COST_MODEL,
  listPages,
  mapRequests,
  totalRequests,
  transitionsOf,
  uploadPutRequests,
  type CostModel,
  type RequestCounts,
  type RunCost,
  type StepName,
  type StepUsage,
} from './cost';

/**
 * What a plan tells about the run it starts: enough to predict each step's requests, as the steps
 * make them (see compact-bin, swap, lifecycle, run-report).
 */
export interface RunShape {
  /** LIST requests the plan made (landing listing and the pending index). */
  readonly planListRequests: number;
  /** Partition states the plan read. */
  readonly statesRead: number;
  /** Lease write (0 when the run re-entered its own lease). */
  readonly leaseWrites: number;
  /** Indexed partitions (pending work) once this run committed: what swap and lifecycle read, never every state. */
  readonly pendingAfter: number;
  readonly bins: ReadonlyArray<{ readonly files: number; readonly inputBytes: number; readonly estimatedOutputBytes: number }>;
  readonly partitions: ReadonlyArray<{ readonly bins: number; readonly carried: number }>;
  /** Merges of intermediate files: the bins each reads and their estimated bytes. */
  readonly merges?: ReadonlyArray<{ readonly bins: number; readonly estimatedInputBytes: number }>;
}

/**
 * Seconds of work assumed per unit on AWS (Lambda in the buckets' region). Deliberately simple:
 * every run's report shows the measured figures next to the estimate.
 */
export const DURATION_MODEL = {
  /** Per invocation: client setup and the first round trips. */
  invocationSeconds: 0.3,
  /** Small-object GETs one compact invocation completes per second (32 in flight, ~30 ms each). */
  getsPerSecond: 1000,
  /** Engine, read-back and upload of the output. */
  outputBytesPerSecond: 50 * 1024 * 1024,
  /** Other steps' requests per second (small JSON objects, up to 16 in flight). */
  requestsPerSecond: 100,
} as const;

export interface RunEstimate {
  readonly usage: readonly StepUsage[];
  readonly extraRequests: Partial<RequestCounts>;
  readonly transitions: number;
  readonly cost: RunCost;
}

/** The cost of compacting a plan, before anything runs. */
export function estimateRun(shape: RunShape, newObjects: number, model: CostModel = DEFAULT_COST_MODEL): RunEstimate {
  const m = DURATION_MODEL;
  const sumBins = shape.bins.length;
  const carried = shape.partitions.reduce((n, p) => n + p.carried, 0);
  const partitions = shape.partitions.length;
  const indexPages = listPages(shape.pendingAfter);
  const othersPending = Math.max(0, shape.pendingAfter - partitions);
  const merges = shape.merges ?? [];
  const step = (name: StepName, requests: Partial<RequestCounts>, seconds?: number): StepUsage => {
    const r = addRequests(requests);
    const s = seconds ?? m.invocationSeconds + totalRequests(r) / m.requestsPerSecond;
    return { step: name, memoryMb: model.memoryMb[name], durationMs: Math.ceil(s * 1000), requests: r };
  };
  const usage: StepUsage[] = [
    // lease GET, partition states, output ratios; lease PUT, one spec per bin and merge, the plan and its items lists
    step('plan', { LIST: shape.planListRequests, GET: 1 + shape.statesRead + 1, PUT: shape.leaseWrites + sumBins + 2 + (merges.length ? merges.length + 1 : 0) }),
    // spec, an earlier manifest and the partition state (before the work and again before the
    // create-only upload), every input; the output and its manifest (swap checks the output)
    ...shape.bins.map((b) =>
      step(
        'compact',
        { GET: 5 + b.files, PUT: uploadPutRequests(b.estimatedOutputBytes) + 1 },
        m.invocationSeconds + b.files / m.getsPerSecond + b.estimatedOutputBytes / m.outputBytesPerSecond,
      ),
    ),
    // spec, its manifest, the state (twice), each bin's manifest and file; its files (about one per
    // target size) and its manifest, each file's size read back
    ...merges.map((g) =>
      step(
        'merge',
        { GET: 4 + 2 * g.bins, PUT: uploadPutRequests(g.estimatedInputBytes) + 1, HEAD: 1 },
        m.invocationSeconds + g.bins / m.requestsPerSecond + (2 * g.estimatedInputBytes) / m.outputBytesPerSecond,
      ),
    ),
    // plan, each manifest once, each state; outputs and carried files checked; the index entry and
    // the state written; each committed state read again and stamped once the catalog shows it; the
    // other indexed partitions' entries and states; the output ratios read and rewritten; a merge's
    // manifest and its file
    step('swap', { LIST: indexPages, GET: 1 + sumBins + 2 * partitions + 2 * othersPending + (sumBins ? 1 : 0) + merges.length, HEAD: sumBins + carried + merges.length, COPY: carried, PUT: 3 * partitions + (sumBins ? 1 : 0) }),
    // every indexed partition's entry and state
    step('lifecycle', { LIST: indexPages, GET: 2 * shape.pendingAfter }),
    // plan, results manifest and file, each planned partition's state; the report (JSON and text)
    step('report', { GET: 1 + (sumBins ? 2 : 0) + partitions, PUT: 2 }),
  ];
  const extraRequests = addRequests(sumBins ? mapRequests(1) : {}, merges.length ? mapRequests(1) : {});
  const transitions = transitionsOf({
    planned: true,
    skipped: false,
    nothingToCompact: sumBins === 0,
    mapItems: sumBins,
    mapRan: sumBins > 0,
    mergeItems: merges.length,
    mergeRan: merges.length > 0,
    swapRan: true,
    lifecycleRan: true,
    incomplete: false,
  });
  const bytes = shape.bins.reduce((n, b) => n + b.inputBytes, 0);
  return { usage, extraRequests, transitions, cost: costOf(usage, extraRequests, transitions, { objects: newObjects, bytes }, model.prices) };
}
