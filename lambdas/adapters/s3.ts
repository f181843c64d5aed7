import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ConcurrentCommitError, RetryableError, SourceChangedError, VerificationError } from '../core/errors';
import type { ListedObject } from '../core/partitions';
import type { DeleteOutcome, DeleteTarget, ObjectRef, ObjectStore, WriteOptions } from '../core/ports';
import { mapLimit } from '../core/concurrency';
import { MULTIPART_PART_BYTES } from '../core/cost';
import { leanAddressable, leanGetterFor, type LeanS3Getter } from './s3-lean-get';
import { collect } from './small-json';

// The client's settings live beside it; importers take them from here as before.
export { makeS3Client, type S3Options } from './s3-client';

const MULTIPART_QUEUE = 4;
const DELETE_BATCHES_IN_FLIGHT = 4;

function isStatus(e: unknown, ...codes: number[]): boolean {
  return e instanceof S3ServiceException && codes.includes(e.$metadata?.httpStatusCode ?? 0);
}

function translate(e: unknown, what: string): never {
  if (isStatus(e, 500, 502, 503, 504) || (e as { name?: string })?.name === 'SlowDown') {
    throw new RetryableError(`S3 ${what}: ${(e as Error).message}`, { cause: e });
  }
  throw e;
}

const exists = (bucket: string, key: string, e: unknown) =>
  new ConcurrentCommitError(`s3://${bucket}/${key} already exists and is never replaced`, { cause: e });

/**
 * A key as `EncodingType=url` lists it: S3 percent-encodes the UTF-8 bytes and writes a space as
 * `+`. Undefined when the text is not such an encoding.
 */
export function decodeListedKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

export interface S3StoreOptions {
  /** Part size of multipart uploads (S3's minimum is 5 MB). */
  readonly multipartPartBytes?: number;
  /**
   * Object bodies (getStream, a bin's inputs) through the lean GET (s3-lean-get), signed with the
   * client's credentials; false: through the SDK's GetObject.
   * @default true
   */
  readonly leanGet?: boolean;
  /** Keep-alive connections of the lean GET. @default 64 */
  readonly getConnections?: number;
}

export class S3ObjectStore implements ObjectStore {
  private readonly partBytes: number;
  private lean?: Promise<LeanS3Getter | undefined>;

  constructor(private readonly s3: S3Client, private readonly options: S3StoreOptions = {}) {
    this.partBytes = options.multipartPartBytes ?? MULTIPART_PART_BYTES;
  }

  /** The lean getter for `bucket`, or undefined where the SDK must serve it (see leanAddressable, leanGetterFor). */
  private leanFor(bucket: string): Promise<LeanS3Getter | undefined> | undefined {
    if (this.options.leanGet === false || !leanAddressable(bucket)) return undefined;
    return (this.lean ??= leanGetterFor(this.s3, this.options.getConnections ?? 64));
  }

  /** Closes the lean GET's connections (a Lambda keeps them for its next invocation). */
  async close(): Promise<void> {
    const lean = await this.lean;
    this.lean = undefined;
    await lean?.close();
  }

  /**
   * Keys are listed URL-encoded: in plain XML a `\r` in a key comes back as `\n` (XML line-end
   * normalisation) and the object could never be read. A key that does not decode is yielded as
   * listed, with `keyError`, for the plan to report and skip.
   */
  async *list(bucket: string, prefix: string): AsyncIterable<ListedObject> {
    let token: string | undefined;
    do {
      const page = await this.s3
        .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, EncodingType: 'url' }))
        .catch((e) => translate(e, `list s3://${bucket}/${prefix}`));
      const encoded = page.EncodingType === 'url';
      for (const o of page.Contents ?? []) {
        const key = encoded ? decodeListedKey(o.Key!) : o.Key!;
        yield {
          key: key ?? o.Key!,
          size: o.Size ?? 0,
          etag: o.ETag ?? '',
          lastModified: (o.LastModified ?? new Date(0)).toISOString(),
          ...(key === undefined ? { keyError: `listed key ${JSON.stringify(o.Key)} is not a valid URL encoding` } : {}),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Retries: the lean GET's own attempts, or the SDK's maxAttempts on the SDK path, retry the
   * request; a body cut off later is the caller's to re-read (fetch-inputs' withRetries).
   */
  async getBytes(bucket: string, key: string, ifMatch?: string): Promise<Buffer> {
    const lean = await this.leanFor(bucket);
    return lean ? lean.getBytes(bucket, key, ifMatch) : collect(await this.getStream(bucket, key, ifMatch));
  }

  async getStream(bucket: string, key: string, ifMatch?: string): Promise<Readable> {
    const lean = await this.leanFor(bucket);
    if (lean) return (await lean.get(bucket, key, ifMatch)).body;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: ifMatch }));
      // Servers that ignore If-Match still return the ETag: compare it ourselves too.
      if (ifMatch && out.ETag && out.ETag !== ifMatch) {
        (out.Body as Readable).destroy();
        throw new SourceChangedError(`s3://${bucket}/${key} changed after planning: ETag ${out.ETag}, planned ${ifMatch}`);
      }
      return out.Body as Readable;
    } catch (e) {
      if (e instanceof SourceChangedError) throw e;
      if (isStatus(e, 412)) {
        throw new SourceChangedError(`s3://${bucket}/${key} changed after planning (ETag is no longer ${ifMatch})`, { cause: e });
      }
      if (isStatus(e, 404)) throw new SourceChangedError(`s3://${bucket}/${key} vanished after planning`, { cause: e });
      return translate(e, `get s3://${bucket}/${key}`);
    }
  }

  async getJson<T>(bucket: string, key: string): Promise<T | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return JSON.parse(await out.Body!.transformToString('utf8')) as T;
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      return translate(e, `get s3://${bucket}/${key}`);
    }
  }

  async putJson(bucket: string, key: string, value: unknown): Promise<void> {
    await this.s3
      .send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value), ContentType: 'application/json' }))
      .catch((e) => translate(e, `put s3://${bucket}/${key}`));
  }

  async putText(bucket: string, key: string, body: string, contentType: string): Promise<void> {
    await this.s3
      .send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }))
      .catch((e) => translate(e, `put s3://${bucket}/${key}`));
  }

  /**
   * Uploads and reads the size back: an upload whose request was cut off and retried can leave a
   * short object behind on some servers, so a size mismatch is uploaded again (3 attempts). A
   * create-only upload (`If-None-Match: *` on the PUT or on CompleteMultipartUpload) never
   * replaces anything (an existing key fails it with ConcurrentCommitError), so it cannot be
   * redone and is not read back: it returns the upload's own ETag, and whoever relies on the
   * object checks its size and ETag first (swap, before it commits a bin's output).
   */
  async uploadFile(bucket: string, key: string, path: string, contentType: string, options: WriteOptions = {}): Promise<{ bytes: number; etag: string }> {
    const { size } = await stat(path);
    for (let attempt = 1; ; attempt++) {
      const upload = new Upload({
        client: this.s3,
        params: { Bucket: bucket, Key: key, Body: createReadStream(path), ContentType: contentType, ...(options.createOnly ? { IfNoneMatch: '*' } : {}) },
        partSize: this.partBytes,
        queueSize: MULTIPART_QUEUE,
        leavePartsOnError: false,
      });
      const out = await upload.done().catch((e) => {
        if (options.createOnly && isStatus(e, 412, 409)) throw exists(bucket, key, e);
        return translate(e, `upload s3://${bucket}/${key}`);
      });
      if (options.createOnly && out.ETag) return { bytes: size, etag: out.ETag };
      const stored = await this.head(bucket, key);
      if (stored?.bytes === size) return { bytes: size, etag: out.ETag ?? stored.etag };
      if (options.createOnly) throw new VerificationError(`s3://${bucket}/${key} holds ${stored?.bytes ?? 'no'} bytes after an upload of ${size}; it is not replaced`);
      if (attempt >= 3) throw new RetryableError(`s3://${bucket}/${key} holds ${stored?.bytes ?? 'no'} bytes after ${attempt} uploads of ${size}`);
    }
  }

  async head(bucket: string, key: string): Promise<{ bytes: number; etag: string } | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { bytes: out.ContentLength ?? 0, etag: out.ETag ?? '' };
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      return translate(e, `head s3://${bucket}/${key}`);
    }
  }

  async getJsonVersioned<T>(bucket: string, key: string): Promise<{ value: T; etag: string } | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { value: JSON.parse(await out.Body!.transformToString('utf8')) as T, etag: out.ETag ?? '' };
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      return translate(e, `get s3://${bucket}/${key}`);
    }
  }

  async putJsonIf(bucket: string, key: string, value: unknown, ifMatch: string | undefined): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: JSON.stringify(value),
          ContentType: 'application/json',
          ...(ifMatch ? { IfMatch: ifMatch } : { IfNoneMatch: '*' }),
        }),
      );
    } catch (e) {
      if (isStatus(e, 412, 409)) {
        throw new ConcurrentCommitError(
          `s3://${bucket}/${key} was changed by someone else (expected ${ifMatch ? `ETag ${ifMatch}` : 'no object'})`,
          { cause: e },
        );
      }
      return translate(e, `conditional put s3://${bucket}/${key}`);
    }
  }

  async copy(from: ObjectRef, to: ObjectRef, ifMatch?: string, options: WriteOptions = {}): Promise<void> {
    const source = `s3://${from.bucket}/${from.key}`;
    try {
      await this.s3.send(
        new CopyObjectCommand({
          Bucket: to.bucket,
          Key: to.key,
          CopySource: `${from.bucket}/${encodeURIComponent(from.key).replace(/%2F/g, '/')}`,
          CopySourceIfMatch: ifMatch,
          ...(options.createOnly ? { IfNoneMatch: '*' } : {}),
        }),
      );
    } catch (e) {
      // Both conditions answer 412: the target tells which one failed.
      if (options.createOnly && isStatus(e, 412, 409) && (await this.head(to.bucket, to.key))) throw exists(to.bucket, to.key, e);
      if (isStatus(e, 412)) throw new SourceChangedError(`${source} changed (ETag is no longer ${ifMatch})`, { cause: e });
      if (isStatus(e, 404)) throw new SourceChangedError(`${source} is missing`, { cause: e });
      return translate(e, `copy ${source} to s3://${to.bucket}/${to.key}`);
    }
  }

  /** DeleteObjects, 1,000 keys a request; a target with an ETag is deleted only while it has it (S3 conditional delete). */
  async deleteKeys(bucket: string, targets: readonly DeleteTarget[]): Promise<DeleteOutcome> {
    const changed: string[] = [];
    const missing: string[] = [];
    const batches = Array.from({ length: Math.ceil(targets.length / 1000) }, (_, i) => targets.slice(i * 1000, i * 1000 + 1000));
    await mapLimit(batches, DELETE_BATCHES_IN_FLIGHT, async (batch) => {
      const out = await this.s3
        .send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((t) => ({ Key: t.key, ...(t.etag ? { ETag: t.etag } : {}) })), Quiet: true } }))
        .catch((e) => translate(e, `delete from s3://${bucket}`));
      const refused = [];
      for (const er of out.Errors ?? []) {
        if (er.Code === 'PreconditionFailed') changed.push(er.Key!);
        else if (er.Code === 'NoSuchKey') missing.push(er.Key!);
        else refused.push(er);
      }
      if (refused.length) {
        const named = refused.slice(0, 5).map((er) => `${er.Key} (${er.Code}: ${er.Message})`).join('; ');
        throw new RetryableError(`S3 refused to delete ${refused.length} object(s) in s3://${bucket}: ${named}`);
      }
    });
    return { changed, missing };
  }
}
