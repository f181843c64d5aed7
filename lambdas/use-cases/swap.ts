import type { BinManifest, PlanOutput, StoredPlan, SwapOutput } from '../core/contracts';
import { ConcurrentCommitError, InvalidInputError } from '../core/errors';
import { carriedKey, manifestKey, stateKey, versionPrefix } from '../core/keys';
import type { Catalog, Clock, ObjectStore } from '../core/ports';
import { subtract } from '../core/intervals';
import { mergeOffsets, offsetGaps, offsetsOf, parseKafkaName, topicPartitionId, type KafkaOffsets } from '../core/kafka';
import { schemaDrift } from '../core/schema';
import type { TableSettings } from '../core/settings';
import { sourceId, supersede, unitedSchema, type CoveredSource, type GoldFile, type PartitionState } from '../core/state';
import { mapLimit } from '../core/concurrency';
import { syncCatalog } from './catalog-sync';
import { markPending, readIndex, statesOf } from './pending-index';
import { recordOutputRatios } from './output-ratios';
import { mergedFiles } from './merged-files';

export interface SwapDeps {
  readonly store: ObjectStore;
  readonly catalog: Catalog;
  readonly settings: TableSettings;
  readonly clock: Clock;
}

type PlannedPartition = StoredPlan['partitions'][number];
type Outcome =
  | { kind: 'committed'; state: PartitionState; rewritten: string[]; manifests: BinManifest[] }
  | { kind: 'unchanged'; state: PartitionState }
  | { kind: 'incomplete'; reason: string }
  | { kind: 'conflict'; reason: string };

/**
 * A Kafka object that left out duplicates counts as compacted only if the version holds each of
 * those offsets: when the copy kept instead went to quarantine, the object stays in landing (never
 * retired) and the next run takes the offset from it.
 */
function holdsDropped(held: KafkaOffsets, input: BinManifest['inputs'][number]): boolean {
  const k = input.dropped?.length ? parseKafkaName(input.key) : undefined;
  return !k || subtract(input.dropped!, held[topicPartitionId(k)] ?? []).length === 0;
}

export const locationOf = (bucket: string, prefix: string) => `s3://${bucket}/${prefix}`;

/**
 * Commits one partition's new version: only when every bin has a verified manifest, every file is
 * in place, the rows add up, and the partition is still at the version the plan was built on.
 * The state write is a compare-and-swap, so of two runs racing only one commits.
 */
async function commitPartition(deps: SwapDeps, plan: StoredPlan, p: PlannedPartition): Promise<Outcome> {
  const { store, settings: s } = deps;
  const stateAt = () => store.getJsonVersioned<PartitionState>(s.goldBucket, stateKey(s.table, p.path));
  // A merged partition's bin outputs are intermediates that lifecycle deletes after the grace:
  // once committed, it is unchanged whether or not they are still there.
  const early = p.merges?.length ? await stateAt() : undefined;
  if (early?.value.version === p.version) return { kind: 'unchanged', state: early.value };
  const manifests: BinManifest[] = [];
  for (const b of p.bins) {
    const m = await store.getJson<BinManifest>(s.goldBucket, manifestKey(s.table, p.path, p.version, b.binId));
    if (!m) return { kind: 'incomplete', reason: `bin ${b.binId} has no verified output` };
    const head = m.output.empty ? undefined : await store.head(s.goldBucket, m.output.key);
    if (!m.output.empty && (!head || head.bytes !== m.output.bytes)) return { kind: 'incomplete', reason: `output ${m.output.key} is missing or has the wrong size` };
    if (head && m.output.etag && head.etag !== m.output.etag) return { kind: 'incomplete', reason: `output ${m.output.key} is not the file its manifest verified (ETag ${head.etag}, verified ${m.output.etag})` };
    manifests.push({ ...m, output: { ...m.output, ...(head ? { etag: head.etag } : {}) } });
  }

  const current = p.merges?.length ? early : await stateAt();
  if (current?.value.version === p.version) return { kind: 'unchanged', state: current.value };
  if (current?.value.version !== p.baseVersion) {
    return {
      kind: 'conflict',
      reason: `${p.path} is at version ${current?.value.version ?? 'none'}, but this plan was built on ${p.baseVersion ?? 'none'}`,
    };
  }
  const base = current?.value;
  const now = deps.clock.now().toISOString();

  // Carried files are copied create-only: a copy an earlier attempt (or another run) made is kept.
  const carried: GoldFile[] = [];
  for (const f of p.carried) {
    const to = carriedKey(s.goldPrefix, p.path, p.version, f.key);
    await store.copy({ bucket: s.goldBucket, key: f.key }, { bucket: s.goldBucket, key: to }, f.etag, { createOnly: true }).catch((e) => {
      if (!(e instanceof ConcurrentCommitError)) throw e;
    });
    const head = await store.head(s.goldBucket, to);
    const known = base?.files.find((g) => g.key === f.key);
    if (!head || !known || head.bytes !== known.bytes) return { kind: 'incomplete', reason: `carried file ${f.key} could not be copied intact` };
    carried.push({ key: to, etag: head.etag, bytes: head.bytes, rows: known.rows });
  }

  // A merged partition commits the merges' files; its bins' files are intermediates, retired after the grace.
  const merged = p.merges?.length ? await mergedFiles(store, s, p, manifests, now) : undefined;
  if (merged && 'incomplete' in merged) return { kind: 'incomplete', reason: merged.incomplete };
  const files: GoldFile[] = [
    ...(merged ? merged.files : manifests.filter((m) => !m.output.empty).map((m) => ({ key: m.output.key, etag: m.output.etag ?? '', bytes: m.output.bytes, rows: m.output.rows }))),
    ...carried,
  ];
  const rows = files.reduce((n, f) => n + f.rows, 0);
  // Exactly once across versions: every row of the base is in the new version, through a
  // recompacted bin or a carried file.
  const baseRowsKept = manifests.flatMap((m) => m.inputs).filter((i) => i.fromGold).reduce((n, i) => n + i.rows, 0) + carried.reduce((n, f) => n + f.rows, 0);
  if (base && baseRowsKept !== base.rows) {
    return { kind: 'incomplete', reason: `version holds ${baseRowsKept} of the base version's ${base.rows} rows` };
  }
  if (rows === 0) return { kind: 'incomplete', reason: 'version holds no rows; an empty version never replaces data' };

  const kafka = mergeOffsets(base?.kafka, ...manifests.map((m) => offsetsOf(m.kafka)));
  const known = new Set((base?.sources ?? []).map((x) => sourceId(x.key, x.etag)));
  // Its grace starts once the catalog is read back pointing at this version (catalog-sync).
  const added: CoveredSource[] = manifests
    .flatMap((m) => m.inputs)
    .filter((i) => !i.fromGold && !known.has(sourceId(i.key, i.etag)) && holdsDropped(kafka, i))
    .map((i) => ({ key: i.key, etag: i.etag, committedAt: now }));
  // A key rewritten after its commit: its new content is new data, and one entry per key is kept
  // (the committed ETag's object is gone from landing; its rows are in the base version).
  const addedKeys = new Set(added.map((x) => x.key));
  const rewritten = (base?.sources ?? []).filter((x) => addedKeys.has(x.key)).map((x) => x.key);
  const state: PartitionState = {
    table: s.table,
    partition: p.path,
    values: p.values,
    version: p.version,
    location: locationOf(s.goldBucket, versionPrefix(s.goldPrefix, p.path, p.version)),
    planId: plan.planId,
    committedAt: now,
    rows,
    files,
    sources: [...(base?.sources ?? []).filter((x) => !addedKeys.has(x.key)), ...added],
    superseded: [...(base ? [...base.superseded, supersede(base)] : []), ...(merged ? [merged.intermediates] : [])],
    ...(Object.keys(kafka).length ? { kafka } : {}),
    ...(base?.catalogPin ? { catalogPin: base.catalogPin } : {}),
    schema: unitedSchema(base?.schema, ...manifests.map((m) => m.output.schema)),
  };
  // Indexed first: a run that dies after the commit leaves its partition indexed all the same.
  await markPending(store, s, { partition: p.path, version: p.version, ...(current ? { base: current.etag } : {}), at: now });
  try {
    await store.putJsonIf(s.goldBucket, stateKey(s.table, p.path), state, current?.etag);
  } catch (e) {
    if (e instanceof ConcurrentCommitError) return { kind: 'conflict', reason: `${p.path}: ${e.message}` };
    throw e;
  }
  return { kind: 'committed', state, rewritten, manifests };
}

/**
 * The states whose catalog entries swap brings in line: the partitions this run committed or found
 * committed, and every indexed one (unverified, drifted, or still retiring). A partition outside
 * the index has nothing pending and was verified once; `catalog repair` checks every partition.
 */
async function statesToSync(deps: SwapDeps, touched: readonly PartitionState[]): Promise<PartitionState[]> {
  const { store, settings: s } = deps;
  const known = new Set(touched.map((st) => st.partition));
  const indexed = await readIndex(store, s, known);
  const others = [...new Set(indexed.map((x) => x.entry.partition))].filter((p) => !known.has(p));
  const states = (await statesOf(store, s, others)).flatMap((got) => (got ? [got.value] : []));
  return [...touched, ...states];
}

/**
 * The swap step: commit every complete partition of the plan, then bring the catalog in line with
 * the committed states of this run's and the indexed partitions, so a run that died between the
 * two is repaired by the next one.
 */
export async function swapPlan(deps: SwapDeps, planOutput: PlanOutput): Promise<SwapOutput> {
  const { store, settings: s } = deps;
  const plan = await store.getJson<StoredPlan>(planOutput.planBucket, planOutput.planKey);
  if (!plan) throw new InvalidInputError(`plan s3://${planOutput.planBucket}/${planOutput.planKey} not found`);
  if (plan.table !== s.table) throw new InvalidInputError(`plan ${plan.planId} is for table ${plan.table}, not ${s.table}`);
  // The catalog is read before anything is committed: one that cannot be read fails the run here.
  const columns = await deps.catalog.getColumns();

  const outcomes = await mapLimit(plan.partitions, 8, (p) => commitPartition(deps, plan, p));
  // Schema drift: columns the new files have and the table lacks are appended before readers see
  // them; columns of committed versions a lost catalog no longer has come back.
  const committedManifests = outcomes.flatMap((o) => (o.kind === 'committed' ? o.manifests : []));
  const written = committedManifests.map((m) => m.output.schema);
  const states = await statesToSync(deps, outcomes.flatMap((o) => (o.kind === 'committed' || o.kind === 'unchanged' ? [o.state] : [])));
  const drift = schemaDrift(columns, written, s.partitionKeys);
  const restored = schemaDrift([...columns, ...drift.append], states.map((st) => st.schema ?? []), s.partitionKeys).append;
  await deps.catalog.appendColumns([...drift.append, ...restored]);
  const sync = await syncCatalog(deps, states);
  // Each bin measures its formats' output ratios once: when its version is committed.
  const ratios = await recordOutputRatios(store, s, committedManifests);

  const kafkaGaps = outcomes.flatMap((o) =>
    o.kind === 'committed' && o.state.kafka
      ? offsetGaps(o.state.kafka).map((g) => `${g.topicPartition} in ${o.state.partition}: ${g.gaps.map(([a, b]) => (b - a === 1 ? `${a}` : `${a}-${b - 1}`)).join(', ')}`)
      : [],
  );
  const conflicts = outcomes.flatMap((o) => (o.kind === 'conflict' ? [o.reason] : []));
  if (conflicts.length) {
    throw new ConcurrentCommitError(`${conflicts.length} partition(s) were committed by another run and left as they are: ${conflicts.slice(0, 5).join('; ')}`);
  }
  const incomplete = plan.partitions.flatMap((p, i) => {
    const o = outcomes[i];
    return o.kind === 'incomplete' ? [`${p.path}: ${o.reason}`] : [];
  });
  return {
    committed: outcomes.filter((o) => o.kind === 'committed').length,
    unchanged: outcomes.filter((o) => o.kind === 'unchanged').length,
    incomplete: incomplete.length,
    incompletePartitions: incomplete.slice(0, 20),
    catalogUpdated: sync.updated,
    columnsAdded: [...drift.append, ...restored].map((c) => `${c.name} ${c.type}`),
    schemaConflicts: drift.conflicts,
    kafkaGaps: kafkaGaps.slice(0, 20),
    catalogDrift: sync.drift.slice(0, 20),
    rewrittenSources: outcomes.flatMap((o) => (o.kind === 'committed' ? o.rewritten : [])).slice(0, 20),
    ...(ratios.warnings.length ? { warnings: ratios.warnings } : {}),
  };
}
