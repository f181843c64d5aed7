import type { LocalPipeline } from '../../local/pipeline';
import type { ExecutionOutcome } from '../../local/workflow';

/**
 * Starts an execution that waits in its first Compact until released: a run holding the table's
 * lease while the test starts others. Resolves once the run is inside Compact.
 */
export async function startHeldRun(pipeline: LocalPipeline, input: unknown, name: string): Promise<{ release: () => void; done: Promise<ExecutionOutcome> }> {
  const compact = pipeline.handlers[pipeline.functionIds.compact];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inCompact = new Promise<void>((r) => (entered = r));
  const done = pipeline.execute(input, name, {
    [pipeline.functionIds.compact]: async (e) => {
      entered();
      await gate;
      return compact(e);
    },
  });
  await inCompact;
  return { release, done };
}

/** Handler overrides under which Compact fails with `error` for every bin of `partition`. */
export function failingBinsOf(pipeline: LocalPipeline, partition: string, error: Error) {
  const compact = pipeline.handlers[pipeline.functionIds.compact];
  return {
    [pipeline.functionIds.compact]: async (e: unknown) => {
      if ((e as { partition: string }).partition === partition) throw error;
      return compact(e);
    },
  };
}
