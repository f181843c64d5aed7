/**
 * The embedded default: the pipeline of bin/app.ts, synthesized in-process, its state machine
 * definition executed offline (local/workflow.ts), its Lambda handlers called in-process with the
 * environment the template gives them, S3 served by a loopback server, Glue by a local catalog.
 */
import { join } from 'node:path';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { defineApp } from '../bin/app';
import type { CompactionPipeline } from '../lib/compaction-pipeline';
import { duckdbStepDeps } from '../lambdas/adapters/duckdb-parquet-engine';
import { LocalCatalog } from '../lambdas/adapters/local-catalog';
import type { EmfSink, FunctionInfo } from '../lambdas/adapters/metrics';
import { S3ObjectStore } from '../lambdas/adapters/s3';
import { parseCostModel, type StepName } from '../lambdas/core/cost';
import type { Clock, ObjectStore } from '../lambdas/core/ports';
import { Env, parseEngineSettings, parseTableSettings, type EngineSettings, type TableSettings } from '../lambdas/core/settings';
import { makeHandler as compactHandler } from '../lambdas/handlers/compact';
import { makeHandler as lifecycleHandler } from '../lambdas/handlers/lifecycle';
import { makeHandler as mergeHandler } from '../lambdas/handlers/merge';
import { makeHandler as planHandler } from '../lambdas/handlers/plan';
import { makeHandler as reportHandler } from '../lambdas/handlers/report';
import { makeHandler as swapHandler } from '../lambdas/handlers/swap';
import type { LocalS3 } from './s3-server';
import { LocalExecutions, resolveDefinition, resolveEnvironment, resolveValue, runExecution, type ExecutionOutcome, type Handler } from './workflow';


const logicalId = (c: IConstruct) => Stack.of(c).getLogicalId((c.node.defaultChild ?? c) as CfnElement);

let synthesized: ReturnType<typeof synthesize> | undefined;

/** The deployable app, synthesized without bundling (the handlers run in-process here); once per process. */
export function synthesizeApp() {
  return (synthesized ??= synthesize());
}

function synthesize() {
  // CDK's CloudFormation validation costs seconds per synth and is run by `cdk synth`/tests anyway.
  process.env.CDK_VALIDATION ??= 'false';
  const app = new App({
    context: { '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true, 'aws:cdk:bundling-stacks': [] },
  });
  const stack = defineApp(app);
  const pipeline = stack.node.findChild('Sensors') as CompactionPipeline;
  return { stack, pipeline, template: Template.fromStack(stack).toJSON() };
}

export interface LocalPipelineOptions {
  /** The S3 server; optional when `store` is given. */
  readonly s3?: LocalS3;
  readonly scratchDir: string;
  /** Where the local catalog keeps its partitions (in memory when unset). */
  readonly catalogFile?: string;
  /** A catalog shared with other runs (tests); `catalogFile` is then unused. */
  readonly catalog?: LocalCatalog;
  readonly clock?: Clock;
  /** The store the handlers use (tests wrap the S3 store to inject faults, or use a memory store). */
  readonly store?: ObjectStore;
  /** Running executions, shared with other runs that ask who holds the lease (tests). */
  readonly executions?: LocalExecutions;
  /** Called as handlers run, for progress output. */
  readonly onEvent?: (step: StepName, output: unknown) => void;
  /** Table settings over the template's for the plan step (tests: e.g. a low `maxBinObjects`). */
  readonly tableSettings?: Partial<TableSettings>;
  /** Where the handlers' EMF documents go (CloudWatch is not emulated). @default kept in `emf` */
  readonly emf?: EmfSink;
}

export interface LocalPipeline {
  readonly settings: TableSettings;
  /** The compact step's engine settings, as the template gives them (declared column types included). */
  readonly engine: EngineSettings;
  readonly landingBucket: string;
  readonly goldBucket: string;
  readonly catalog: LocalCatalog;
  readonly store: ObjectStore;
  /** The input the EventBridge schedule sends. */
  readonly scheduledInput: unknown;
  readonly definition: unknown;
  /** Lambda functions by logical id, for tests that replace one. */
  readonly handlers: Record<string, Handler>;
  readonly functionIds: Readonly<Record<StepName, string>>;
  readonly executions: LocalExecutions;
  /** EMF documents the handlers published (when no `emf` sink was given), oldest first. */
  readonly emf: string[];
  execute(input: unknown, executionName: string, handlers?: Record<string, Handler>, onStart?: (abort: () => void) => void): Promise<ExecutionOutcome>;
}

/** Local bucket names for the buckets the stack creates. */
export const LOCAL_BUCKETS = { landing: 'landing', gold: 'gold' } as const;

export function localPipeline(o: LocalPipelineOptions): LocalPipeline {
  const { pipeline, template } = synthesizeApp();
  const refs: Record<string, string> = {
    [logicalId(pipeline.landingBucket)]: LOCAL_BUCKETS.landing,
    [logicalId(pipeline.goldBucket)]: LOCAL_BUCKETS.gold,
  };
  const ids: Record<StepName, string> = {
    plan: logicalId(pipeline.planFunction),
    compact: logicalId(pipeline.compactFunction),
    merge: logicalId(pipeline.mergeFunction),
    swap: logicalId(pipeline.swapFunction),
    lifecycle: logicalId(pipeline.lifecycleFunction),
    report: logicalId(pipeline.reportFunction),
  };
  const envOf = (id: string) => resolveEnvironment(template, id, refs);
  const settings = { ...parseTableSettings(envOf(ids.plan)), ...o.tableSettings };
  if (!o.store && !o.s3) throw new Error('localPipeline needs an S3 server or a store');
  const store = o.store ?? new S3ObjectStore(o.s3!.client);
  // The table as the stack creates it: its columns come from the template's Glue table.
  const glueTable = Object.values(template.Resources as Record<string, { Type: string; Properties: { TableInput: { StorageDescriptor: { Columns: Array<{ Name: string; Type: string }> } } } }>).find(
    (r) => r.Type === 'AWS::Glue::Table',
  );
  const columns = (glueTable?.Properties.TableInput.StorageDescriptor.Columns ?? []).map((c) => ({ name: c.Name, type: c.Type }));
  const catalog = o.catalog ?? new LocalCatalog(o.catalogFile, columns);
  const clock = o.clock ?? { now: () => new Date() };
  const executions = o.executions ?? new LocalExecutions();
  const engine = { ...parseEngineSettings(envOf(ids.compact)), scratchDir: join(o.scratchDir, 'compact') };
  const notify = <T>(step: StepName, fn: (e: unknown) => Promise<T>) => async (e: unknown) => {
    const out = await fn(e);
    o.onEvent?.(step, out);
    return out;
  };
  const emfDocuments: string[] = [];
  const emf = o.emf ?? ((doc: string) => void emfDocuments.push(doc));
  // Lambda would tell each handler its memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE): here the template does.
  const fn = (step: StepName): FunctionInfo => ({ step, memoryMb: template.Resources[ids[step]].Properties.MemorySize });
  const costModel = parseCostModel(envOf(ids.plan)[Env.CostModel]);
  const handlers: Record<string, Handler> = {
    [ids.plan]: notify('plan', planHandler({ store, settings, executions, clock, costModel, fn: fn('plan'), emf })),
    [ids.compact]: notify('compact', compactHandler({ store, settings: parseTableSettings(envOf(ids.compact)), engine, ...duckdbStepDeps(engine.scratchDir, clock), fn: fn('compact'), emf })),
    [ids.merge]: notify('merge', mergeHandler({ store, settings: parseTableSettings(envOf(ids.merge)), engine: { ...parseEngineSettings(envOf(ids.merge)), scratchDir: join(o.scratchDir, 'merge') }, ...duckdbStepDeps(join(o.scratchDir, 'merge'), clock), fn: fn('merge'), emf })),
    [ids.swap]: notify('swap', swapHandler({ store, settings: parseTableSettings(envOf(ids.swap)), catalog, clock, fn: fn('swap'), emf })),
    [ids.lifecycle]: notify('lifecycle', lifecycleHandler({ store, settings: parseTableSettings(envOf(ids.lifecycle)), catalog, clock, fn: fn('lifecycle'), emf })),
    [ids.report]: notify('report', reportHandler({ store, settings: parseTableSettings(envOf(ids.report)), clock, prices: parseCostModel(envOf(ids.report)[Env.CostModel]).prices, fn: fn('report'), emf })),
  };
  const definition = resolveDefinition(template, logicalId(pipeline.stateMachine), refs);
  const stateMachineName = resolveValue(template, template.Resources[logicalId(pipeline.stateMachine)].Properties.StateMachineName, refs);
  const rule = template.Resources[logicalId(pipeline.schedule)];
  const scheduledInput = JSON.parse(resolveValue(template, rule.Properties.Targets[0].Input, refs));
  return {
    settings,
    engine,
    landingBucket: LOCAL_BUCKETS.landing,
    goldBucket: LOCAL_BUCKETS.gold,
    catalog,
    store,
    scheduledInput,
    definition,
    handlers,
    functionIds: ids,
    executions,
    emf: emfDocuments,
    execute: (input, executionName, override, onStart) =>
      runExecution({
        definition,
        handlers: { ...handlers, ...override },
        store,
        executionName,
        input,
        stateMachineName,
        executions,
        onStart,
      }),
  };
}
