/**
 * The race tier: the pipeline with other actors acting in the middle of its steps, on the
 * in-memory S3, each scenario seeded. After each one, the independent check of test/helpers/race.ts
 * counts records lost and duplicated, deletes before the grace, and committed bytes overwritten.
 * The tier prints one line: `races tried: N; survived: N; rows lost 0; duplicated 0; deleted early 0; overwritten 0`.
 */
import { logger } from '../../lambdas/adapters/logger';
import { DAY } from '../helpers/pipeline';
import { closeReader, GRACE_MS, PAUSE_POINTS, World, type Figures, type PausePoint } from '../helpers/race';

logger.setLogLevel('ERROR');

const HOUR = 3_600_000;
const figures = { tried: 0, survived: 0, lost: 0, duplicated: 0, deletedEarly: 0, overwritten: 0 };
let seed = 1000;

afterAll(async () => {
  await closeReader();
  console.log(
    `races tried: ${figures.tried}; survived: ${figures.survived}; rows lost ${figures.lost}; duplicated ${figures.duplicated}; deleted early ${figures.deletedEarly}; overwritten ${figures.overwritten}`,
  );
});

/** One interleaving: set up, race, settle (drain and retire past the grace), then the independent check. */
async function race(scenario: (w: World) => Promise<void>): Promise<void> {
  figures.tried++;
  const w = await World.create(seed++);
  try {
    await scenario(w);
    expect(w.script.pending()).toBe(0);
    w.script.clear();
    await w.settle();
    const found = await w.check();
    for (const k of ['lost', 'duplicated', 'deletedEarly', 'overwritten'] as Array<keyof Figures>) figures[k] += found[k];
    expect(found).toEqual({ lost: 0, duplicated: 0, deletedEarly: 0, overwritten: 0, detail: [] });
    figures.survived++;
  } finally {
    await w.dispose();
  }
}

/** Version 1 holds 4 plain and 4 Kafka objects; late data (2 plain, 1 Kafka) waits for the run under test. */
async function baseline(w: World) {
  const p = w.producer;
  const committed = { plain: [0, 1, 2, 3].map((i) => p.plain(`reading-${i}`)), kafka: [0, 1, 2, 3].map((i) => p.kafka(i * 4)) };
  await w.cli('setup').run();
  w.clock.advance(HOUR);
  const late = { plain: [p.plain('late-0'), p.plain('late-1')], kafka: p.kafka(16) };
  return { committed, late };
}

/** What a run under test may end with: done, or refused because a source changed under it (retried by the next run). */
const settled = (e: Error) => {
  expect(['SourceChangedError', 'ConcurrentCommitError']).toContain(e.name);
};

type Action = 'writes a new key' | 'rewrites a key with other records' | 'redelivers a Kafka object (same records, new bytes)' | 'deletes a key';
const ACTIONS: Action[] = ['writes a new key', 'rewrites a key with other records', 'redelivers a Kafka object (same records, new bytes)', 'deletes a key'];

describe('a producer acting in the middle of a step', () => {
  const cases = PAUSE_POINTS.flatMap((point, i) => ACTIONS.map((action, j) => [point, action, (i + j) % 2 === 0 ? 'CLI run' : 'workflow execution'] as const));
  it.each(cases)('%s: the producer %s (%s)', async (point: PausePoint, action: Action, runner: string) => {
    await race(async (w) => {
      const { committed, late } = await baseline(w);
      const retiring = point.startsWith('retire');
      if (retiring) {
        await w.cli('v2').run();
        w.clock.advance(GRACE_MS + DAY);
      }
      // During a retire the targets are due sources; otherwise the inputs of the run under test.
      const plainTarget = retiring ? committed.plain : late.plain;
      const kafkaTarget = retiring ? committed.kafka[1] : late.kafka;
      w.at('under-test', point, () => {
        if (action === 'writes a new key') w.producer.plain('during');
        if (action === 'rewrites a key with other records') w.producer.rewriteDifferent(plainTarget[0]);
        if (action === 'redelivers a Kafka object (same records, new bytes)') w.producer.rewriteSame(kafkaTarget);
        if (action === 'deletes a key') w.producer.delete(plainTarget[1]);
      });
      if (runner === 'workflow execution') {
        const out = await w.execute('under-test');
        if (out.status !== 'SUCCEEDED') expect(out.cause).toMatch(/SourceChangedError|ConcurrentCommitError/);
      } else if (retiring) {
        await w.cli('under-test').retire();
      } else {
        await w.cli('under-test').run().catch(settled);
      }
    });
  });
});

describe('two runs racing for the table', () => {
  const refused = { name: 'AlreadyRunningError' };

  it.each([
    ['plan: after listing landing'],
    ['compact: before uploading the output'],
    ['swap: before the state commit'],
  ] as const)('a workflow execution starting while a CLI run is at "%s" is refused; the CLI run finishes', async (point) => {
    await race(async (w) => {
      await baseline(w);
      const cli = w.cli('under-test');
      w.at('under-test', point, async () => {
        const out = await w.execute('scheduled');
        expect(out).toMatchObject({ status: 'FAILED', error: 'AlreadyRunningError' });
        expect(out.cause).toContain(cli.holder);
      });
      await cli.run();
    });
  });

  it.each([['plan: after listing landing'], ['compact: before writing the manifest']] as const)(
    'a CLI run starting while a workflow execution is at "%s" is refused; the execution finishes',
    async (point) => {
      await race(async (w) => {
        await baseline(w);
        w.at('under-test', point, async () => {
          await expect(w.cli('operator').run()).rejects.toMatchObject(refused);
        });
        expect((await w.execute('under-test')).status).toBe('SUCCEEDED');
      });
    },
  );

  it('a console rerun while the scheduled execution compacts is refused, naming it', async () => {
    await race(async (w) => {
      await baseline(w);
      w.at('scheduled', 'compact: before uploading the output', async () => {
        const rerun = await w.execute('console', 'console-rerun');
        expect(rerun).toMatchObject({ status: 'FAILED', error: 'AlreadyRunningError' });
        expect(rerun.cause).toContain('execution:S3Compactor-sensors-compaction:scheduled');
      });
      expect((await w.execute('scheduled')).status).toBe('SUCCEEDED');
    });
  });

  it('a second CLI run while the first plans is refused', async () => {
    await race(async (w) => {
      await baseline(w);
      w.at('under-test', 'plan: after listing landing', async () => {
        await expect(w.cli('second').run()).rejects.toMatchObject(refused);
      });
      await w.cli('under-test').run();
    });
  });

  it('two CLI runs starting at the same moment: exactly one takes the lease', async () => {
    await race(async (w) => {
      await baseline(w);
      const both = await Promise.allSettled([w.cli('a').run(), w.cli('b').run()]);
      expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect((both.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.message).toMatch(/was taken by cli:race-host:\d+:\d+ at the same moment|is being compacted by cli:/);
    });
  });

  it('a CLI retire while a workflow execution is about to delete is refused', async () => {
    await race(async (w) => {
      await baseline(w);
      await w.cli('v2').run();
      w.clock.advance(GRACE_MS + DAY);
      w.at('under-test', 'retire: before deleting sources', async () => {
        await expect(w.cli('operator').retire()).rejects.toMatchObject(refused);
      });
      expect((await w.execute('under-test')).status).toBe('SUCCEEDED');
    });
  });

  it.each([
    ['compact: before uploading the output'],
    ['compact: before writing the manifest'],
    ['swap: before the state commit'],
  ] as const)('a CLI run held up at "%s" past its lease loses it to another run, and then writes nothing over the committed version', async (point) => {
    await race(async (w) => {
      await baseline(w);
      const first = w.cli('under-test');
      w.at('under-test', point, async () => {
        w.clock.advance(5 * 60_000);
        const second = await w.cli('second').run();
        expect(second.swap).toMatchObject({ committed: 1 });
      });
      await expect(first.run()).rejects.toThrow(/the lease of table sensors was taken by cli:race-host:\d+:\d+ while this run|partition\(s\) were committed by another run/);
    });
  });
});

describe('a catalog that fails, then is repaired days later', () => {
  it('the commit of late data: nothing of it is retired until the grace counted from the repair', async () => {
    await race(async (w) => {
      await baseline(w);
      w.catalog.failing = true;
      await expect(w.cli('under-test').run()).rejects.toThrow('InternalServiceException');
      w.clock.advance(DAY);
      await w.cli('retire-1').retire();
      w.clock.advance(2 * DAY);
      w.catalog.failing = false;
      await w.cli('repair').run();
      w.clock.advance(2 * DAY);
      await w.cli('retire-2').retire();
      w.clock.advance(1.5 * DAY);
      await w.cli('retire-3').retire();
    });
  });

  it('the first commit of a partition: nothing is retired while the catalog never showed it', async () => {
    await race(async (w) => {
      for (let i = 0; i < 6; i++) w.producer.plain(`reading-${i}`);
      w.catalog.failing = true;
      await expect(w.cli('under-test').run()).rejects.toThrow('InternalServiceException');
      w.clock.advance(5 * DAY);
      expect((await w.cli('retire-1').retire()).retired).toBe(0);
      w.catalog.failing = false;
      await w.cli('repair').run();
      expect((await w.cli('retire-2').retire()).retired).toBe(0);
    });
  });

  it('two commits while it fails: both replaced versions wait for the grace from the repair', async () => {
    await race(async (w) => {
      await baseline(w);
      w.catalog.failing = true;
      await expect(w.cli('under-test').run()).rejects.toThrow('InternalServiceException');
      w.clock.advance(HOUR);
      w.producer.plain('later');
      await expect(w.execute('scheduled')).resolves.toMatchObject({ status: 'FAILED', error: 'CatalogError' });
      w.clock.advance(4 * DAY);
      w.catalog.failing = false;
      // The repair's own lifecycle step retires only v1's sources (verified with v1 days ago).
      const repair = await w.execute('repair');
      expect(repair.output.lifecycle).toMatchObject({ retired: 8 });
      expect((await w.cli('retire').retire()).retired).toBe(0);
    });
  });
});

describe('a process killed while holding the lease', () => {
  it('a CLI run killed mid-compaction on this host: the next run takes over at once', async () => {
    await race(async (w) => {
      await baseline(w);
      await w.killedCliRun('compact: after fetching an input');
      await w.cli('next').run();
    });
  });

  it('a CLI run killed on another host: a workflow execution waits for its lease to expire, then takes over', async () => {
    await race(async (w) => {
      await baseline(w);
      await w.killedCliRun('compact: before uploading the output', 'laptop');
      expect(await w.execute('scheduled', 'scheduled-1')).toMatchObject({ status: 'FAILED', error: 'AlreadyRunningError' });
      w.clock.advance(3 * 60_000);
      expect((await w.execute('scheduled', 'scheduled-2')).status).toBe('SUCCEEDED');
    });
  });

  it('a workflow execution stopped mid-compaction: a CLI run takes over at once', async () => {
    await race(async (w) => {
      await baseline(w);
      let abort!: () => void;
      w.at('under-test', 'compact: before uploading the output', () => abort());
      expect((await w.execute('under-test', 'under-test', undefined, (a) => (abort = a))).status).toBe('ABORTED');
      await w.cli('next').run();
    });
  });

  it('a CLI run killed after its upload, before its manifest: the next run keeps that file, proven to hold the bin\'s rows', async () => {
    await race(async (w) => {
      await baseline(w);
      await w.killedCliRun('compact: before writing the manifest');
      const next = await w.cli('next').run();
      expect(next.swap).toMatchObject({ committed: 1 });
      const outputs = w.store.events.filter((e) => e.op === 'put' && e.key === next.compacted[0].outputKey);
      expect(outputs.map((e) => e.via)).toEqual(['uploadFile']);
    });
  });
});

it('survives every race', () => {
  expect(figures.tried).toBeGreaterThanOrEqual(30);
  expect(figures).toEqual({ ...figures, survived: figures.tried, lost: 0, duplicated: 0, deletedEarly: 0, overwritten: 0 });
});
