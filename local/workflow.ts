/**
 * Runs the state machine definition that `cdk deploy` would deploy, offline: the definition is
 * taken from the synthesized template, its tokens resolved to fake ARNs mapped to in-process
 * handlers, and executed by aws-local-stepfunctions. What that interpreter lacks is emulated
 * here and only here (see README, "What is emulated"):
 * - Distributed Map: ItemReader (S3 JSON array), ResultWriter and ToleratedFailurePercentage are
 *   rewritten into reader task -> inline Map -> writer task, with the same results in S3.
 * - Task timeouts: the interpreter defaults to 60 s where AWS has none; tasks without
 *   TimeoutSeconds get Lambda's maximum (900 s).
 * - Lambda errors surface as Error = the thrown error's name, Cause = {errorType, errorMessage}.
 * - The 256 KB limit on a state's input and output (States.DataLimitExceeded).
 */
import { StateMachine } from 'aws-local-stepfunctions';
import type { ObjectStore } from '../lambdas/core/ports';
import { executionArn, fakeLambdaArn } from './cloudformation';
import { emulateDistributedMaps, LambdaFailure, mapTasks, type Handler } from './distributed-map';

export { executionArn, fakeLambdaArn, resolveDefinition, resolveEnvironment, resolveValue } from './cloudformation';
export type { Handler } from './distributed-map';

// The interpreter assumes Node 22 (it calls Promise.withResolvers when it runs, not when loaded).
const P = Promise as unknown as { withResolvers?: () => unknown };
if (!P.withResolvers) {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Step Functions' limit on a state's input or output. */
export const PAYLOAD_LIMIT_BYTES = 256 * 1024;

function checkedJson(value: unknown, what: string): string {
  const json = JSON.stringify(value ?? null);
  if (Buffer.byteLength(json) > PAYLOAD_LIMIT_BYTES) {
    throw new LambdaFailure('States.DataLimitExceeded', `${what} is ${Buffer.byteLength(json)} bytes, over the ${PAYLOAD_LIMIT_BYTES}-byte limit`);
  }
  return json;
}

function lambdaLike(name: string, fn: Handler, lambdaInvoke: boolean): Handler {
  return async (input) => {
    // A JSON round trip, as the Lambda service does: handlers get plain data, never shared objects.
    const event = JSON.parse(checkedJson(input, `input of ${name}`));
    let out: unknown;
    try {
      out = await fn(event);
    } catch (e) {
      const err = e as Error;
      throw new LambdaFailure(err.name || 'Error', err.message);
    }
    const payload = JSON.parse(checkedJson(out, `output of ${name}`));
    return lambdaInvoke ? { StatusCode: 200, Payload: payload } : payload;
  };
}

/** Executions running in this process, as DescribeExecution would report them. */
export class LocalExecutions {
  private readonly running = new Set<string>();
  start(id: string) {
    this.running.add(id);
  }
  finish(id: string) {
    this.running.delete(id);
  }
  async isRunning(id: string): Promise<boolean | undefined> {
    return this.running.has(id);
  }
}

export interface RunOptions {
  readonly definition: Json;
  /** In-process handler per Lambda function logical id. */
  readonly handlers: Record<string, Handler>;
  /** Store holding the buckets the Map reads items from and writes results to. */
  readonly store: ObjectStore;
  readonly executionName: string;
  readonly input: unknown;
  /** Name of the state machine (for `$$.Execution.Id`). */
  readonly stateMachineName?: string;
  readonly executions?: LocalExecutions;
  /** Called with the execution's abort function once it starts (crash tests). */
  readonly onStart?: (abort: () => void) => void;
}

export interface ExecutionOutcome {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';
  readonly output?: Json;
  readonly error?: string;
  readonly cause?: string;
}

/** Executes the definition to its end, as one execution of the deployed state machine would run. */
export async function runExecution(o: RunOptions): Promise<ExecutionOutcome> {
  const { definition, maps } = emulateDistributedMaps(o.definition);
  const byArn = new Map(Object.entries(o.handlers).map(([id, fn]) => [fakeLambdaArn(id), fn]));
  const overrides: Record<string, Handler> = {};

  const visit = (states: Record<string, Json>) => {
    for (const [name, st] of Object.entries(states)) {
      if (st.ItemProcessor) visit(st.ItemProcessor.States);
      if (st.Type !== 'Task') continue;
      const direct = byArn.get(st.Resource);
      const viaInvoke = st.Resource?.endsWith(':states:::lambda:invoke') ? byArn.get(st.Parameters?.FunctionName) : undefined;
      if (direct) overrides[name] = lambdaLike(name, direct, false);
      else if (viaInvoke) overrides[name] = lambdaLike(name, viaInvoke, true);
      else if (!maps.some((m) => m.reader === name || m.writer === name)) throw new Error(`task ${name} calls ${st.Resource}, which has no local handler`);
    }
  };
  visit(definition.States);

  for (const m of maps) Object.assign(overrides, mapTasks(m, o.store, o.executionName));

  const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
  const id = executionArn(o.stateMachineName ?? 'local', o.executionName);
  const context = { Execution: { Id: id, Name: o.executionName, Input: o.input as Json, StartTime: new Date().toISOString() } };
  o.executions?.start(id);
  const execution = machine.run(o.input as Json, { overrides: { taskResourceLocalHandlers: overrides as Json }, context });
  o.onStart?.(() => execution.abort());
  try {
    return { status: 'SUCCEEDED', output: await execution.result };
  } catch (e) {
    if ((e as Error).name === 'ExecutionAbortedError') return { status: 'ABORTED', error: 'ExecutionAborted' };
    // The definition's own TimeoutSeconds (the run timeout).
    if ((e as Error).name === 'ExecutionTimeoutError') return { status: 'TIMED_OUT', error: 'States.Timeout' };
    const err = e as Error & { cause?: unknown };
    // The interpreter's ExecutionError wraps the Fail state's or the task's error.
    const inner = (err as Json).getCause?.() ?? err.cause ?? err;
    return { status: 'FAILED', error: inner.name ?? err.name, cause: typeof inner.message === 'string' ? inner.message : String(inner) };
  } finally {
    o.executions?.finish(id);
  }
}
