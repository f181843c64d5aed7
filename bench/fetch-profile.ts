/**
 * Fetch CPU per object without s3rver's own slowness: a plain HTTP server in a child process
 * answers every GET with the same 10-record JSON Lines body, and this process times the SDK's
 * GetObject loop, the lean GET loop and fetchInputs over the same keys (CPU = user + system of
 * this process, all threads). For a profile:
 *
 *   NODE_OPTIONS=--openssl-legacy-provider node --import tsx --cpu-prof bench/fetch-profile.ts [objects] [sdk|lean|fetch|all]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { fetchInputs } from '../lambdas/adapters/fetch-inputs';
import { makeS3Client, S3ObjectStore } from '../lambdas/adapters/s3';
import { LeanS3Getter } from '../lambdas/adapters/s3-lean-get';
import { mapLimit } from '../lambdas/core/concurrency';

const SERVER = `
const http = require('http');
const body = Buffer.from(Array.from({ length: 10 }, (_, i) => JSON.stringify({ sensor_id: 's-' + i, ts: '2024-12-19T14:00:00Z', temperature: 21.5, humidity: 40 })).join('\\n') + '\\n');
http.createServer((req, res) => { res.writeHead(200, { etag: '"e1"', 'content-length': body.length }); res.end(body); })
  .listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ port: this.address().port, size: body.length })); });
`;

async function main() {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise<{ port: number; size: number }>((r) => child.stdout.once('data', (d) => r(JSON.parse(String(d)))));
  const endpoint = `http://127.0.0.1:${info.port}`;
  const N = Number(process.argv[2] ?? 5000);
  const which = process.argv[3] ?? 'all';
  const creds = { accessKeyId: 'A', secretAccessKey: 'B' };
  const client = makeS3Client({ endpoint, credentials: creds });
  const store = new S3ObjectStore(client);
  const lean = new LeanS3Getter({ endpoint, region: 'us-east-1', credentials: async () => creds, connections: 32 });
  const keys = Array.from({ length: N }, (_, i) => `sensors/dt=2024-12-19/hour=14/f-${i}.json`);
  const t = async (name: string, fn: () => Promise<unknown>) => {
    const c = process.cpuUsage(); const w = performance.now();
    await fn();
    const u = process.cpuUsage(c);
    console.log(`${name}: ${(((u.user + u.system) / N)).toFixed(0)} us CPU/object, ${((performance.now() - w) / 1000).toFixed(2)} s wall`);
  };
  for (let r = 0; r < 2; r++) {
    if (which === 'all' || which === 'sdk') await t('sdk loop', () => mapLimit(keys, 32, async (k) => (await (await client.send(new GetObjectCommand({ Bucket: 'landing', Key: k }))).Body!.transformToByteArray()).length));
    if (which === 'all' || which === 'lean') await t('lean loop', () => mapLimit(keys, 32, async (k) => { let n = 0; for await (const c of (await lean.get('landing', k)).body) n += c.length; return n; }));
    if (which === 'all' || which === 'fetch') {
      const dir = await mkdtemp(join(tmpdir(), 'fprof-'));
      await t('fetchInputs', () => fetchInputs(store, { landing: 'landing', gold: 'gold' }, keys.map((key) => ({ key, size: info.size, etag: '"e1"', format: 'jsonl' as const })), dir, { concurrency: 32 }));
      await rm(dir, { recursive: true, force: true });
    }
  }
  await lean.close(); await store.close(); client.destroy(); child.kill();
}
main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
