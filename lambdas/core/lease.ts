/** The table's run lease: held by one run (a workflow execution or a CLI process) while it runs. */
export interface Lease {
  readonly table: string;
  readonly holder: string;
  readonly acquiredAt: string;
  /** Past this, a holder whose status cannot be told is presumed gone. */
  readonly expiresAt: string;
}

/** A run that outlives this is presumed dead when its status cannot be read. */
export const LEASE_TTL_MS = 24 * 3_600_000;

/** A CLI run's lease lives this long past its last renewal (nobody can ask a process elsewhere whether it runs). */
export const CLI_LEASE_TTL_MS = 2 * 60_000;
/** How often a CLI run renews its lease: four chances before it expires. */
export const CLI_LEASE_RENEW_MS = 30_000;

/** A CLI process as a lease holder: `cli:<host>:<pid>:<start ms>`, recognisable by any run. */
export interface CliHolder {
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
}

/** A host name as a holder spells it (no `:`). */
export const holderHost = (host: string) => host.replace(/:/g, '_');

export const cliHolder = (h: CliHolder) => `cli:${holderHost(h.host)}:${h.pid}:${h.startedAt}`;

export function parseCliHolder(holder: string): CliHolder | undefined {
  const m = /^cli:([^:]+):(\d+):(\d+)$/.exec(holder);
  return m ? { host: m[1], pid: Number(m[2]), startedAt: Number(m[3]) } : undefined;
}

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

export function newLease(table: string, me: string, now: Date, ttlMs = LEASE_TTL_MS): Lease {
  return { table, holder: me, acquiredAt: now.toISOString(), expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
}
