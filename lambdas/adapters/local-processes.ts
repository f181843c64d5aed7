import { hostname } from 'node:os';
import { holderHost, parseCliHolder } from '../core/lease';
import type { ExecutionStatus } from '../core/ports';

/** Whether a process of this host runs (signal 0 probes without signalling; EPERM: it runs, as another user). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a CLI run holding a lease is gone, as far as this host can tell: a holder of this host
 * whose process is gone is `false` (its lease is free at once). Anything else is `undefined`, and
 * the holder's renewals decide: a running pid may have been reused by another process, and a
 * holder on another host cannot be asked.
 */
export class LocalProcesses implements ExecutionStatus {
  constructor(
    private readonly host: string = hostname(),
    private readonly runs: (pid: number) => boolean = processRuns,
  ) {}

  async isRunning(holder: string): Promise<boolean | undefined> {
    const h = parseCliHolder(holder);
    if (!h || h.host !== holderHost(this.host)) return undefined;
    return this.runs(h.pid) ? undefined : false;
  }
}
