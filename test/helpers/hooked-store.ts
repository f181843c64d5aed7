import type { Readable } from 'node:stream';
import type { ListedObject } from '../../lambdas/core/partitions';
import type { DeleteOutcome, DeleteTarget, ObjectRef, ObjectStore, WriteOptions } from '../../lambdas/core/ports';

export type StoreOp = 'list' | 'getStream' | 'getJson' | 'getJsonVersioned' | 'putJson' | 'putText' | 'putJsonIf' | 'uploadFile' | 'head' | 'copy' | 'deleteKeys';

/** One call as a hook sees it: the operation, its bucket and key (the target's, for a copy), and who made it. */
export interface StoreCall {
  readonly actor: string;
  readonly op: StoreOp;
  readonly bucket: string;
  readonly key: string;
  /** deleteKeys: the keys. */
  readonly keys?: readonly string[];
}

export interface Hook {
  readonly match: (call: StoreCall) => boolean;
  /** `before` the operation runs, or `after` it returned (a failed operation fires no `after`). */
  readonly when: 'before' | 'after';
  /** Runs once, while the caller waits: another actor acts here. Throwing fails the call. */
  readonly action: (call: StoreCall) => Promise<void> | void;
}

/**
 * Hooks shared by every actor's store: each fires once, at the first call it matches, and holds
 * that call until its action is done (a pause in the middle of a step, for another actor to act).
 */
export class Script {
  private hooks: Array<Hook & { fired: boolean }> = [];
  readonly calls: StoreCall[] = [];

  on(hook: Hook): void {
    this.hooks.push({ ...hook, fired: false });
  }

  clear(): void {
    this.hooks = [];
  }

  /** Hooks that never fired: a scenario whose pause point was never reached tested nothing. */
  pending(): number {
    return this.hooks.filter((h) => !h.fired).length;
  }

  async fire(call: StoreCall, when: 'before' | 'after'): Promise<void> {
    if (when === 'before') this.calls.push(call);
    for (const h of this.hooks) {
      if (h.fired || h.when !== when || !h.match(call)) continue;
      h.fired = true;
      await h.action(call);
    }
  }
}

/** An actor's view of a shared store: every call goes through the script's hooks. */
export class HookedStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly script: Script,
    readonly actor: string,
  ) {}

  private async run<T>(op: StoreOp, bucket: string, key: string, fn: () => Promise<T>, keys?: readonly string[]): Promise<T> {
    const call: StoreCall = { actor: this.actor, op, bucket, key, ...(keys ? { keys } : {}) };
    await this.script.fire(call, 'before');
    const out = await fn();
    await this.script.fire(call, 'after');
    return out;
  }

  async *list(bucket: string, prefix: string): AsyncIterable<ListedObject> {
    const call: StoreCall = { actor: this.actor, op: 'list', bucket, key: prefix };
    await this.script.fire(call, 'before');
    for await (const o of this.inner.list(bucket, prefix)) yield o;
    await this.script.fire(call, 'after');
  }
  getStream(bucket: string, key: string, ifMatch?: string): Promise<Readable> {
    return this.run('getStream', bucket, key, () => this.inner.getStream(bucket, key, ifMatch));
  }
  getJson<T>(bucket: string, key: string): Promise<T | undefined> {
    return this.run('getJson', bucket, key, () => this.inner.getJson<T>(bucket, key));
  }
  getJsonVersioned<T>(bucket: string, key: string) {
    return this.run('getJsonVersioned', bucket, key, () => this.inner.getJsonVersioned<T>(bucket, key));
  }
  putJson(bucket: string, key: string, value: unknown): Promise<void> {
    return this.run('putJson', bucket, key, () => this.inner.putJson(bucket, key, value));
  }
  putText(bucket: string, key: string, body: string, contentType: string): Promise<void> {
    return this.run('putText', bucket, key, () => this.inner.putText(bucket, key, body, contentType));
  }
  putJsonIf(bucket: string, key: string, value: unknown, ifMatch: string | undefined): Promise<void> {
    return this.run('putJsonIf', bucket, key, () => this.inner.putJsonIf(bucket, key, value, ifMatch));
  }
  uploadFile(bucket: string, key: string, path: string, contentType: string, options?: WriteOptions) {
    return this.run('uploadFile', bucket, key, () => this.inner.uploadFile(bucket, key, path, contentType, options));
  }
  head(bucket: string, key: string) {
    return this.run('head', bucket, key, () => this.inner.head(bucket, key));
  }
  copy(from: ObjectRef, to: ObjectRef, ifMatch?: string, options?: WriteOptions): Promise<void> {
    return this.run('copy', to.bucket, to.key, () => this.inner.copy(from, to, ifMatch, options));
  }
  deleteKeys(bucket: string, targets: readonly DeleteTarget[]): Promise<DeleteOutcome> {
    const keys = targets.map((t) => t.key);
    return this.run('deleteKeys', bucket, keys[0] ?? '', () => this.inner.deleteKeys(bucket, targets), keys);
  }
}
