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
import type { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';
import type { ObjectStore } from '../lambdas/core/ports';

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

// A template value as CDK's Template.toJSON() types it.
type Json = ReturnType<Template['toJSON']>[string];
export type Handler = (input: unknown) => Promise<unknown>;

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
export const fakeLambdaArn = (logicalId: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`;

/**
 * Resolves a CloudFormation value (string, Ref, Fn::GetAtt, Fn::Join) to what it would be once
 * deployed: Lambda ARNs become fake ARNs keyed by logical id, other resources come from `refs`.
 */
export function resolveValue(template: Json, token: Json, refs: Record<string, string>): string {
  const resources = template.Resources as Record<string, Json>;
  const resolve = (t: Json): string => {
    if (typeof t === 'string') return t;
    if (typeof t === 'number' || typeof t === 'boolean') return String(t);
    if (t.Ref) {
      const id = t.Ref as string;
      if (id === 'AWS::Partition') return 'aws';
      if (id === 'AWS::Region') return REGION;
      if (id === 'AWS::AccountId') return ACCOUNT;
      if (id === 'AWS::URLSuffix') return 'amazonaws.com';
      if (refs[id] !== undefined) return refs[id];
      throw new Error(`no local value for Ref ${id} (${resources[id]?.Type ?? 'unknown resource'})`);
    }
    if (t['Fn::GetAtt']) {
      const [id, attr] = t['Fn::GetAtt'] as [string, string];
      if (resources[id]?.Type === 'AWS::Lambda::Function' && attr === 'Arn') return fakeLambdaArn(id);
      if (refs[`${id}.${attr}`] !== undefined) return refs[`${id}.${attr}`];
      throw new Error(`no local value for Fn::GetAtt ${id}.${attr}`);
    }
    if (t['Fn::Join']) {
      const [sep, parts] = t['Fn::Join'] as [string, Json[]];
      return parts.map(resolve).join(sep);
    }
    throw new Error(`unsupported token: ${JSON.stringify(t).slice(0, 200)}`);
  };
  return resolve(token);
}

/** The state machine's definition (ASL), as it would be deployed. */
export function resolveDefinition(template: Json, stateMachineLogicalId: string, refs: Record<string, string>): Json {
  const sm = template.Resources?.[stateMachineLogicalId];
  if (!sm) throw new Error(`state machine ${stateMachineLogicalId} is not in the template`);
  return JSON.parse(resolveValue(template, sm.Properties.DefinitionString, refs));
}

/** A Lambda function's environment variables, as it would be deployed. */
export function resolveEnvironment(template: Json, functionLogicalId: string, refs: Record<string, string>): Record<string, string> {
  const vars = template.Resources?.[functionLogicalId]?.Properties?.Environment?.Variables ?? {};
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, resolveValue(template, v, refs)]));
}

interface MapEmulation {
  readonly reader: string;
  readonly writer: string;
  readonly tolerated: number;
  readonly resultWriter?: { Bucket: string; Prefix: string };
}

const FAILED_MARK = '__compactorItemFailed';
const ITEM_ERROR = '__compactorItemError';

/** Gives Task states Lambda's maximum timeout where the definition sets none, recursively. */
function withTaskTimeouts(states: Record<string, Json>): void {
  for (const st of Object.values(states)) {
    if (st.Type === 'Task' && st.TimeoutSeconds === undefined && st.TimeoutSecondsPath === undefined) st.TimeoutSeconds = 900;
    if (st.ItemProcessor) withTaskTimeouts(st.ItemProcessor.States);
    if (st.Iterator) withTaskTimeouts(st.Iterator.States);
    for (const b of st.Branches ?? []) withTaskTimeouts(b.States);
  }
}

/** Rewrites every Distributed Map into reader task -> inline Map -> writer task. */
export function emulateDistributedMaps(definition: Json): { definition: Json; maps: MapEmulation[] } {
  const def = structuredClone(definition);
  const maps: MapEmulation[] = [];
  for (const [name, st] of Object.entries(def.States as Record<string, Json>)) {
    if (st.Type !== 'Map' || st.ItemProcessor?.ProcessorConfig?.Mode !== 'DISTRIBUTED') continue;
    if (st.ItemBatcher) throw new Error(`Map ${name}: ItemBatcher is not emulated`);
    const reader = `${name} (read items)`;
    const writer = `${name} (write results)`;
    const itemsPath = '$.__compactorMapItems';
    const tolerated = st.ToleratedFailurePercentage ?? 0;
    if (st.ToleratedFailurePercentagePath || st.ToleratedFailureCountPath || st.ToleratedFailureCount !== undefined) {
      throw new Error(`Map ${name}: only a fixed ToleratedFailurePercentage is emulated`);
    }

    def.States[reader] = {
      Type: 'Task',
      Resource: st.ItemReader.Resource,
      Parameters: st.ItemReader.Parameters,
      ResultPath: itemsPath,
      Next: name,
      ...(st.Catch ? { Catch: st.Catch } : {}),
    };
    // Failed items become marked results, as a Distributed Map counts them, instead of failing the Map;
    // the item stays beside its error, as the ResultWriter records a failed child's input.
    const failedState = `${name} (item failed)`;
    for (const inner of Object.values(st.ItemProcessor.States as Record<string, Json>)) {
      if (inner.Type === 'Task') inner.Catch = [...(inner.Catch ?? []), { ErrorEquals: ['States.ALL'], ResultPath: `$.${ITEM_ERROR}`, Next: failedState }];
    }
    st.ItemProcessor.States[failedState] = {
      Type: 'Pass',
      Parameters: { [FAILED_MARK]: true, 'Error.$': `$.${ITEM_ERROR}.Error`, 'Cause.$': `$.${ITEM_ERROR}.Cause`, 'Input.$': '$' },
      End: true,
    };

    const next = st.Next;
    const end = st.End;
    const resultPath = st.ResultPath;
    const resultSelector = st.ResultSelector;
    def.States[writer] = {
      Type: 'Task',
      Resource: 'arn:aws:states:::s3:putObject',
      Parameters: { 'results.$': itemsPath },
      ...(resultPath !== undefined ? { ResultPath: resultPath } : {}),
      ...(resultSelector ? { ResultSelector: resultSelector } : {}),
      ...(next ? { Next: next } : { End: end ?? true }),
      ...(st.Catch ? { Catch: st.Catch } : {}),
    };
    maps.push({ reader, writer, tolerated, resultWriter: st.ResultWriter?.Parameters });

    delete st.ItemReader;
    delete st.ResultWriter;
    delete st.ToleratedFailurePercentage;
    delete st.Label;
    delete st.ResultSelector;
    st.ItemProcessor.ProcessorConfig = { Mode: 'INLINE' };
    st.ItemsPath = itemsPath;
    st.ResultPath = itemsPath;
    delete st.End;
    st.Next = writer;
    if (def.StartAt === name) def.StartAt = reader;
    for (const other of Object.values(def.States as Record<string, Json>)) {
      if (other !== def.States[reader] && other.Next === name) other.Next = reader;
      for (const c of other.Catch ?? []) if (c.Next === name) c.Next = reader;
      for (const c of other.Choices ?? []) if (c.Next === name) c.Next = reader;
      if (other.Default === name) other.Default = reader;
    }
  }
  withTaskTimeouts(def.States);
  return { definition: def, maps };
}

/** An error as Step Functions reports a failed Lambda: Error = errorType, Cause = JSON. */
class LambdaFailure extends Error {
  constructor(name: string, message: string) {
    super(JSON.stringify({ errorType: name, errorMessage: message }));
    this.name = name;
  }
}

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

export const executionArn = (stateMachine: string, name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachine}:${name}`;

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

  for (const m of maps) {
    overrides[m.reader] = async (params) => {
      const { Bucket, Key } = params as { Bucket: string; Key: string };
      const items = await o.store.getJson<unknown[]>(Bucket, Key);
      if (!Array.isArray(items)) throw new LambdaFailure('States.ItemReaderFailed', `s3://${Bucket}/${Key} is not a JSON array`);
      return items;
    };
    overrides[m.writer] = async (params) => {
      const results = (params as { results: Json[] }).results;
      const failed = results.filter((r) => r && typeof r === 'object' && r[FAILED_MARK]);
      const succeeded = results.filter((r) => !(r && typeof r === 'object' && r[FAILED_MARK]));
      const mapRunArn = `arn:aws:states:${REGION}:${ACCOUNT}:mapRun:local/${o.executionName}`;
      let details: Json;
      if (m.resultWriter) {
        // As Step Functions writes them with WriterConfig COMPACT: a succeeded child's output as it
        // is, a failed child's whole record (its input as JSON text, Error, Cause).
        const prefix = `${m.resultWriter.Prefix.replace(/\/?$/, '/')}${o.executionName}/`;
        const failedEntry = (r: Json) => {
          const { [ITEM_ERROR]: _error, ...item } = r.Input ?? {};
          return { Status: 'FAILED', Input: JSON.stringify(item), Error: r.Error, Cause: r.Cause };
        };
        await o.store.putJson(m.resultWriter.Bucket, `${prefix}SUCCEEDED_0.json`, succeeded);
        if (failed.length) await o.store.putJson(m.resultWriter.Bucket, `${prefix}FAILED_0.json`, failed.map(failedEntry));
        await o.store.putJson(m.resultWriter.Bucket, `${prefix}manifest.json`, {
          DestinationBucket: m.resultWriter.Bucket,
          MapRunArn: mapRunArn,
          ResultFiles: { SUCCEEDED: [{ Key: `${prefix}SUCCEEDED_0.json`, Size: 0 }], FAILED: failed.length ? [{ Key: `${prefix}FAILED_0.json`, Size: 0 }] : [], PENDING: [] },
        });
        details = { Bucket: m.resultWriter.Bucket, Key: `${prefix}manifest.json` };
      }
      if (results.length && (failed.length * 100) / results.length > m.tolerated) {
        const first = failed[0];
        throw new LambdaFailure(
          'States.ExceedToleratedFailureThreshold',
          `${failed.length} of ${results.length} items failed (tolerated ${m.tolerated}%); first: ${first.Error}: ${first.Cause}`,
        );
      }
      return { MapRunArn: mapRunArn, ...(details ? { ResultWriterDetails: details } : {}) };
    };
  }

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
