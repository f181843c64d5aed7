/** The table's run lease between CLI runs and workflow executions, on the in-memory S3. */
import { LocalProcesses } from '../../lambdas/adapters/local-processes';
import { leaseKey } from '../../lambdas/core/keys';
import { CLI_LEASE_TTL_MS, cliHolder, type Lease } from '../../lambdas/core/lease';
import { acquireLease, releaseLease, renewLease, type LeaseDeps } from '../../lambdas/use-cases/lease';
import { LocalExecutions } from '../../local/workflow';
import { useMemoryStore } from '../helpers/memory';

const env = useMemoryStore('lease-test');
const here = 'build-7';
const alive = new Set([101]);
const cliA = cliHolder({ host: here, pid: 101, startedAt: 1734696000000 });
const cliB = cliHolder({ host: here, pid: 102, startedAt: 1734696001000 });
const elsewhere = cliHolder({ host: 'laptop:2', pid: 101, startedAt: 1734696002000 });
const execution = 'arn:aws:states:us-east-1:000000000000:execution:S3Compactor-sensors-compaction:scheduled-1';

function deps(o: Partial<LeaseDeps> = {}): LeaseDeps {
  return {
    store: env.store,
    executions: new LocalExecutions(),
    processes: new LocalProcesses(here, (pid) => alive.has(pid)),
    clock: env.clock,
    bucket: 'gold',
    table: 'sensors',
    ...o,
  };
}
const stored = () => env.store.getJson<Lease>('gold', leaseKey('sensors'));

describe('the run lease', () => {
  it('names a CLI holder, blocks other runs while it renews, and frees it when released', async () => {
    expect(cliA).toBe('cli:build-7:101:1734696000000');
    expect(elsewhere).toBe('cli:laptop_2:101:1734696002000');
    await acquireLease(deps(), cliA, CLI_LEASE_TTL_MS);
    expect(await stored()).toEqual({ table: 'sensors', holder: cliA, acquiredAt: '2024-12-20T12:00:00.000Z', expiresAt: '2024-12-20T12:02:00.000Z' });
    await expect(acquireLease(deps(), cliB, CLI_LEASE_TTL_MS)).rejects.toMatchObject({
      name: 'AlreadyRunningError',
      message: `table sensors is being compacted by ${cliA} (since 2024-12-20T12:00:00.000Z); this run changed nothing. Wait for it to finish, or stop it, then rerun.`,
    });
    // The workflow's plan step cannot ask a process: the renewals decide.
    await expect(acquireLease(deps({ processes: undefined }), execution)).rejects.toMatchObject({ name: 'AlreadyRunningError' });
    env.clock.advance(90_000);
    await renewLease(deps(), cliA, CLI_LEASE_TTL_MS);
    env.clock.advance(90_000);
    await expect(acquireLease(deps({ processes: undefined }), execution)).rejects.toMatchObject({ name: 'AlreadyRunningError' });
    await releaseLease(deps(), cliA);
    await acquireLease(deps({ processes: undefined }), execution);
    expect((await stored())!.holder).toBe(execution);
  });

  it('frees the lease of a CLI process that died on this host at once, and of one elsewhere when its renewals stop', async () => {
    await acquireLease(deps(), cliHolder({ host: here, pid: 999, startedAt: 1 }), CLI_LEASE_TTL_MS);
    await acquireLease(deps(), cliB, CLI_LEASE_TTL_MS);
    expect((await stored())!.holder).toBe(cliB);

    env.clock.advance(CLI_LEASE_TTL_MS + 1);
    await acquireLease(deps(), elsewhere, CLI_LEASE_TTL_MS);
    env.clock.advance(CLI_LEASE_TTL_MS - 1);
    await expect(acquireLease(deps(), cliA, CLI_LEASE_TTL_MS)).rejects.toMatchObject({ name: 'AlreadyRunningError' });
    env.clock.advance(1);
    await acquireLease(deps(), cliA, CLI_LEASE_TTL_MS);
    expect((await stored())!.holder).toBe(cliA);
  });

  it('stops a run held up past its expiry: its renewal fails once another run took the lease', async () => {
    await acquireLease(deps(), cliA, CLI_LEASE_TTL_MS);
    env.clock.advance(CLI_LEASE_TTL_MS);
    await acquireLease(deps(), elsewhere, CLI_LEASE_TTL_MS);
    await expect(renewLease(deps(), cliA, CLI_LEASE_TTL_MS)).rejects.toMatchObject({
      name: 'AlreadyRunningError',
      message: `the lease of table sensors was taken by ${elsewhere} while this run (${cliA}) was held up; it stops here`,
    });
    await releaseLease(deps(), cliA);
    expect((await stored())!.holder).toBe(elsewhere);
  });

  it('keeps a CLI run out while a workflow execution runs, and lets it in when the execution ends', async () => {
    const executions = new LocalExecutions();
    executions.start(execution);
    await acquireLease(deps({ executions }), execution);
    env.clock.advance(2 * 86_400_000);
    await expect(acquireLease(deps({ executions }), cliA, CLI_LEASE_TTL_MS)).rejects.toMatchObject({ name: 'AlreadyRunningError' });
    executions.finish(execution);
    await acquireLease(deps({ executions }), cliA, CLI_LEASE_TTL_MS);
    expect((await stored())!.holder).toBe(cliA);
  });
});
