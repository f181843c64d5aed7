import { AlreadyRunningError, ConcurrentCommitError } from '../core/errors';
import { leaseKey } from '../core/keys';
import { decideLease, newLease, type Lease } from '../core/lease';
import type { Clock, ExecutionStatus, ObjectStore } from '../core/ports';

export interface LeaseDeps {
  readonly store: ObjectStore;
  readonly executions: ExecutionStatus;
  readonly clock: Clock;
  readonly bucket: string;
  readonly table: string;
}

/**
 * Takes the table's lease for `executionId`, or fails with AlreadyRunningError naming the holder.
 * The write is conditional, so of two runs starting together exactly one gets it.
 */
export async function acquireLease(deps: LeaseDeps, executionId: string): Promise<Lease> {
  const key = leaseKey(deps.table);
  const current = await deps.store.getJsonVersioned<Lease>(deps.bucket, key);
  const holder = current?.value.holder;
  const running = current && holder !== executionId ? await deps.executions.isRunning(current.value.holder) : undefined;
  const now = deps.clock.now();
  const decision = decideLease(current?.value, executionId, now, running);
  if (decision === 'reenter') return current!.value;
  if (decision === 'blocked') {
    throw new AlreadyRunningError(
      `table ${deps.table} is being compacted by ${holder} (since ${current!.value.acquiredAt}); this run changed nothing. ` +
        `Wait for it to finish, or stop it, then rerun.`,
      { holder },
    );
  }
  const lease = newLease(deps.table, executionId, now);
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
