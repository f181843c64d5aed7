import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { RecordScanner } from '../core/json-records';
import type { SourceFile } from '../core/partitions';
import type { ObjectStore } from '../core/ports';
import { corrupt, isZlibError, SetAsideError } from './fetch-errors';
import { intoFile, withRetries } from './fetch-retries';
import { JsonLinesCounter } from './json-lines-counter';

export const DEFAULT_MAX_DECOMPRESSED = 4 * 1024 * 1024 * 1024;

export interface ReadOptions {
  /** Cap on one object's decompressed size (guards against gzip bombs). */
  readonly maxDecompressedBytes?: number;
  readonly attempts?: number;
}

export const isGzip = (src: SourceFile) => src.format === 'jsonl.gz' || src.format === 'csv.gz';

/**
 * Streams one object's `body`, gunzipped when it is `.gz`, through `stages` into `into`. A `.gz`
 * object that fails to decompress although every stored byte arrived is corrupt (not a cut-off
 * download, which is retried): CorruptObjectError.
 */
export async function streamBody(
  body: NodeJS.ReadableStream,
  where: string,
  src: SourceFile,
  stages: ReadonlyArray<NodeJS.ReadWriteStream>,
  into: ReadonlyArray<NodeJS.WritableStream>,
): Promise<void> {
  if (!isGzip(src)) return pipeline([body, ...stages, ...into]);
  let received = 0;
  const counted = new Transform({
    transform(c: Buffer, _enc, done) {
      received += c.length;
      done(null, c);
    },
  });
  try {
    await pipeline([body, counted, createGunzip(), ...stages, ...into]);
  } catch (e) {
    if (isZlibError(e) && received >= src.size) throw corrupt(where, e);
    throw e;
  }
}

/** {@link streamBody} over a fresh GET of the object (If-Match its planned ETag). */
export async function streamObject(
  store: ObjectStore,
  bucket: string,
  src: SourceFile,
  stages: ReadonlyArray<NodeJS.ReadWriteStream>,
  into: ReadonlyArray<NodeJS.WritableStream>,
): Promise<void> {
  const body = await store.getStream(bucket, src.key, src.etag);
  return streamBody(body, `s3://${bucket}/${src.key}`, src, stages, into);
}

/** Streams one JSON Lines object (gunzipped when it is `.gz`) through a record counter into `into`. */
export async function throughCounter(
  store: ObjectStore,
  bucket: string,
  src: SourceFile,
  maxBytes: number,
  into: ReadonlyArray<NodeJS.WritableStream>,
  scanner?: RecordScanner,
): Promise<JsonLinesCounter> {
  const counter = new JsonLinesCounter(maxBytes, `s3://${bucket}/${src.key}`, scanner);
  await streamObject(store, bucket, src, [counter], into);
  return counter;
}

/**
 * Records of one JSON Lines object, counted as the fetch counts them, without keeping it. An
 * object over the decompressed cap holds none: its bin sets it aside whole.
 */
export async function countJsonRecords(store: ObjectStore, bucket: string, src: SourceFile, o: ReadOptions = {}): Promise<number> {
  const label = `s3://${bucket}/${src.key}`;
  return withRetries(o.attempts ?? 4, `count ${label}`, async () => {
    const discard = new Writable({ write: (_chunk, _enc, done) => done() });
    return (await throughCounter(store, bucket, src, o.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED, [discard])).records;
  }).catch((e) => {
    if (e instanceof SetAsideError) return 0;
    throw e;
  });
}

/**
 * Lines of one JSON Lines object as they are stored (1-based, a leading BOM dropped as the fetch
 * drops it): quarantine keeps records byte for byte even where staging quoted their numbers.
 */
export async function originalLines(
  store: ObjectStore,
  bucket: string,
  src: SourceFile,
  wanted: ReadonlySet<number>,
  o: ReadOptions = {},
): Promise<Map<number, Buffer>> {
  const label = `s3://${bucket}/${src.key}`;
  return withRetries(o.attempts ?? 4, `read ${label}`, async () => {
    const found = new Map<number, Buffer>();
    let line = 1;
    let partial: Buffer[] = [];
    const collect = new Writable({
      write(chunk: Buffer, _enc, done) {
        let start = 0;
        for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
          if (wanted.has(line)) found.set(line, Buffer.concat([...partial, chunk.subarray(start, nl)]));
          partial = [];
          line++;
          start = nl + 1;
        }
        if (wanted.has(line) && start < chunk.length) partial.push(Buffer.from(chunk.subarray(start)));
        done();
      },
      final(done) {
        if (partial.length && wanted.has(line)) found.set(line, Buffer.concat(partial));
        done();
      },
    });
    await throughCounter(store, bucket, src, o.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED, [collect]);
    return found;
  });
}

/** Downloads one object to a local file (for readers that need one, such as Parquet's footer). */
export async function downloadObject(store: ObjectStore, bucket: string, src: SourceFile, path: string, attempts = 4): Promise<void> {
  await withRetries(attempts, `fetch s3://${bucket}/${src.key}`, async () => {
    const body = await store.getStream(bucket, src.key, src.etag);
    await intoFile(path, 'w', (out) => pipeline(body, out));
  });
}
