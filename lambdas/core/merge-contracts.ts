/**
 * Payloads of the merge stage: a partition compacted into more bins than target-size files has
 * its bins write intermediate files to stage keys, and merges write the version's files from them.
 */
import type { ColumnSchema } from './contracts';

/** One item of the second Distributed Map: a reference to a merge spec, small whatever the merge. */
export type { MergeItem } from './payloads';

/** Everything the merge step needs, stored in S3 by the plan step. */
export interface MergeSpec {
  readonly table: string;
  readonly planId: string;
  readonly mergeId: string;
  readonly partition: string;
  readonly version: string;
  /** The bins whose intermediate files this merge reads, in plan order (it fixes the output split). */
  readonly bins: ReadonlyArray<{ readonly binId: string; readonly manifestKey: string; readonly outputKey: string }>;
  readonly manifestKey: string;
  readonly targetBytes: number;
}

/** A file the merge read or wrote, with the proof of its rows. */
export interface MergedFile {
  readonly key: string;
  readonly etag: string;
  readonly bytes: number;
  readonly rows: number;
  /** Order-independent sum of row hashes, as the compact step records it. */
  readonly checksum: string;
}

/** Written last by the merge step: its outputs hold exactly the rows of its inputs. */
export interface MergeManifest {
  readonly table: string;
  readonly planId: string;
  readonly mergeId: string;
  readonly partition: string;
  readonly version: string;
  readonly inputs: ReadonlyArray<MergedFile & { readonly binId: string }>;
  readonly outputs: ReadonlyArray<MergedFile & { readonly schema: ColumnSchema[] }>;
  readonly rows: number;
  readonly checksum: string;
  readonly timings: { readonly fetchMs: number; readonly mergeMs: number; readonly uploadMs: number };
}

/** What the merge step returns per merge (also what the Map's ResultWriter stores). */
export interface MergeOutput {
  readonly mergeId: string;
  readonly partition: string;
  readonly version: string;
  readonly manifestKey: string;
  readonly inputFiles: number;
  readonly outputFiles: number;
  readonly rows: number;
  readonly outputBytes: number;
}

/** Sum of 128-bit checksums given as decimal text: row-hash sums of several files add up exactly. */
export const sumChecksums = (sums: readonly string[]) => sums.reduce((a, s) => a + BigInt(s), 0n).toString();
