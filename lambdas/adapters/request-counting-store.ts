import { listPages, noRequests, uploadPutRequests, type RequestCounts, type S3RequestKind } from '../core/cost';
import type { ListedObject } from '../core/partitions';
import type { ObjectStore } from '../core/ports';
import { collect } from './small-json';

type Args<M extends keyof ObjectStore> = Parameters<NonNullable<ObjectStore[M]>>;

/**
 * Counts the S3 requests made through a store, by the kind S3 bills, as the S3 adapter makes them:
 * a listing is one LIST per page of 1,000 keys, an upload one PUT (or create, parts and complete)
 * plus the HEAD that reads its size back (none for a create-only upload), a batch delete one request per 1,000 keys. Failed
 * requests count too (S3 bills them); the SDK's own retries are not visible here.
 */
export class RequestCountingStore implements ObjectStore {
  private readonly counted = noRequests();

  constructor(private readonly inner: ObjectStore) {}

  get counts(): RequestCounts {
    return { ...this.counted };
  }

  private add<T>(kind: S3RequestKind, n: number, result: T): T {
    this.counted[kind] += n;
    return result;
  }

  async *list(...args: Args<'list'>): AsyncIterable<ListedObject> {
    let keys = 0;
    this.counted.LIST++;
    for await (const o of this.inner.list(...args)) {
      if (keys > 0 && listPages(keys + 1) > listPages(keys)) this.counted.LIST++;
      keys++;
      yield o;
    }
  }
  getStream(...args: Args<'getStream'>) {
    return this.add('GET', 1, this.inner.getStream(...args));
  }
  async getBytes(...args: Args<'getBytes'>): Promise<Buffer> {
    const inner = this.inner;
    return this.add('GET', 1, inner.getBytes ? inner.getBytes(...args) : inner.getStream(...args).then(collect));
  }
  getJson<T>(...args: Args<'getJson'>) {
    return this.add('GET', 1, this.inner.getJson<T>(...args));
  }
  getJsonVersioned<T>(...args: Args<'getJsonVersioned'>) {
    return this.add('GET', 1, this.inner.getJsonVersioned<T>(...args));
  }
  putJson(...args: Args<'putJson'>) {
    return this.add('PUT', 1, this.inner.putJson(...args));
  }
  putText(...args: Args<'putText'>) {
    return this.add('PUT', 1, this.inner.putText(...args));
  }
  putJsonIf(...args: Args<'putJsonIf'>) {
    return this.add('PUT', 1, this.inner.putJsonIf(...args));
  }
  head(...args: Args<'head'>) {
    return this.add('HEAD', 1, this.inner.head(...args));
  }
  copy(...args: Args<'copy'>) {
    return this.add('COPY', 1, this.inner.copy(...args));
  }
  async uploadFile(...args: Args<'uploadFile'>) {
    const out = await this.inner.uploadFile(...args);
    this.counted.PUT += uploadPutRequests(out.bytes);
    if (!args[4]?.createOnly) this.counted.HEAD++;
    return out;
  }
  deleteKeys(...args: Args<'deleteKeys'>) {
    return this.add('DELETE', Math.ceil(args[1].length / 1000), this.inner.deleteKeys(...args));
  }
}
