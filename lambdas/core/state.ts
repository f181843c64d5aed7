import type { KafkaOffsets } from './kafka';
import type { PartitionValues } from './partitions';

/** A landing object whose rows a committed version holds, and since when. */
export interface CoveredSource {
  readonly key: string;
  readonly etag: string;
  /** When a committed version first held this source's rows (ISO-8601): grace counts from here. */
  readonly since: string;
}

export interface GoldFile {
  readonly key: string;
  readonly etag: string;
  readonly bytes: number;
  readonly rows: number;
}

export interface SupersededVersion {
  readonly version: string;
  readonly location: string;
  readonly files: readonly GoldFile[];
  readonly rows: number;
  readonly committedAt: string;
  readonly kafka?: KafkaOffsets;
  /** When the catalog stopped pointing at it: queries started before may still read it. */
  readonly supersededAt: string;
}

/** The entry a version leaves in `superseded` when another one replaces it. */
export function supersede(state: PartitionState, at: string): SupersededVersion {
  return {
    version: state.version,
    location: state.location,
    files: state.files,
    rows: state.rows,
    committedAt: state.committedAt,
    ...(state.kafka ? { kafka: state.kafka } : {}),
    supersededAt: at,
  };
}

/**
 * What a partition's catalog entry points at, kept by the pipeline in the gold bucket.
 * Written only by a conditional (compare-and-swap) commit.
 */
export interface PartitionState {
  readonly table: string;
  readonly partition: string;
  readonly values: PartitionValues;
  readonly version: string;
  /** `s3://bucket/prefix/` of the version. */
  readonly location: string;
  readonly planId: string;
  readonly committedAt: string;
  readonly rows: number;
  readonly files: readonly GoldFile[];
  readonly sources: readonly CoveredSource[];
  readonly superseded: readonly SupersededVersion[];
  /** Kafka Connect offsets the version holds per topic-partition: a redelivery is never written twice. */
  readonly kafka?: KafkaOffsets;
}

/** The committed base a plan builds on: its gold files become inputs, its sources are already held. */
export interface CommittedBase {
  readonly version: string;
  readonly files: readonly GoldFile[];
  readonly sourceIds: ReadonlySet<string>;
  readonly kafka?: KafkaOffsets;
}

export const sourceId = (key: string, etag: string) => `${key}\u0000${etag}`;

export function baseOf(state: PartitionState | undefined): CommittedBase | undefined {
  if (!state) return undefined;
  return {
    version: state.version,
    files: state.files,
    sourceIds: new Set(state.sources.map((s) => sourceId(s.key, s.etag))),
    ...(state.kafka ? { kafka: state.kafka } : {}),
  };
}
