// s3rver ships no types: the part of its surface the loopback server uses.
declare module 's3rver' {
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    directory: string;
    silent?: boolean;
  }

  class S3rver {
    constructor(options: S3rverOptions);
    /** Koa's middleware list; the router is its last entry. */
    readonly middleware: unknown[];
    readonly store: {
      getMetadata(bucket: string, key: string): Promise<{ etag: string }>;
      deleteObject(bucket: string, key: string): Promise<void>;
    };
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }

  export = S3rver;
}
