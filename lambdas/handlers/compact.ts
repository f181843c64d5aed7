import { logger } from '../adapters/logger';
import { clearScratch, lazy, runtimeFromEnv } from '../adapters/runtime';
import type { BinItem, CompactOutput } from '../core/contracts';
import { requireFields } from '../core/validate';
import { compactBin, type CompactDeps } from '../use-cases/compact-bin';

/** One Distributed Map item (a bin reference) -> the verified output of that bin. */
export const makeHandler = (deps: CompactDeps) => async (event: unknown): Promise<CompactOutput> => {
  const item = requireFields<BinItem>(event, 'bin item', { table: 'string', planId: 'string', binId: 'string', partition: 'string', version: 'string', binKey: 'string' });
  const log = logger.createChild({ persistentKeys: { planId: item.planId, binId: item.binId, partition: item.partition } });
  log.info('compacting', { inputFiles: item.inputFiles, inputBytes: item.inputBytes });
  const out = await compactBin(deps, item);
  log.info('compacted', { ...out });
  return out;
};

export const handler = lazy(() => {
  const rt = runtimeFromEnv();
  clearScratch(rt.engine.scratchDir);
  return makeHandler(rt);
});
