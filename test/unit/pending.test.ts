import { entryDone, hasPendingWork, UNCOMMITTED_ENTRY_MS, type PendingEntry } from '../../lambdas/core/pending';
import type { PartitionState } from '../../lambdas/core/state';

const T = Date.parse('2024-12-20T12:00:00Z');
const done: PartitionState = {
  table: 'sensors', partition: 'dt=2024-12-19/hour=14', values: { dt: '2024-12-19', hour: '14' }, version: 'v2', location: 's3://gold/sensors/dt=2024-12-19/hour=14/v=v2/',
  planId: 'p', committedAt: '2024-12-19T15:00:00.000Z', verifiedAt: '2024-12-19T15:00:01.000Z', rows: 1, files: [], sources: [], superseded: [],
};
const entry = (version: string, ageMs: number): PendingEntry => ({ partition: done.partition, version, at: new Date(T - ageMs).toISOString() });

describe('hasPendingWork', () => {
  it.each([
    ['nothing left, catalog current', done, 'current', false],
    ['nothing left, catalog pinned by an operator', done, 'pinned', false],
    ['not verified yet', { ...done, verifiedAt: undefined }, 'current', true],
    ['sources still to retire', { ...done, sources: [{ key: 'k', etag: '"e"', committedAt: done.committedAt }] }, 'current', true],
    ['a superseded version still to retire', { ...done, superseded: [{ version: 'v1', location: 'l', files: [], rows: 1, committedAt: done.committedAt }] }, 'current', true],
    ['drift (reported until adopted or overruled)', done, 'drift', true],
    ['catalog entry missing', done, 'missing', true],
    ['catalog entry behind', done, 'behind', true],
  ] as const)('%s', (_what, st, standing, expected) => expect(hasPendingWork(st, standing)).toBe(expected));
});

describe('entryDone', () => {
  it.each([
    ['the committed version has nothing left', entry('v2', 0), done, true],
    ['a commit of another version may still be under way', entry('v3', UNCOMMITTED_ENTRY_MS - 1), done, false],
    ['a commit that never happened, a day on, nothing left', entry('v3', UNCOMMITTED_ENTRY_MS), done, true],
    ['a commit that never happened, a day on, work left', entry('v3', UNCOMMITTED_ENTRY_MS), { ...done, verifiedAt: undefined }, false],
    ['a first commit still under way', entry('v1', 1000), undefined, false],
    ['a first commit that never happened, a day on', entry('v1', UNCOMMITTED_ENTRY_MS), undefined, true],
  ] as const)('%s', (_what, e, st, expected) => expect(entryDone(e, st, st ? 'current' : undefined, T)).toBe(expected));
});
