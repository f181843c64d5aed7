/**
 * The real bundles, as `cdk synth` builds them: local esbuild for all five functions and an
 * `npm ci` of DuckDB into the compact asset. Slow (~15-25 s): the other infra tests skip bundling.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { logicalId, sensorsApp } from './pipeline-app';

const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;

function dirBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => {
    const p = join(dir, e.name);
    return n + (e.isDirectory() ? dirBytes(p) : e.isFile() ? statSync(p).size : 0);
  }, 0);
}

describe('real bundles', () => {
  let pipeline: ReturnType<typeof sensorsApp>['pipeline'];
  let outdir = '';
  let template: { Resources: Record<string, { Properties: { Code: { S3Key: string } } }> };
  const assetDir = (fn: lambda.IFunction) => join(outdir, `asset.${template.Resources[logicalId(fn)].Properties.Code.S3Key.replace(/\.zip$/, '')}`);

  beforeAll(() => {
    const started = Date.now();
    // NodejsFunction bundles while it is constructed.
    const built = sensorsApp({ 'aws:cdk:bundling-stacks': ['**'] });
    pipeline = built.pipeline;
    const assembly = built.app.synth();
    outdir = assembly.directory;
    template = assembly.getStackByName(built.stack.stackName).template;
    console.log(`bundled 5 functions (esbuild + npm ci of DuckDB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  afterAll(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  it('installs the linux-x64 DuckDB native module next to the compact bundle, and nothing for other platforms', () => {
    const dir = assetDir(pipeline.compactFunction);
    const native = join(dir, 'node_modules', '@duckdb', 'node-bindings-linux-x64', 'duckdb.node');
    const header = readFileSync(native).subarray(0, 20);
    // ELF, 64-bit, little endian, e_machine 0x3E = x86-64.
    expect([header.subarray(0, 4).toString('latin1'), header[4], header[5], header.readUInt16LE(18)]).toEqual(['\x7fELF', 2, 1, 0x3e]);
    expect(existsSync(join(dir, 'node_modules', '@duckdb', 'node-bindings-linux-x64', 'libduckdb.so'))).toBe(true);
    expect(readdirSync(join(dir, 'node_modules', '@duckdb')).sort()).toEqual(['node-api', 'node-bindings', 'node-bindings-linux-x64']);
    const projectVersion = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).dependencies['@duckdb/node-api'];
    expect(JSON.parse(readFileSync(join(dir, 'node_modules', '@duckdb', 'node-api', 'package.json'), 'utf8')).version).toBe(projectVersion);
    expect(dirBytes(dir)).toBeLessThan(LAMBDA_UNZIPPED_LIMIT);
  });

  it('leaves DuckDB out of the compact bundle itself and requires it at run time', () => {
    const code = readFileSync(join(assetDir(pipeline.compactFunction), 'index.js'), 'utf8');
    // One require per engine module that imports it, each of the API package only (never a native binding).
    expect([...new Set(code.match(/require\("@duckdb\/[^"]+"\)/g))]).toEqual(['require("@duckdb/node-api")']);
  });

  it('runs a query with the bundled DuckDB', async () => {
    const api = await import(join(assetDir(pipeline.compactFunction), 'node_modules', '@duckdb', 'node-api'));
    const db = await api.DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    const result = await connection.runAndReadAll('SELECT 40 + 2 AS answer');
    expect(result.getRowObjectsJson()).toEqual([{ answer: 42 }]);
    connection.closeSync();
    db.closeSync();
  });

  it('bundles plan, swap, lifecycle and report as single files without DuckDB, each exporting its handler', async () => {
    for (const fn of [pipeline.planFunction, pipeline.swapFunction, pipeline.lifecycleFunction, pipeline.reportFunction]) {
      const dir = assetDir(fn);
      expect(readdirSync(dir).sort()).toEqual(['index.js', 'index.js.map']);
      const code = readFileSync(join(dir, 'index.js'), 'utf8');
      expect(code).not.toMatch(/@duckdb/);
      expect(typeof (await import(join(dir, 'index.js'))).handler).toBe('function');
    }
    expect(typeof (await import(join(assetDir(pipeline.compactFunction), 'index.js'))).handler).toBe('function');
  });
});
