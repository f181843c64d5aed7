/**
 * The Distributed Map as the local interpreter can run it: ItemReader (S3 JSON array), ResultWriter
 * and ToleratedFailurePercentage rewritten into reader task -> inline Map -> writer task, with the
 * same results in S3; Task states without a timeout get Lambda's maximum.
 */
import type { ObjectStore } from '../lambdas/core/ports';
import { ACCOUNT, REGION } from './cloudformation';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Handler = (input: unknown) => Promise<unknown>;

/** An error as Step Functions reports a failed Lambda: Error = errorType, Cause = JSON. */
export class LambdaFailure extends Error {
  constructor(name: string, message: string) {
    super(JSON.stringify({ errorType: name, errorMessage: message }));
    this.name = name;
  }
}

export interface MapEmulation {
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

/** The reader and writer tasks of one rewritten Map, keyed by their state names. */
export function mapTasks(m: MapEmulation, store: ObjectStore, executionName: string): Record<string, Handler> {
  return {
    [m.reader]: async (params) => {
      const { Bucket, Key } = params as { Bucket: string; Key: string };
      const items = await store.getJson<unknown[]>(Bucket, Key);
      if (!Array.isArray(items)) throw new LambdaFailure('States.ItemReaderFailed', `s3://${Bucket}/${Key} is not a JSON array`);
      return items;
    },
    [m.writer]: async (params) => {
      const results = (params as { results: Json[] }).results;
      const failed = results.filter((r) => r && typeof r === 'object' && r[FAILED_MARK]);
      const succeeded = results.filter((r) => !(r && typeof r === 'object' && r[FAILED_MARK]));
      const mapRunArn = `arn:aws:states:${REGION}:${ACCOUNT}:mapRun:local/${executionName}`;
      let details: Json;
      if (m.resultWriter) {
        // As Step Functions writes them with WriterConfig COMPACT: a succeeded child's output as it
        // is, a failed child's whole record (its input as JSON text, Error, Cause).
        const prefix = `${m.resultWriter.Prefix.replace(/\/?$/, '/')}${executionName}/`;
        const failedEntry = (r: Json) => {
          const { [ITEM_ERROR]: _error, ...item } = r.Input ?? {};
          return { Status: 'FAILED', Input: JSON.stringify(item), Error: r.Error, Cause: r.Cause };
        };
        await store.putJson(m.resultWriter.Bucket, `${prefix}SUCCEEDED_0.json`, succeeded);
        if (failed.length) await store.putJson(m.resultWriter.Bucket, `${prefix}FAILED_0.json`, failed.map(failedEntry));
        await store.putJson(m.resultWriter.Bucket, `${prefix}manifest.json`, {
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
    },
  };
}
