import type { ColumnSchema } from './contracts';
import type { KafkaOffsets } from './kafka';
import type { PartitionValues } from './partitions';

/** A landing object whose rows a committed version holds: one entry per key (its committed ETag). */
export interface CoveredSource {
  readonly key: string;
  readonly etag: string;
  /** When the version that first held its rows was committed (ISO-8601): a rollback keeps the sources committed by then. */
  readonly committedAt: string;
  /**
   * When the catalog was read back pointing at a version holding its rows: the grace counts from
   * here. Absent until then (a catalog update that failed, and was not repaired yet).
   */
  readonly since?: string;
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
  /**
   * When the catalog was read back pointing at the version that replaced it: queries planned
   * before may still read it, so the grace counts from here. Absent until then.
   */
  readonly supersededAt?: string;
  /**
   * The intermediate files a merge made the version's files from (at stage keys): never a version
   * to roll back to, deleted after the grace like a replaced version.
   */
  readonly intermediate?: boolean;
}

/** The entry a version leaves in `superseded` when another one replaces it (superseded once the catalog shows the new one). */
export function supersede(state: PartitionState): SupersededVersion {
  return {
    version: state.version,
    location: state.location,
    files: state.files,
    rows: state.rows,
    committedAt: state.committedAt,
    ...(state.kafka ? { kafka: state.kafka } : {}),
  };
}

/**
 * The state once the catalog was read back pointing at its version, at `at`: the grace of its new
 * sources and of the versions it replaced starts now; what was verified earlier keeps its time.
 */
export function verified(state: PartitionState, at: string): PartitionState {
  return {
    ...state,
    verifiedAt: at,
    sources: state.sources.map((x) => (x.since ? x : { ...x, since: at })),
    superseded: state.superseded.map((v) => (v.supersededAt ? v : { ...v, supersededAt: at })),
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
  /** When the catalog was read back pointing at this version (commit, repair or rollback); absent until then. */
  readonly verifiedAt?: string;
  /** A catalog location an operator set by hand and the pipeline was told to keep (`catalog adopt`). */
  readonly catalogPin?: { readonly location: string; readonly at: string };
  /** Columns of the version's files (as written), so a lost catalog gets its columns back. */
  readonly schema?: readonly ColumnSchema[];
}

/** The columns of files written at different times, united by name in first-seen order. */
export function unitedSchema(...schemas: ReadonlyArray<readonly ColumnSchema[] | undefined>): ColumnSchema[] {
  const byName = new Map<string, ColumnSchema>();
  for (const s of schemas) for (const c of s ?? []) if (!byName.has(c.name)) byName.set(c.name, c);
  return [...byName.values()];
}

/** The versions a partition can be rolled back to (intermediates are not versions). */
export const earlierVersions = (state: PartitionState) => state.superseded.filter((v) => !v.intermediate);

/** The committed base a plan builds on: its gold files become inputs, its sources are already held. */
export interface CommittedBase {
  readonly version: string;
  /** When the base was committed: a rollback recommits an old version, and what is planned on it then gets new version ids. */
  readonly committedAt?: string;
  readonly files: readonly GoldFile[];
  readonly sourceIds: ReadonlySet<string>;
  readonly kafka?: KafkaOffsets;
}

export const sourceId = (key: string, etag: string) => `${key}\u0000${etag}`;

export function baseOf(state: PartitionState | undefined): CommittedBase | undefined {
  if (!state) return undefined;
  return {
    version: state.version,
    committedAt: state.committedAt,
    files: state.files,
    sourceIds: new Set(state.sources.map((s) => sourceId(s.key, s.etag))),
    ...(state.kafka ? { kafka: state.kafka } : {}),
  };
}
