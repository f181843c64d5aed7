/**
 * Runs the pipeline's steps in this process against any S3 endpoint (AWS, MinIO, Ceph, ...):
 *
 *   npm run compact -- run      --landing-bucket B --gold-bucket G --table T [options]
 *   npm run compact -- plan     ... (dry run: print the plan only)
 *   npm run compact -- retire   ... [--dry-run]   (lifecycle: retire what is past its grace)
 *   npm run compact -- rollback ... --partition dt=2024-12-19/hour=14 --version <v>
 *   npm run compact -- status   ...
 *   npm run compact -- catalog status|adopt|overrule ... [--partition P]   (catalog entries set by hand)
 *
 * `run`, `retire`, `rollback` and `catalog adopt|overrule` take the table's run lease, as a
 * workflow execution does: one run per table at a time, the CLI's included. Its holder is
 * `cli:<host>:<pid>:<start>`, renewed every 30 s and free 2 minutes after its last renewal (at
 * once on the same host when the process is gone).
 *
 * Options: --endpoint URL (S3-compatible; path-style), --landing-prefix, --gold-prefix
 * (default <table>/), --partition-keys dt,hour, --target-mb 512 (64-1024), --compression
 * snappy|zstd, --sort-by col,col, --partitions dt=2024-12-19,... (filter), --grace-days 3,
 * --catalog-file FILE (a local catalog; default) or --glue-database DB (the Glue table T).
 * Credentials come from the usual AWS environment (AWS_ACCESS_KEY_ID, profiles, ...).
 */
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GlueClient } from '@aws-sdk/client-glue';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GlueCatalog } from '../lambdas/adapters/glue-catalog';
import { LocalCatalog } from '../lambdas/adapters/local-catalog';
import { LocalProcesses } from '../lambdas/adapters/local-processes';
import { logger } from '../lambdas/adapters/logger';
import { makeS3Client, S3ObjectStore } from '../lambdas/adapters/s3';
import { StepFunctionsExecutions } from '../lambdas/adapters/sfn-executions';
import type { SwapOutput } from '../lambdas/core/contracts';
import { CompactorError } from '../lambdas/core/errors';
import { statePrefix } from '../lambdas/core/keys';
import { cliHolder } from '../lambdas/core/lease';
import type { Catalog, ExecutionStatus } from '../lambdas/core/ports';
import { US_EAST_1_PRICES } from '../lambdas/core/cost';
import { costLines } from '../lambdas/core/run-report';
import { Env, parseEngineSettings, parseRunRequest, parseTableSettings } from '../lambdas/core/settings';
import type { PartitionState } from '../lambdas/core/state';
import { adoptCatalogEntry, catalogStatus, overruleCatalogEntry } from '../lambdas/use-cases/catalog-sync';
import { retireCompacted } from '../lambdas/use-cases/lifecycle';
import { planRun } from '../lambdas/use-cases/plan-run';
import { rollbackPartition } from '../lambdas/use-cases/rollback';
import { runLocally, underLease, type LocalRunDeps } from './local-run';

const COMMANDS = ['run', 'plan', 'retire', 'rollback', 'status', 'catalog'] as const;
const DAY_MS = 86_400_000;

/** Workflow executions holding the lease, asked in their own region. */
const stepFunctions: ExecutionStatus = {
  isRunning: (arn) => new StepFunctionsExecutions(new SFNClient({ region: arn.split(':')[3] || undefined })).isRunning(arn),
};

function printSwap(swap: SwapOutput): void {
  console.log(`swap: ${JSON.stringify(swap)}`);
  for (const d of swap.catalogDrift) console.log(`  catalog drift (kept): ${d}`);
  for (const k of swap.rewrittenSources) console.log(`  rewritten after its commit, added again as new data: ${k}`);
}

export async function main(argv: string[]): Promise<void> {
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
    // Each bin works in its own directory below this one, so runs may share it.
    [Env.ScratchDir]: v['scratch-dir'] ?? join(tmpdir(), 'compactor'),
  };
  const settings = parseTableSettings(vars);
  const engine = parseEngineSettings(vars);
  const store = new S3ObjectStore(makeS3Client({ endpoint: v.endpoint }));
  const catalog: Catalog = v['glue-database']
    ? new GlueCatalog(new GlueClient({}), v['glue-database'], settings.table)
    : new LocalCatalog(v['catalog-file'] ?? join(process.cwd(), `.compactor-catalog-${settings.table}.json`));
  const clock = { now: () => new Date() };
  const local: LocalRunDeps = {
    store,
    catalog,
    settings,
    engine,
    clock,
    executions: stepFunctions,
    processes: new LocalProcesses(),
    holder: cliHolder({ host: hostname(), pid: process.pid, startedAt: Date.now() }),
  };
  const request = parseRunRequest(
    { table: settings.table, ...(v.partitions ? { partitions: v.partitions.split(',') } : {}), ...(command === 'plan' || v['dry-run'] ? { dryRun: true } : {}) },
    settings,
  );
  const needPartition = () => {
    if (!v.partition) throw new Error(`${command} needs --partition <path>`);
    return v.partition;
  };

  if (command === 'plan' || command === 'run') {
    const printPlan = ({ output, plan, report, estimate }: Awaited<ReturnType<typeof planRun>>) => {
      console.log(`plan ${output.planId}: ${output.bins} bin(s), ${output.inputFiles} files, ${output.inputBytes} bytes -> s3://${output.planBucket}/${output.planKey}`);
      // The estimate is stored with the plan too (us-east-1 list prices; the deployed pipeline's own are in its COST_MODEL).
      for (const line of costLines(estimate.cost, US_EAST_1_PRICES)) console.log(`  estimated ${line}`);
      for (const p of plan.partitions) {
        console.log(`  ${p.path} -> v=${p.version}: ${p.bins.map((b) => `${b.fileCount} files/${b.inputBytes} B (~${b.estimatedOutputBytes} B out)`).join(', ')}${p.carried.length ? `, ${p.carried.length} carried` : ''}`);
      }
      for (const h of report.held) console.log(`  held ${h.path}: ${h.reason} (${h.smallFiles} small files)`);
      const skipped = Object.entries(report.skipped).filter(([, n]) => n > 0);
      if (skipped.length) console.log(`  skipped keys: ${skipped.map(([r, n]) => `${r} ${n}`).join(', ')}`);
    };
    if (command === 'plan' || request.dryRun) return printPlan(await planRun({ store, settings, clock }, request));
    // The catalog is read first: one that cannot be read fails the run before any work.
    await catalog.getColumns();
    const out = await runLocally(local, request, {
      onPlan: printPlan,
      onBin: (bin, i, of) => console.log(`  bin ${i + 1}/${of} ${bin.partition}: ${bin.inputRows} rows -> s3://${settings.goldBucket}/${bin.outputKey} (${bin.outputBytes} B), verified`),
    });
    if (out.swap) printSwap(out.swap);
    return;
  }
  if (command === 'retire') {
    const out = await underLease(local, () => retireCompacted({ store, catalog, settings, clock, graceMs: settings.graceDays * DAY_MS }, v['dry-run']));
    console.log(JSON.stringify({ retired: out.retired, waiting: out.waiting, unverified: out.unverified, changedAfterCommit: out.changedAfterCommit }));
    for (const k of out.wouldRetire) console.log(`  would retire ${k}`);
    return;
  }
  if (command === 'rollback') {
    if (!v.version) throw new Error('rollback needs --partition <path> and --version <v>');
    const partition = needPartition();
    const st = await underLease(local, () => rollbackPartition({ store, catalog, settings, clock }, partition, v.version!));
    console.log(`${partition} -> ${st.location} (${st.rows} rows)`);
    return;
  }

  const states: PartitionState[] = [];
  for await (const o of store.list(settings.goldBucket, statePrefix(settings.table))) {
    if (o.key.endsWith('/state.json')) states.push((await store.getJson<PartitionState>(settings.goldBucket, o.key))!);
  }
  if (command === 'catalog') {
    const action = positionals[1];
    const deps = { store, catalog, settings, clock };
    if (action === 'adopt' || action === 'overrule') {
      const partition = needPartition();
      const st = await underLease(local, () => (action === 'adopt' ? adoptCatalogEntry(deps, partition) : overruleCatalogEntry(deps, partition)));
      console.log(action === 'adopt' ? `${partition}: the catalog keeps ${st.catalogPin!.location}` : `${partition} -> ${st.location} (v=${st.version}), verified`);
      return;
    }
    if (action !== undefined && action !== 'status') throw new Error('usage: compact catalog status|adopt|overrule [--partition P]');
    for (const e of await catalogStatus(deps, states)) console.log(`${e.partition}: ${e.standing}, catalog ${e.catalog ?? 'none'}, committed ${e.committed}`);
    return;
  }
  // status
  for (const st of states) {
    console.log(`${st.partition}: v=${st.version} ${st.rows} rows in ${st.files.length} file(s), committed ${st.committedAt}${st.verifiedAt ? `, in the catalog since ${st.verifiedAt}` : ', not verified in the catalog yet'}; earlier: ${st.superseded.map((x) => x.version).join(', ') || 'none'}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof CompactorError ? `${e.name}: ${e.message}` : e);
    process.exit(1);
  });
}
