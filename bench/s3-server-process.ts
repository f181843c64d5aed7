/**
 * The loopback S3 server (s3rver) in its own process, so the server and the code under test do
 * not share one JavaScript thread. Prints `{"endpoint": ...}` once listening; closes the server
 * (and removes its data) when stdin ends or on SIGTERM/SIGINT.
 *
 *   node --import tsx bench/s3-server-process.ts landing gold
 */
import { startLocalS3 } from '../local/s3-server';

async function main(): Promise<void> {
  const s3 = await startLocalS3(process.argv.slice(2));
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    s3.close().then(() => process.exit(0), fail);
  };
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
  process.stdin.on('end', close);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint })}\n`);
}

function fail(e: unknown): never {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
}

main().catch(fail);
