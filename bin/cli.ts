/**
 * Runs the pipeline's steps in this process against any S3 endpoint (AWS, MinIO, Ceph, ...):
 *
 *   npm run compact -- run      --landing-bucket B --gold-bucket G --table T [options]
 *   npm run compact -- plan     ... (dry run: print the plan only)
 *   npm run compact -- retire   ... [--dry-run]   (lifecycle: retire what is past its grace)
 *   npm run compact -- rollback ... --partition dt=2024-12-19/hour=14 --version <v>
 *   npm run compact -- status   ...
 *
 * Options: --endpoint URL (S3-compatible; path-style), --landing-prefix, --gold-prefix
 * (default <table>/), --partition-keys dt,hour, --target-mb 512 (64-1024), --compression
 * snappy|zstd, --sort-by col,col, --partitions dt=2024-12-19,... (filter), --grace-days 3,
 * --catalog-file FILE (a local catalog; default) or --glue-database DB (the Glue table T).
 * Credentials come from the usual AWS environment (AWS_ACCESS_KEY_ID, profiles, ...).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GlueClient } from '@aws-sdk/client-glue';
import { GlueCatalog } from '../lambdas/adapters/glue-catalog';
import { LocalCatalog } from '../lambdas/adapters/local-catalog';
import { logger } from '../lambdas/adapters/logger';
import { makeS3Client, S3ObjectStore } from '../lambdas/adapters/s3';
import type { BinItem } from '../lambdas/core/contracts';
import { CompactorError } from '../lambdas/core/errors';
import { statePrefix } from '../lambdas/core/keys';
import type { Catalog } from '../lambdas/core/ports';
import { Env, parseEngineSettings, parseRunRequest, parseTableSettings } from '../lambdas/core/settings';
import type { PartitionState } from '../lambdas/core/state';
import { compactBin } from '../lambdas/use-cases/compact-bin';
import { retireCompacted } from '../lambdas/use-cases/lifecycle';
import { planRun } from '../lambdas/use-cases/plan-run';
import { rollbackPartition } from '../lambdas/use-cases/rollback';
import { swapPlan } from '../lambdas/use-cases/swap';

const COMMANDS = ['run', 'plan', 'retire', 'rollback', 'status'] as const;
const DAY_MS = 86_400_000;

async function main(argv: string[]): Promise<void> {
  const { positionals, values: v } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      endpoint: { type: 'string' },
      'landing-bucket': { type: 'string' },
      'gold-bucket': { type: 'string' },
      table: { type: 'string' },
      'landing-prefix': { type: 'string' },
      'gold-prefix': { type: 'string' },
      'partition-keys': { type: 'string' },
      'target-mb': { type: 'string' },
      compression: { type: 'string' },
      'sort-by': { type: 'string' },
      partitions: { type: 'string' },
      'grace-days': { type: 'string' },
      'catalog-file': { type: 'string' },
      'glue-database': { type: 'string' },
      partition: { type: 'string' },
      version: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'scratch-dir': { type: 'string' },
    },
  });
  const command = positionals[0] as (typeof COMMANDS)[number];
  if (!COMMANDS.includes(command)) throw new Error(`usage: compact <${COMMANDS.join('|')}> --landing-bucket B --gold-bucket G --table T [options]; see bin/cli.ts`);
  logger.setLogLevel('WARN');

  // The same settings parsing the Lambdas use, fed from flags.
  const vars: Record<string, string | undefined> = {
    [Env.TableName]: v.table,
    [Env.LandingBucket]: v['landing-bucket'],
    [Env.GoldBucket]: v['gold-bucket'],
    [Env.LandingPrefix]: v['landing-prefix'],
    [Env.GoldPrefix]: v['gold-prefix'],
    [Env.PartitionKeys]: v['partition-keys'],
    [Env.TargetFileMb]: v['target-mb'],
    [Env.Compression]: v.compression,
    [Env.SortBy]: v['sort-by'],
    [Env.GraceDays]: v['grace-days'],
    [Env.ScratchDir]: v['scratch-dir'] ?? join(tmpdir(), 'compactor'),
  };
  const settings = parseTableSettings(vars);
  const engine = parseEngineSettings(vars);
  const store = new S3ObjectStore(makeS3Client({ endpoint: v.endpoint }));
  const catalog: Catalog = v['glue-database']
    ? new GlueCatalog(new GlueClient({}), v['glue-database'], settings.table)
    : new LocalCatalog(v['catalog-file'] ?? join(process.cwd(), `.compactor-catalog-${settings.table}.json`));
  const clock = { now: () => new Date() };
  const request = parseRunRequest(
    { table: settings.table, ...(v.partitions ? { partitions: v.partitions.split(',') } : {}), ...(command === 'plan' || v['dry-run'] ? { dryRun: true } : {}) },
    settings,
  );

  if (command === 'plan' || command === 'run') {
    const { output, plan, report } = await planRun({ store, settings, clock }, request);
    console.log(`plan ${output.planId}: ${output.bins} bin(s), ${output.inputFiles} files, ${output.inputBytes} bytes -> s3://${output.planBucket}/${output.planKey}`);
    for (const p of plan.partitions) {
      console.log(`  ${p.path} -> v=${p.version}: ${p.bins.map((b) => `${b.fileCount} files/${b.inputBytes} B (~${b.estimatedOutputBytes} B out)`).join(', ')}${p.carried.length ? `, ${p.carried.length} carried` : ''}`);
    }
    for (const h of report.held) console.log(`  held ${h.path}: ${h.reason} (${h.smallFiles} small files)`);
    const skipped = Object.entries(report.skipped).filter(([, n]) => n > 0);
    if (skipped.length) console.log(`  skipped keys: ${skipped.map(([r, n]) => `${r} ${n}`).join(', ')}`);
    if (command === 'plan' || request.dryRun) return;
    const items = (await store.getJson<BinItem[]>(output.planBucket, output.itemsKey)) ?? [];
    for (const [i, item] of items.entries()) {
      const out = await compactBin({ store, settings, engine }, item);
      console.log(`  bin ${i + 1}/${items.length} ${item.partition}: ${out.inputRows} rows -> s3://${settings.goldBucket}/${out.outputKey} (${out.outputBytes} B), verified`);
    }
    const swap = await swapPlan({ store, catalog, settings, clock }, output);
    console.log(`swap: ${JSON.stringify(swap)}`);
    return;
  }
  if (command === 'retire') {
    const out = await retireCompacted({ store, catalog, settings, clock, graceMs: settings.graceDays * DAY_MS }, v['dry-run']);
    console.log(JSON.stringify({ retired: out.retired, waiting: out.waiting, unverified: out.unverified, changedAfterCommit: out.changedAfterCommit }));
    for (const k of out.wouldRetire) console.log(`  would retire ${k}`);
    return;
  }
  if (command === 'rollback') {
    if (!v.partition || !v.version) throw new Error('rollback needs --partition <path> and --version <v>');
    const st = await rollbackPartition({ store, catalog, settings, clock }, v.partition, v.version);
    console.log(`${v.partition} -> ${st.location} (${st.rows} rows)`);
    return;
  }
  // status
  for await (const o of store.list(settings.goldBucket, statePrefix(settings.table))) {
    if (!o.key.endsWith('/state.json')) continue;
    const st = (await store.getJson<PartitionState>(settings.goldBucket, o.key))!;
    console.log(`${st.partition}: v=${st.version} ${st.rows} rows in ${st.files.length} file(s), committed ${st.committedAt}; earlier: ${st.superseded.map((x) => x.version).join(', ') || 'none'}`);
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof CompactorError ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
