/**
 * The handlers' inputs, declared once: contracts.ts derives their types from these schemas and
 * each handler checks its input with its schema, so a field renamed in one cannot drift.
 */
import type { PlanOutput, RunState } from './contracts';
import { boolean, number, object, opaque, optional, string, unknown, type Infer } from './payload-schema';

/** `$$.Execution.Id`, for a step's log lines; absent outside a workflow (the CLI). */
const executionIdForLogs = optional(string());

export const planInputSchema = object({
  /** The execution input, validated by the plan step (see RunRequest). */
  request: unknown(),
  /** `$$.Execution.Id`: the lease holder. */
  executionId: string(),
});

export const binIdentityShape = {
  table: string(),
  planId: string(),
  binId: string(),
  partition: string(),
  version: string(),
};
export const binIdentitySchema = object(binIdentityShape);

export const binItemSchema = object({
  ...binIdentityShape,
  /** Object holding the BinSpec. */
  binKey: string(),
  inputFiles: number(),
  inputBytes: number(),
  /** Added by the Map's ItemSelector (not stored in the items list). */
  executionId: executionIdForLogs,
});

export const mergeItemSchema = object({
  table: string(),
  planId: string(),
  mergeId: string(),
  partition: string(),
  version: string(),
  /** Object holding the MergeSpec. */
  mergeKey: string(),
  bins: number(),
  estimatedInputBytes: number(),
  /** Added by the merge Map's ItemSelector (not stored in the items list). */
  executionId: executionIdForLogs,
});

export const swapInputSchema = object({
  /** The plan step's output; only its location is read. */
  plan: object({ planId: string(), planBucket: string(), planKey: string() }),
  executionId: executionIdForLogs,
});

export const lifecycleInputSchema = object({
  table: string(),
  dryRun: optional(boolean()),
  executionId: executionIdForLogs,
});

export const reportInputSchema = object({
  /** The whole state the workflow assembled (the steps' results or the error). */
  state: opaque<RunState>(),
  /** `$$.Execution.Id` */
  executionId: string(),
  /** `$$.Execution.StartTime` */
  startedAt: string(),
});

export type PlanInput = Infer<typeof planInputSchema>;
export type BinIdentity = Infer<typeof binIdentitySchema>;
export type BinItem = Infer<typeof binItemSchema>;
export type MergeItem = Infer<typeof mergeItemSchema>;
/** The swap input's plan is the plan step's whole output; only its location is checked. */
export type SwapInput = Omit<Infer<typeof swapInputSchema>, 'plan'> & { readonly plan: PlanOutput };
export type LifecycleInput = Infer<typeof lifecycleInputSchema>;
export type ReportInput = Infer<typeof reportInputSchema>;
