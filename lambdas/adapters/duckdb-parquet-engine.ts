/** The Parquet engine port on DuckDB, with the fetch's own reading of every input. */
import { rm } from 'node:fs/promises';
import type { CompactedBin, EngineOptions, StageOptions } from '../core/engine-contracts';
import { contentId } from '../core/hash';
import { unreadableParquetReason } from '../core/input-rules';
import type { Intervals } from '../core/intervals';
import type { SourceFile } from '../core/partitions';
import type { Clock, ObjectStore, ParquetEngine, StagedBin, Workspace } from '../core/ports';
import { dropRecords } from './bad-records';
import { compactToParquet } from './duckdb-engine';
import { parquetChecksum, parquetFooters } from './duckdb-footers';
import { mergeParquet, parquetFacts } from './duckdb-merge';
import { fetchInputs, type StagedInputs } from './fetch-inputs';
import { localScratch } from './local-scratch';
import { countJsonRecords, downloadObject, originalLines } from './object-readers';
import { systemClock } from './system-clock';

/** A bin staged on local disk; the engine's passes change its StagedInputs, nothing else does. */
class DuckDbStagedBin implements StagedBin {
  constructor(
    private readonly staged: StagedInputs,
    readonly records: ReadonlyMap<string, number>,
    private readonly ws: Workspace,
  ) {}

  async compact(drop: ReadonlyMap<string, Intervals>, outPath: string, o: EngineOptions): Promise<CompactedBin> {
    const { staged } = this;
    // JSON duplicates are emptied in their chunk; Parquet ones are left out by row position.
    await dropRecords(staged, drop);
    const result = await compactToParquet(staged, this.ws.path('engine'), outPath, { ...o, dropRows: drop });
    const inputRows = new Map(staged.files.map((f) => [f.source.key, result.written ? (result.fileRows.get(f.path) ?? 0) : 0]));
    for (const [key, rows] of staged.jsonRows) inputRows.set(key, rows);
    return { ...result, inputRows, setAside: [...staged.setAside], rewritten: staged.rewritten };
  }
}

export const duckdbParquetEngine: ParquetEngine = {
  async stage(store, buckets, files, ws, o: StageOptions) {
    const staged = await fetchInputs(store, buckets, files, ws.path('in'), o);
    // A landing object that is not readable Parquet is set aside whole; the rest is compacted.
    const landingParquet = staged.files.filter((f) => f.source.format === 'parquet' && !f.source.fromGold);
    const footers = await parquetFooters(landingParquet.map((f) => f.path));
    for (const f of landingParquet) {
      const message = footers.unreadable.get(f.path);
      if (message !== undefined) staged.setFileAside(f, unreadableParquetReason(message.split(f.path).join(`s3://${buckets.landing}/${f.source.key}`)));
    }
    const records = new Map([...staged.jsonRows, ...staged.files.flatMap((f) => (footers.rows.has(f.path) ? [[f.source.key, footers.rows.get(f.path)!] as const] : []))]);
    return new DuckDbStagedBin(staged, records, ws);
  },

  async countRecords(store: ObjectStore, bucket: string, f: SourceFile, ws: Workspace, o) {
    if (f.format !== 'parquet') return countJsonRecords(store, bucket, f, o);
    const path = ws.path(`count-${contentId([f.key, f.etag])}.parquet`);
    try {
      await downloadObject(store, bucket, f, path);
      // Unreadable: its own bin sets it aside, so it holds no offsets.
      return (await parquetFooters([path])).rows.get(path) ?? 0;
    } finally {
      await rm(path, { force: true });
    }
  },

  storedLines: (store, bucket, file, lines, o) => originalLines(store, bucket, file, lines, o),
  checksum: parquetChecksum,
  facts: parquetFacts,
  merge: (inputs, outPaths, ws, o) => mergeParquet(inputs, outPaths, ws.path('spill'), o),
};

/** What the compact and merge steps run with besides store and settings: DuckDB, local scratch under `scratchDir`, a clock. */
export const duckdbStepDeps = (scratchDir: string, clock: Clock = systemClock) => ({ parquet: duckdbParquetEngine, scratch: localScratch(scratchDir), clock });
