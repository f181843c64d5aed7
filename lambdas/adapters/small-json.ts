import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import type { NumberFields } from '../core/json-numbers';
import type { RecordScanner } from '../core/json-records';
import type { SourceFile } from '../core/partitions';
import type { ObjectStore } from '../core/ports';
import { BUFFER_LIMIT_BYTES, Collector, OverBufferError } from './chunk-appender';
import { JsonLinesCounter, JsonLinesPass } from './json-lines-counter';
import { NumberQuoter, NumberQuoting } from './number-quoter';
import { isGzip, streamBody } from './object-readers';

/** What a small JSON Lines object stages: its bytes as they go into the chunk, and the line pass's view. */
export interface SmallJson {
  readonly pass: Pick<JsonLinesPass, 'records' | 'lines' | 'facts'>;
  readonly bytes: Buffer;
  /** Some numbers were quoted (see NumberQuoting). */
  readonly changed: boolean;
}

/** A small object's whole body, If-Match `ifMatch`: one buffer where the store gives one, else the stream's chunks. */
export async function wholeBody(store: ObjectStore, bucket: string, key: string, ifMatch?: string): Promise<Buffer> {
  if (store.getBytes) return store.getBytes(bucket, key, ifMatch);
  return collect(await store.getStream(bucket, key, ifMatch));
}

export async function collect(body: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c as Buffer);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/**
 * Stages a small JSON Lines object held whole: gunzipped in one call, then the line pass and the
 * number quoter run over the whole buffer (no stream objects: on a bin of tiny files they cost
 * more CPU than the GET). A body that does not decompress cleanly within the buffer goes through
 * the stream stages instead, over the same bytes, so errors, caps and partial output are exactly
 * the stream path's. Throws as the stream path does: DecompressedTooLargeError, CorruptObjectError,
 * OverBufferError (staged bytes over the buffer: stream the object to its chunk).
 */
export async function stageSmallJson(
  body: Buffer,
  where: string,
  src: SourceFile,
  maxBytes: number,
  scanner?: RecordScanner,
  exact?: NumberFields,
): Promise<SmallJson> {
  let plain = body;
  if (isGzip(src)) {
    try {
      plain = gunzipSync(body, { maxOutputLength: BUFFER_LIMIT_BYTES });
    } catch {
      return streamSmall(body, where, src, maxBytes, scanner, exact);
    }
  }
  if (plain.length > BUFFER_LIMIT_BYTES) return streamSmall(body, where, src, maxBytes, scanner, exact);
  const pass = new JsonLinesPass(maxBytes, where, scanner);
  const staged = pass.feed(plain);
  const nl = pass.end();
  let bytes = nl ? Buffer.concat([staged, nl]) : staged;
  let changed = false;
  if (exact) {
    const q = new NumberQuoting(exact);
    const head = q.feed(bytes);
    const tail = q.end();
    bytes = tail ? Buffer.concat([head, tail]) : head;
    changed = q.changed;
  }
  if (bytes.length > BUFFER_LIMIT_BYTES) throw new OverBufferError(where);
  return { pass, bytes, changed };
}

/** The stream stages over a body already held. */
async function streamSmall(body: Buffer, where: string, src: SourceFile, maxBytes: number, scanner?: RecordScanner, exact?: NumberFields): Promise<SmallJson> {
  const counter = new JsonLinesCounter(maxBytes, where, scanner);
  const quoter = exact && new NumberQuoter(exact);
  const sink = new Collector(where);
  await streamBody(Readable.from([body]), where, src, [counter], [...(quoter ? [quoter] : []), sink]);
  return { pass: counter.pass, bytes: sink.take(), changed: !!quoter && quoter.changed };
}
