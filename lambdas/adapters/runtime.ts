import { rmSync } from 'node:fs';
import { GlueClient } from '@aws-sdk/client-glue';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ConfigurationError } from '../core/errors';
import type { Catalog, ExecutionStatus } from '../core/ports';
import { Env, parseEngineSettings, parseTableSettings, type EngineSettings, type TableSettings } from '../core/settings';
import type { S3Client } from '@aws-sdk/client-s3';
import { GlueCatalog } from './glue-catalog';
import { makeS3Client, S3ObjectStore } from './s3';
import { StepFunctionsExecutions } from './sfn-executions';
import { traced } from './tracing';

type Vars = Readonly<Record<string, string | undefined>>;

/** Dependencies every handler shares, built once from the environment at cold start. */
export interface RuntimeDeps {
  readonly settings: TableSettings;
  readonly engine: EngineSettings;
  readonly store: S3ObjectStore;
  /** The store's client, traced by X-Ray in Lambda. */
  readonly s3: S3Client;
}

export function runtimeFromEnv(vars: Vars = process.env): RuntimeDeps {
  const s3 = traced(makeS3Client({ endpoint: vars[Env.S3Endpoint] || undefined }));
  return {
    settings: parseTableSettings(vars),
    engine: parseEngineSettings(vars),
    store: new S3ObjectStore(s3),
    s3,
  };
}

/**
 * Empties the scratch directory at a Lambda sandbox's first invocation: a sandbox runs one
 * invocation at a time, so what is there was left by one that timed out (each attempt works in
 * a directory of its own, which nothing else would remove).
 */
export function clearScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The Glue table named by the environment. */
export function glueCatalogFromEnv(settings: TableSettings, vars: Vars = process.env): Catalog {
  const database = vars[Env.GlueDatabase];
  if (!database) throw new ConfigurationError(`environment variable ${Env.GlueDatabase} is required`);
  return new GlueCatalog(traced(new GlueClient({})), database, settings.table);
}

export const sfnExecutions = (): ExecutionStatus => new StepFunctionsExecutions(traced(new SFNClient({})));

/** Builds the real handler on first use, so importing a handler module never reads the environment. */
export function lazy<I, O>(build: () => (input: I) => Promise<O>): (input: I) => Promise<O> {
  let fn: ((input: I) => Promise<O>) | undefined;
  return (input) => (fn ??= build())(input);
}
