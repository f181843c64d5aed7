import type { Readable } from 'node:stream';
import type { ListedObject } from '../../lambdas/core/partitions';
import type { DeleteOutcome, DeleteTarget, ObjectRef, ObjectStore, WriteOptions } from '../../lambdas/core/ports';

/** What a crashed Lambda leaves behind: its process is gone mid-step. */
export class CrashError extends Error {
  constructor(where: string) {
    super(`simulated crash: ${where}`);
    this.name = 'States.TaskFailed';
  }
}

export type Fault =
  | { kind: 'none' }
  /** The bin's output is uploaded, the process dies before its manifest is written. */
  | { kind: 'before-manifest' }
  /** The partition state is committed, the process dies before the catalog is updated. */
  | { kind: 'after-state-write' }
  /** Some retirements are deleted, then the process dies. */
  | { kind: 'mid-delete' };

/** Delegates to a real store, failing at the configured point once. */
export class FaultyStore implements ObjectStore {
  fault: Fault = { kind: 'none' };
  fired = 0;

  constructor(private readonly inner: ObjectStore) {}

  private fire(where: string): never {
    this.fired++;
    this.fault = { kind: 'none' };
    throw new CrashError(where);
  }

  list(bucket: string, prefix: string): AsyncIterable<ListedObject> {
    return this.inner.list(bucket, prefix);
  }
  getStream(bucket: string, key: string, ifMatch?: string): Promise<Readable> {
    return this.inner.getStream(bucket, key, ifMatch);
  }
  getJson<T>(bucket: string, key: string): Promise<T | undefined> {
    return this.inner.getJson<T>(bucket, key);
  }
  async putJson(bucket: string, key: string, value: unknown): Promise<void> {
    if (this.fault.kind === 'before-manifest' && key.includes('/manifests/')) this.fire(`before writing ${key}`);
    return this.inner.putJson(bucket, key, value);
  }
  putText(bucket: string, key: string, body: string, contentType: string) {
    return this.inner.putText(bucket, key, body, contentType);
  }
  uploadFile(bucket: string, key: string, path: string, contentType: string, options?: WriteOptions) {
    return this.inner.uploadFile(bucket, key, path, contentType, options);
  }
  head(bucket: string, key: string) {
    return this.inner.head(bucket, key);
  }
  getJsonVersioned<T>(bucket: string, key: string) {
    return this.inner.getJsonVersioned<T>(bucket, key);
  }
  async putJsonIf(bucket: string, key: string, value: unknown, ifMatch: string | undefined): Promise<void> {
    if (this.fault.kind === 'before-manifest' && key.includes('/manifests/')) this.fire(`before writing ${key}`);
    await this.inner.putJsonIf(bucket, key, value, ifMatch);
    if (this.fault.kind === 'after-state-write' && key.endsWith('/state.json')) this.fire(`after writing ${key}`);
  }
  copy(from: ObjectRef, to: ObjectRef, ifMatch?: string, options?: WriteOptions) {
    return this.inner.copy(from, to, ifMatch, options);
  }
  async deleteKeys(bucket: string, targets: readonly DeleteTarget[]): Promise<DeleteOutcome> {
    if (this.fault.kind === 'mid-delete' && targets.length > 1) {
      await this.inner.deleteKeys(bucket, targets.slice(0, Math.floor(targets.length / 2)));
      this.fire(`after deleting ${Math.floor(targets.length / 2)} of ${targets.length} objects in ${bucket}`);
    }
    return this.inner.deleteKeys(bucket, targets);
  }
}
