/**
 * An ObjectStore in memory that behaves like S3 where the pipeline depends on it: quoted MD5
 * ETags (multipart ones with their `-N` suffix), conditional writes (`If-None-Match: *`,
 * `If-Match`), conditional copies and deletes (412 per key), listings in pages of 1,000 taken
 * one page at a time (a key written meanwhile may or may not show up, as on S3), the 1,024-byte
 * key limit, and every operation atomic per key. Use-case tests and the race harness run on it;
 * `events` records every change, for checks that must not trust the pipeline's own view.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ConcurrentCommitError, SourceChangedError } from '../lambdas/core/errors';
import type { ListedObject } from '../lambdas/core/partitions';
import type { Clock, DeleteOutcome, DeleteTarget, ObjectRef, ObjectStore, WriteOptions } from '../lambdas/core/ports';

export interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: string;
}

/** One change to the store: what was written or deleted, replacing what. */
export interface StoreEvent {
  readonly seq: number;
  readonly at: string;
  readonly op: 'put' | 'delete';
  /** The method that made it: `putObject`/`deleteObject` for writes from outside the pipeline. */
  readonly via: string;
  readonly bucket: string;
  readonly key: string;
  /** ETag written, or deleted. */
  readonly etag: string;
  /** ETag of the object a write replaced. */
  readonly replaced?: string;
}

/** S3's multipart part size as the S3 adapter uploads (16 MB): larger files get a multipart ETag. */
const PART_BYTES = 16 * 1024 * 1024;
const PAGE = 1000;
const MAX_KEY_BYTES = 1024;

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

/** The ETag S3 gives a single PUT (`"<md5>"`) or a multipart upload (`"<md5 of part md5s>-<parts>"`). */
export function s3Etag(body: Buffer, partBytes?: number): string {
  if (!partBytes || body.length <= partBytes) return `"${md5(body).toString('hex')}"`;
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += partBytes) parts.push(md5(body.subarray(at, at + partBytes)));
  return `"${md5(Buffer.concat(parts)).toString('hex')}-${parts.length}"`;
}

/** An error as the SDK raises it for an S3 error response. */
function s3Error(name: string, status: number, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

/** Lets other actors run between steps, as a network round trip would. */
const tick = () => new Promise<void>((r) => setImmediate(r));

export class MemoryStore implements ObjectStore {
  private readonly buckets = new Map<string, Map<string, StoredObject>>();
  readonly events: StoreEvent[] = [];

  constructor(buckets: readonly string[], private readonly clock: Clock = { now: () => new Date() }) {
    for (const b of buckets) this.buckets.set(b, new Map());
  }

  private bucket(name: string): Map<string, StoredObject> {
    const b = this.buckets.get(name);
    if (!b) throw s3Error('NoSuchBucket', 404, `The specified bucket does not exist: ${name}`);
    return b;
  }

  private checkKey(key: string): void {
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw s3Error('KeyTooLongError', 400, 'Your key is too long');
  }

  /** Writes atomically under the conditions given (failing as the S3 adapter does); returns the ETag. */
  private write(via: string, bucket: string, key: string, body: Buffer, etag: string, cond: { ifMatch?: string; createOnly?: boolean } = {}): string {
    this.checkKey(key);
    const b = this.bucket(bucket);
    const current = b.get(key);
    if ((cond.createOnly && current) || (cond.ifMatch !== undefined && current?.etag !== cond.ifMatch)) {
      throw new ConcurrentCommitError(
        via === 'putJsonIf'
          ? `s3://${bucket}/${key} was changed by someone else (expected ${cond.ifMatch !== undefined ? `ETag ${cond.ifMatch}` : 'no object'})`
          : `s3://${bucket}/${key} already exists and is never replaced`,
      );
    }
    const at = this.clock.now().toISOString();
    b.set(key, { body, etag, lastModified: at });
    this.events.push({ seq: this.events.length, at, op: 'put', via, bucket, key, etag, ...(current ? { replaced: current.etag } : {}) });
    return etag;
  }

  private remove(via: string, bucket: string, key: string): void {
    const b = this.bucket(bucket);
    const current = b.get(key);
    if (!current) return;
    b.delete(key);
    this.events.push({ seq: this.events.length, at: this.clock.now().toISOString(), op: 'delete', via, bucket, key, etag: current.etag });
  }

  // Outside the port: what a producer or an operator does.

  /** A plain PutObject (no condition): returns the new ETag. */
  putObject(bucket: string, key: string, body: string | Buffer): string {
    const bytes = Buffer.from(body);
    return this.write('putObject', bucket, key, bytes, s3Etag(bytes));
  }

  deleteObject(bucket: string, key: string): void {
    this.remove('deleteObject', bucket, key);
  }

  object(bucket: string, key: string): StoredObject | undefined {
    return this.bucket(bucket).get(key);
  }

  /** Keys under `prefix`, in S3's (byte) order. */
  keys(bucket: string, prefix = ''): string[] {
    return [...this.bucket(bucket).keys()].filter((k) => k.startsWith(prefix)).sort(byteOrder);
  }

  // The port.

  async *list(bucket: string, prefix: string): AsyncIterable<ListedObject> {
    let after = '';
    for (;;) {
      await tick();
      const page = this.keys(bucket, prefix).filter((k) => byteOrder(k, after) > 0).slice(0, PAGE);
      for (const key of page) {
        const o = this.bucket(bucket).get(key);
        if (o) yield { key, size: o.body.length, etag: o.etag, lastModified: o.lastModified };
      }
      if (page.length < PAGE) return;
      after = page[page.length - 1];
    }
  }

  async getStream(bucket: string, key: string, ifMatch?: string): Promise<Readable> {
    await tick();
    const o = this.bucket(bucket).get(key);
    if (!o) throw new SourceChangedError(`s3://${bucket}/${key} vanished after planning`);
    if (ifMatch && o.etag !== ifMatch) throw new SourceChangedError(`s3://${bucket}/${key} changed after planning (ETag is no longer ${ifMatch})`);
    return Readable.from([o.body]);
  }

  async getBytes(bucket: string, key: string, ifMatch?: string): Promise<Buffer> {
    await tick();
    const o = this.bucket(bucket).get(key);
    if (!o) throw new SourceChangedError(`s3://${bucket}/${key} vanished after planning`);
    if (ifMatch && o.etag !== ifMatch) throw new SourceChangedError(`s3://${bucket}/${key} changed after planning (ETag is no longer ${ifMatch})`);
    return o.body;
  }

  async getJson<T>(bucket: string, key: string): Promise<T | undefined> {
    return (await this.getJsonVersioned<T>(bucket, key))?.value;
  }

  async getJsonVersioned<T>(bucket: string, key: string): Promise<{ value: T; etag: string } | undefined> {
    await tick();
    const o = this.bucket(bucket).get(key);
    return o && { value: JSON.parse(o.body.toString('utf8')) as T, etag: o.etag };
  }

  async putJson(bucket: string, key: string, value: unknown): Promise<void> {
    await tick();
    const body = Buffer.from(JSON.stringify(value));
    this.write('putJson', bucket, key, body, s3Etag(body));
  }

  async putText(bucket: string, key: string, body: string, _contentType: string): Promise<void> {
    await tick();
    const bytes = Buffer.from(body);
    this.write('putText', bucket, key, bytes, s3Etag(bytes));
  }

  async putJsonIf(bucket: string, key: string, value: unknown, ifMatch: string | undefined): Promise<void> {
    await tick();
    const body = Buffer.from(JSON.stringify(value));
    this.write('putJsonIf', bucket, key, body, s3Etag(body), ifMatch === undefined ? { createOnly: true } : { ifMatch });
  }

  async uploadFile(bucket: string, key: string, path: string, _contentType: string, options: WriteOptions = {}): Promise<{ bytes: number; etag: string }> {
    const body = await readFile(path);
    await tick();
    const etag = this.write('uploadFile', bucket, key, body, s3Etag(body, PART_BYTES), { createOnly: options.createOnly });
    return { bytes: body.length, etag };
  }

  async head(bucket: string, key: string): Promise<{ bytes: number; etag: string } | undefined> {
    await tick();
    const o = this.bucket(bucket).get(key);
    return o && { bytes: o.body.length, etag: o.etag };
  }

  async copy(from: ObjectRef, to: ObjectRef, ifMatch?: string, options: WriteOptions = {}): Promise<void> {
    await tick();
    const source = `s3://${from.bucket}/${from.key}`;
    const o = this.bucket(from.bucket).get(from.key);
    if (!o) throw new SourceChangedError(`${source} is missing`);
    if (ifMatch && o.etag !== ifMatch) throw new SourceChangedError(`${source} changed (ETag is no longer ${ifMatch})`);
    // CopyObject writes a single-part object: its ETag is the content's MD5.
    this.write('copy', to.bucket, to.key, o.body, s3Etag(o.body), { createOnly: options.createOnly });
  }

  async deleteKeys(bucket: string, targets: readonly DeleteTarget[]): Promise<DeleteOutcome> {
    const changed: string[] = [];
    const missing: string[] = [];
    for (let at = 0; at < targets.length; at += PAGE) {
      await tick();
      for (const t of targets.slice(at, at + PAGE)) {
        const o = this.bucket(bucket).get(t.key);
        if (t.etag !== undefined && !o) missing.push(t.key);
        else if (t.etag !== undefined && o!.etag !== t.etag) changed.push(t.key);
        else this.remove('deleteKeys', bucket, t.key);
      }
    }
    return { changed, missing };
  }
}

/** S3 lists keys in UTF-8 byte order. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
