/**
 * The verbs that run the pipeline's steps in this process against any S3 endpoint (AWS, MinIO,
 * Ceph, the loopback server): run, plan, retire, rollback, partitions, catalog.
 *
 * `run`, `retire`, `rollback` and `catalog adopt|overrule` take the table's run lease, as a
 * workflow execution does: one run per table at a time, the CLI's included. Its holder is
 * `cli:<host>:<pid>:<start>`, renewed every 30 s and free 2 minutes after its last renewal (at
 * once on the same host when the process is gone).
 */
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { GlueClient } from '@aws-sdk/client-glue';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GlueCatalog } from '../../lambdas/adapters/glue-catalog';
import { LocalCatalog } from '../../lambdas/adapters/local-catalog';
import { LocalProcesses } from '../../lambdas/adapters/local-processes';
import { makeS3Client, S3ObjectStore } from '../../lambdas/adapters/s3';
import { StepFunctionsExecutions } from '../../lambdas/adapters/sfn-executions';
import type { SwapOutput } from '../../lambdas/core/contracts';
import { parseCostModel } from '../../lambdas/core/cost';
import { InvalidInputError } from '../../lambdas/core/errors';
import { cliHolder } from '../../lambdas/core/lease';
import type { Catalog, ExecutionStatus } from '../../lambdas/core/ports';
import { costLines } from '../../lambdas/core/run-report-text';
import { Env, parseEngineSettings, parseRunRequest, parseTableSettings } from '../../lambdas/core/settings';
import { earlierVersions } from '../../lambdas/core/state';
import { adoptCatalogEntry, catalogStatus, overruleCatalogEntry } from '../../lambdas/use-cases/catalog-sync';
import { retireCompacted } from '../../lambdas/use-cases/lifecycle';
import { allStates, repairTable } from '../../lambdas/use-cases/table-scan';
import { planRun } from '../../lambdas/use-cases/plan-run';
import { rollbackPartition } from '../../lambdas/use-cases/rollback';
import { runLocally, underLease, type LocalRunDeps } from '../local-run';
import type { Command } from './command-line';
import { columnsFlag, FLAGS, fromFlags, UsageError } from './flags';


/** Workflow executions holding the lease, asked in their own region. */
const stepFunctions: ExecutionStatus = {
  isRunning: (arn) => new StepFunctionsExecutions(new SFNClient({ region: arn.split(':')[3] || undefined })).isRunning(arn),
};

function printSwap(swap: SwapOutput): void {
  console.log(`swap: ${JSON.stringify(swap)}`);
  for (const d of swap.catalogDrift) console.log(`  catalog drift (kept): ${d}`);
  for (const k of swap.rewrittenSources) console.log(`  rewritten after its commit, added again as new data: ${k}`);
}

/** The Lambdas' settings variables from the flags that stand for them. */
function settingsVars(cmd: Command): { vars: Record<string, string | undefined>; columns: Array<{ name: string; type: string }> } {
  const vars: Record<string, string | undefined> = {};
  let columns: Array<{ name: string; type: string }> = [];
  for (const name of cmd.verb.flags) {
    const env = FLAGS[name].env;
    const value = cmd.flags[name];
    if (env && typeof value === 'string') vars[env] = value;
  }
  if (typeof cmd.flags.columns === 'string') {
    const c = columnsFlag(cmd.flags.columns);
    if ('problem' in c) throw new UsageError(`flag --columns: ${c.problem}`, cmd.verb.name);
    vars[Env.TableColumns] = c.json;
    columns = c.columns;
  }
  // Each bin works in its own directory below this one, so runs may share it.
  vars[Env.ScratchDir] ??= join(tmpdir(), 'compactor');
  return { vars, columns };
}

export async function runLocalVerb(cmd: Command): Promise<number> {
  const v = cmd.flags as Readonly<Record<string, string | undefined>>;
  const verb = cmd.verb.name;
  const { vars, columns } = settingsVars(cmd);
  const { settings, engine, costModel } = fromFlags(() => ({ settings: parseTableSettings(vars), engine: parseEngineSettings(vars), costModel: parseCostModel(vars[Env.CostModel]) }), verb);
  const region = v.region;
  const store = new S3ObjectStore(makeS3Client({ endpoint: v.endpoint, ...(region ? { region } : {}) }));
  const catalog: Catalog = v['glue-database']
    ? new GlueCatalog(new GlueClient({ ...(region ? { region } : {}) }), v['glue-database'], settings.table)
    : new LocalCatalog(v['catalog-file'] ?? join(process.cwd(), `.compactor-catalog-${settings.table}.json`), columns);
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

  if (verb === 'plan' || verb === 'run') {
    const dryRun = verb === 'plan' || cmd.flags['dry-run'] === true;
    let request;
    try {
      request = parseRunRequest({ table: settings.table, ...(v.partitions ? { partitions: v.partitions.split(',') } : {}), ...(dryRun ? { dryRun } : {}) }, settings);
    } catch (e) {
      if (e instanceof InvalidInputError) throw new UsageError(e.message.replace('run input field "partitions"', 'flag --partitions'), verb);
      throw e;
    }
    const printPlan = ({ output, plan, report, estimate, warnings }: Awaited<ReturnType<typeof planRun>>) => {
      for (const w of warnings) console.error(`warning: ${w}`);
      console.log(`plan ${output.planId}: ${output.bins} bin(s), ${output.inputFiles} files, ${output.inputBytes} bytes -> s3://${output.planBucket}/${output.planKey}`);
      // The estimate is stored with the plan too (at --cost-model's prices; the deployed pipeline's own are in its COST_MODEL).
      for (const line of costLines(estimate.cost, costModel.prices)) console.log(`  estimated ${line}`);
      for (const p of plan.partitions) {
        console.log(`  ${p.path} -> v=${p.version}: ${p.bins.map((b) => `${b.fileCount} files/${b.inputBytes} B (~${b.estimatedOutputBytes} B out)`).join(', ')}${p.carried.length ? `, ${p.carried.length} carried` : ''}`);
      }
      for (const h of report.held) console.log(`  held ${h.path}: ${h.reason} (${h.smallFiles} small files)`);
      const skipped = Object.entries(report.skipped).filter(([, n]) => n > 0);
      if (skipped.length) console.log(`  skipped keys: ${skipped.map(([r, n]) => `${r} ${n}`).join(', ')}`);
    };
    if (request.dryRun) {
      printPlan(await planRun({ store, settings, clock, costModel }, request));
      return 0;
    }
    // The catalog is read first: one that cannot be read fails the run before any work.
    await catalog.getColumns();
    const out = await runLocally(local, request, {
      onPlan: printPlan,
      onBin: (bin, i, of) => console.log(`  bin ${i + 1}/${of} ${bin.partition}: ${bin.inputRows} rows -> s3://${settings.goldBucket}/${bin.outputKey} (${bin.outputBytes} B), verified`),
    });
    if (out.swap) printSwap(out.swap);
    return 0;
  }
  if (verb === 'retire') {
    const out = await underLease(local, () => retireCompacted({ store, catalog, settings, clock }, cmd.flags['dry-run'] === true));
    console.log(JSON.stringify({ retired: out.retired, waiting: out.waiting, unverified: out.unverified, changedAfterCommit: out.changedAfterCommit }));
    for (const k of out.wouldRetire) console.log(`  would retire ${k}`);
    return 0;
  }
  if (verb === 'rollback') {
    const partition = v.partition!;
    const st = await underLease(local, () => rollbackPartition({ store, catalog, settings, clock }, partition, v.version!));
    console.log(`${partition} -> ${st.location} (${st.rows} rows)`);
    return 0;
  }

  const action = cmd.positionals[0] ?? 'status';
  if (verb === 'catalog' && !['status', 'adopt', 'overrule', 'repair'].includes(action)) throw new UsageError(`catalog takes status, adopt, overrule or repair, got "${action}"`, verb);
  if (verb === 'catalog' && action === 'repair') {
    const out = await underLease(local, () => repairTable({ store, catalog, settings, clock }));
    console.log(`${out.partitions} partition(s): ${out.updated} catalog entr${out.updated === 1 ? 'y' : 'ies'} repaired, ${out.drift.length} drifted, ${out.indexed.length} indexed`);
    for (const line of out.drift) console.log(`  drift ${line}`);
    for (const p of out.indexed) console.log(`  indexed ${p}`);
    return 0;
  }
  if (verb === 'catalog' && action !== 'status') {
    if (!v.partition) throw new UsageError(`catalog ${action} needs --partition`, verb);
    const deps = { store, catalog, settings, clock };
    const partition = v.partition;
    const st = await underLease(local, () => (action === 'adopt' ? adoptCatalogEntry(deps, partition) : overruleCatalogEntry(deps, partition)));
    console.log(action === 'adopt' ? `${partition}: the catalog keeps ${st.catalogPin!.location}` : `${partition} -> ${st.location} (v=${st.version}), verified`);
    return 0;
  }
  const states = (await allStates(store, settings)).map((x) => x.value);
  if (verb === 'catalog') {
    for (const e of await catalogStatus({ store, catalog, settings, clock }, states)) console.log(`${e.partition}: ${e.standing}, catalog ${e.catalog ?? 'none'}, committed ${e.committed}`);
    return 0;
  }
  // partitions
  for (const st of states) {
    console.log(`${st.partition}: v=${st.version} ${st.rows} rows in ${st.files.length} file(s), committed ${st.committedAt}${st.verifiedAt ? `, in the catalog since ${st.verifiedAt}` : ', not verified in the catalog yet'}; earlier: ${earlierVersions(st).map((x) => x.version).join(', ') || 'none'}`);
  }
  return 0;
}
