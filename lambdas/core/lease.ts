/** The table's run lease: held by one execution while that execution runs. */
export interface Lease {
  readonly table: string;
  readonly holder: string;
  readonly acquiredAt: string;
  /** Past this, a holder whose status cannot be told is presumed gone. */
  readonly expiresAt: string;
}

/** A run that outlives this is presumed dead when its status cannot be read. */
export const LEASE_TTL_MS = 24 * 3_600_000;

export type LeaseDecision = 'take' | 'reenter' | 'blocked';

/**
 * Whether `me` may run: a free lease is taken; the holder's own lease is re-entered (a redrive or
 * a retried plan step); another holder blocks while it runs, or, when its status is unknown,
 * until the lease expires.
 */
export function decideLease(current: Lease | undefined, me: string, now: Date, holderRunning: boolean | undefined): LeaseDecision {
  if (!current) return 'take';
  if (current.holder === me) return 'reenter';
  if (holderRunning === true) return 'blocked';
  if (holderRunning === false) return 'take';
  return Date.parse(current.expiresAt) <= now.getTime() ? 'take' : 'blocked';
}

export function newLease(table: string, me: string, now: Date): Lease {
  return { table, holder: me, acquiredAt: now.toISOString(), expiresAt: new Date(now.getTime() + LEASE_TTL_MS).toISOString() };
}
