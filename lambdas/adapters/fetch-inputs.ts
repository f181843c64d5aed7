import { mkdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { numberFields } from '../core/json-numbers';
import type { SourceFile } from '../core/partitions';
import type { ObjectStore } from '../core/ports';
import { ChunkAppender, OverBufferError, SMALL_OBJECT_BYTES } from './chunk-appender';
import { CsvCounter } from './csv-counter';
import { SetAsideError } from './fetch-errors';
import { intoFile, withRetries } from './fetch-retries';
import { NumberQuoter } from './number-quoter';
import { DEFAULT_MAX_DECOMPRESSED, streamObject, throughCounter } from './object-readers';
import { stageSmallJson, wholeBody } from './small-json';
import type { SetAsideObject } from '../core/engine-contracts';
import { mergeFacts, newJsonFacts, StagedInputs, type JsonSegment, type StagedFile } from './staged-inputs';

export { CorruptObjectError, DecompressedTooLargeError, SetAsideError } from './fetch-errors';
export { JsonLinesCounter, JsonLinesPass, type JsonObjectFacts } from './json-lines-counter';
export { NumberQuoter, NumberQuoting } from './number-quoter';
export { CsvCounter } from './csv-counter';
export { countJsonRecords, downloadObject, originalLines } from './object-readers';
export { StagedInputs, type FlaggedLine, type JsonFacts, type JsonSegment, type StagedFile } from './staged-inputs';

export interface FetchOptions {
  readonly concurrency: number;
  /** JSON Lines objects are appended into chunk files of about this size. */
  readonly chunkBytes?: number;
  /** Cap on one object's decompressed size (guards against gzip bombs). */
  readonly maxDecompressedBytes?: number;
  readonly attempts?: number;
  /** Top-level JSON fields whose number values are staged as their exact text (declared decimals). */
  readonly exactNumberFields?: readonly string[];
  /** JSON Lines objects up to this stored size are read whole into memory; larger ones stream. @default SMALL_OBJECT_BYTES */
  readonly smallObjectBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * Downloads a bin's inputs with bounded parallelism. Each worker owns its chunk files, so
 * concurrent objects never interleave, and a failed attempt is cut off before it is retried.
 */
export async function fetchInputs(
  store: ObjectStore,
  buckets: { readonly landing: string; readonly gold: string },
  sources: readonly SourceFile[],
  dir: string,
  o: FetchOptions,
): Promise<StagedInputs> {
  await mkdir(dir, { recursive: true });
  const chunkLimit = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const maxBytes = o.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED;
  const attempts = o.attempts ?? 4;
  const smallBytes = o.smallObjectBytes ?? SMALL_OBJECT_BYTES;
  const jsonChunks: string[] = [];
  const files: StagedFile[] = [];
  const jsonRows = new Map<string, number>();
  const jsonSegments: JsonSegment[] = [];
  const setAside: SetAsideObject[] = [];
  const rewritten = new Set<string>();
  const exact = o.exactNumberFields?.length ? numberFields(o.exactNumberFields) : undefined;
  const json = newJsonFacts(o.exactNumberFields);
  let bytes = 0;
  let next = 0;

  /** A small object read whole: its bytes as staged; null when set aside; undefined when it must be streamed. */
  const fetchSmall = async (src: SourceFile, bucket: string, label: string) => {
    try {
      return await withRetries(attempts, `fetch ${label}`, async () =>
        stageSmallJson(await wholeBody(store, bucket, src.key, src.etag), label, src, maxBytes, json.scanner, exact),
      );
    } catch (e) {
      if (e instanceof OverBufferError) return undefined;
      if (!(e instanceof SetAsideError)) throw e;
      // The rest of the bin is compacted; the object goes to quarantine as it is.
      setAside.push({ key: src.key, reason: e.message });
      return null;
    }
  };

  const worker = async (w: number) => {
    const appender = new ChunkAppender();
    try {
      await fill(w, appender);
    } finally {
      await appender.close();
    }
  };

  const fill = async (w: number, appender: ChunkAppender) => {
    let chunkPath = '';
    let chunkSize = chunkLimit;
    let chunkNo = 0;
    let chunkLines = 0;
    for (let i = next++; i < sources.length; i = next++) {
      const src = sources[i];
      const bucket = src.fromGold ? buckets.gold : buckets.landing;
      const label = `s3://${bucket}/${src.key}`;
      if (src.format === 'jsonl' || src.format === 'jsonl.gz') {
        if (chunkSize >= chunkLimit) {
          chunkPath = join(dir, `chunk-${w}-${chunkNo++}.jsonl`);
          jsonChunks.push(chunkPath);
          chunkSize = 0;
          chunkLines = 0;
        }
        const offset = chunkSize;
        const path = chunkPath;
        if (offset === 0) await appender.append(path, Buffer.alloc(0));
        const small = src.size <= smallBytes ? await fetchSmall(src, bucket, label) : undefined;
        if (small) {
          await appender.append(path, small.bytes);
          if (small.changed) rewritten.add(src.key);
          jsonRows.set(src.key, small.pass.records);
          mergeFacts(json, src.key, small.pass.facts);
          jsonSegments.push({ chunk: path, key: src.key, firstLine: chunkLines, lines: small.pass.lines });
          chunkLines += small.pass.lines;
          chunkSize += small.bytes.length;
          bytes += src.size;
          continue;
        }
        if (small === null) {
          jsonRows.set(src.key, 0);
          bytes += src.size;
          continue;
        }
        await appender.flush();
        const counter = await withRetries(attempts, `fetch ${label}`, async () => {
          await truncate(path, offset).catch(() => undefined);
          const quoter = exact && new NumberQuoter(exact);
          const c = await intoFile(path, 'a', (out) => throughCounter(store, bucket, src, maxBytes, [...(quoter ? [quoter] : []), out], json.scanner));
          if (quoter && quoter.changed) rewritten.add(src.key);
          return c;
        }).catch(async (e) => {
          if (!(e instanceof SetAsideError)) throw e;
          // The rest of the bin is compacted; the object goes to quarantine as it is.
          await truncate(path, offset);
          setAside.push({ key: src.key, reason: e.message });
          return undefined;
        });
        if (!counter) {
          jsonRows.set(src.key, 0);
          bytes += src.size;
          continue;
        }
        jsonRows.set(src.key, counter.records);
        mergeFacts(json, src.key, counter.facts);
        jsonSegments.push({ chunk: path, key: src.key, firstLine: chunkLines, lines: counter.lines });
        chunkLines += counter.lines;
        chunkSize = (await stat(path)).size;
        bytes += src.size;
      } else if (src.format === 'csv' || src.format === 'csv.gz') {
        // Read (and gunzipped) here: the engine gets plain CSV that the fetch has counted itself.
        const path = join(dir, `file-${String(i).padStart(6, '0')}.csv`);
        const csv = await withRetries(attempts, `fetch ${label}`, async () => {
          const counter = new CsvCounter(maxBytes, label);
          await intoFile(path, 'w', (out) => streamObject(store, bucket, src, [counter], [out]));
          return counter.reader.end();
        }).catch((e) => {
          if (!(e instanceof SetAsideError)) throw e;
          setAside.push({ key: src.key, reason: e.message });
          return undefined;
        });
        if (csv?.problem) setAside.push({ key: src.key, reason: `not readable as CSV: ${csv.problem}` });
        else if (csv) files.push({ path, source: src, csv });
        bytes += src.size;
      } else {
        const path = join(dir, `file-${String(i).padStart(6, '0')}.parquet`);
        await withRetries(attempts, `fetch ${label}`, async () => {
          const body = await store.getStream(bucket, src.key, src.etag);
          await intoFile(path, 'w', (out) => pipeline(body, out));
        });
        files.push({ path, source: src });
        bytes += src.size;
      }
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, sources.length)) }, (_, w) => worker(w)));
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  setAside.sort((a, b) => (a.key < b.key ? -1 : 1));
  return new StagedInputs({ jsonChunks: jsonChunks.sort(), files, jsonRows, jsonSegments, rewritten, setAside, bytes, json });
}

