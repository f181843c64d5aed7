import { AlreadyRunningError, ConcurrentCommitError } from '../core/errors';
import { leaseKey } from '../core/keys';
import { decideLease, newLease, parseCliHolder, type Lease } from '../core/lease';
import type { Clock, ExecutionStatus, ObjectStore } from '../core/ports';

export interface LeaseDeps {
  readonly store: ObjectStore;
  /** Whether a workflow execution holding the lease still runs. */
  readonly executions: ExecutionStatus;
  /** Whether a CLI process holding the lease still runs, where this run can tell (same host); else its renewals decide. */
  readonly processes?: ExecutionStatus;
  readonly clock: Clock;
  readonly bucket: string;
  readonly table: string;
}

const statusOf = (deps: LeaseDeps, holder: string) =>
  parseCliHolder(holder) ? (deps.processes?.isRunning(holder) ?? Promise.resolve(undefined)) : deps.executions.isRunning(holder);

/**
 * Takes the table's lease for `holder` (an execution id or a CLI holder), or fails with
 * AlreadyRunningError naming the holder. The write is conditional, so of two runs starting
 * together exactly one gets it. `ttlMs`: how long it holds without a renewal.
 */
export async function acquireLease(deps: LeaseDeps, holder: string, ttlMs?: number): Promise<Lease> {
  const key = leaseKey(deps.table);
  const current = await deps.store.getJsonVersioned<Lease>(deps.bucket, key);
  const running = current && current.value.holder !== holder ? await statusOf(deps, current.value.holder) : undefined;
  const now = deps.clock.now();
  const decision = decideLease(current?.value, holder, now, running);
  if (decision === 'reenter') return current!.value;
  if (decision === 'blocked') {
    throw new AlreadyRunningError(
      `table ${deps.table} is being compacted by ${current!.value.holder} (since ${current!.value.acquiredAt}); this run changed nothing. ` +
        `Wait for it to finish, or stop it, then rerun.`,
      { holder: current!.value.holder },
    );
  }
  const lease = newLease(deps.table, holder, now, ttlMs);
  try {
    await deps.store.putJsonIf(deps.bucket, key, lease, current?.etag);
  } catch (e) {
    if (e instanceof ConcurrentCommitError) {
      const winner = await deps.store.getJson<Lease>(deps.bucket, key);
      throw new AlreadyRunningError(`table ${deps.table} was taken by ${winner?.holder ?? 'another run'} at the same moment; this run changed nothing`, { cause: e, holder: winner?.holder });
    }
    throw e;
  }
  return lease;
}

/**
 * Extends the holder's lease by `ttlMs` from now; fails with AlreadyRunningError when another run
 * took it meanwhile (this run was paused past its expiry and must not go on to commit).
 */
export async function renewLease(deps: LeaseDeps, holder: string, ttlMs: number): Promise<Lease> {
  const key = leaseKey(deps.table);
  const current = await deps.store.getJsonVersioned<Lease>(deps.bucket, key);
  const lost = (cause?: unknown) =>
    new AlreadyRunningError(`the lease of table ${deps.table} was taken by ${current?.value.holder ?? 'another run'} while this run (${holder}) was held up; it stops here`, { cause, holder: current?.value.holder });
  if (current?.value.holder !== holder) throw lost();
  const lease: Lease = { ...current.value, expiresAt: new Date(deps.clock.now().getTime() + ttlMs).toISOString() };
  await deps.store.putJsonIf(deps.bucket, key, lease, current.etag).catch((e) => {
    throw e instanceof ConcurrentCommitError ? lost(e) : e;
  });
  return lease;
}

/** Gives the lease up at once if `holder` still holds it (a run that finished, or failed). */
export async function releaseLease(deps: LeaseDeps, holder: string): Promise<void> {
  const key = leaseKey(deps.table);
  const current = await deps.store.getJsonVersioned<Lease>(deps.bucket, key);
  if (current?.value.holder !== holder) return;
  await deps.store.putJsonIf(deps.bucket, key, { ...current.value, expiresAt: deps.clock.now().toISOString() }, current.etag).catch((e) => {
    if (!(e instanceof ConcurrentCommitError)) throw e;
  });
}
