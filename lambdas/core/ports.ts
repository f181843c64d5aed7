import type { Readable } from 'node:stream';
import type { ListedObject } from './partitions';

/** The object storage the use-cases need; S3 in production, any S3-compatible server locally. */
export interface ObjectStore {
  list(bucket: string, prefix: string): AsyncIterable<ListedObject>;
  /** Body of one object; fails with SourceChangedError when its ETag is no longer `ifMatch`. */
  getStream(bucket: string, key: string, ifMatch?: string): Promise<Readable>;
  getJson<T>(bucket: string, key: string): Promise<T | undefined>;
  putJson(bucket: string, key: string, value: unknown): Promise<void>;
  /** Uploads a local file (multipart when large) and returns the stored size. */
  uploadFile(bucket: string, key: string, path: string, contentType: string): Promise<{ bytes: number; etag: string }>;
  head(bucket: string, key: string): Promise<{ bytes: number; etag: string } | undefined>;
}

/** Wall-clock source, injected so that core and use-cases stay deterministic in tests. */
export interface Clock {
  now(): Date;
}
