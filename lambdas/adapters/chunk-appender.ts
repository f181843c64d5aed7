import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { CompactorError, ErrorNames } from '../core/errors';

/**
 * A small object is read whole into memory and appended to its chunk in one write: opening,
 * truncating and stat-ing the chunk file per object cost more CPU than the GET itself on a bin
 * of tiny files (`node --cpu-prof bench/fetch-profile.ts`). A failed attempt leaves nothing
 * in the chunk, so its retry needs no truncation.
 */
export const SMALL_OBJECT_BYTES = 1024 * 1024;
/** A small object that grows past this once decompressed is streamed to its chunk instead. */
export const BUFFER_LIMIT_BYTES = 8 * 1024 * 1024;

/** The object did not fit the buffer: read it again through the streaming path. Never leaves the fetch. */
export class OverBufferError extends CompactorError {
  readonly retryable = false;
  constructor(label: string) {
    super(ErrorNames.InvalidInput, `${label} is over ${BUFFER_LIMIT_BYTES} bytes decompressed: streamed instead`);
  }
}

/** Collects what a pipeline writes, up to the limit. */
export class Collector extends Writable {
  private parts: Buffer[] = [];
  bytes = 0;
  constructor(private readonly label: string) {
    super();
  }
  _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > BUFFER_LIMIT_BYTES) return done(new OverBufferError(this.label));
    this.parts.push(chunk);
    done();
  }
  take(): Buffer {
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    return all;
  }
}

/** Appends are batched into writes of about this size (one write per tiny object costs as much as its GET). */
const FLUSH_BYTES = 1024 * 1024;

/** One open append handle per chunk file, kept across objects; writes batched. */
export class ChunkAppender {
  private path = '';
  private fh?: FileHandle;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  async append(path: string, bytes: Buffer): Promise<void> {
    if (path !== this.path) {
      await this.close();
      this.fh = await open(path, 'a');
      this.path = path;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  /** Writes what is batched: before anything else writes to the chunk, and before it is read. */
  async flush(): Promise<void> {
    if (!this.fh || !this.pendingBytes) return;
    const all = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    let at = 0;
    while (at < all.length) at += (await this.fh.write(all, at, all.length - at)).bytesWritten;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh?.close();
    this.fh = undefined;
    this.path = '';
  }
}
