import { decideLease, LEASE_TTL_MS, newLease } from '../../lambdas/core/lease';

const now = new Date('2024-12-20T12:00:00Z');
const held = newLease('sensors', 'arn:exec:A', new Date(now.getTime() - 60_000));
const expired = newLease('sensors', 'arn:exec:A', new Date(now.getTime() - LEASE_TTL_MS - 1));

describe('decideLease', () => {
  it.each([
    ['free', undefined, 'arn:exec:B', undefined, 'take'],
    ['own lease (redrive, retried plan step)', held, 'arn:exec:A', true, 'reenter'],
    ['holder still running', held, 'arn:exec:B', true, 'blocked'],
    ['holder finished, failed or was stopped', held, 'arn:exec:B', false, 'take'],
    ['holder status unknown, lease fresh', held, 'arn:exec:B', undefined, 'blocked'],
    ['holder status unknown, lease expired', expired, 'arn:exec:B', undefined, 'take'],
    ['holder running past expiry still blocks', expired, 'arn:exec:B', true, 'blocked'],
  ] as const)('%s -> %s', (_name, lease, me, running, decision) => {
    expect(decideLease(lease, me, now, running)).toBe(decision);
  });
});
