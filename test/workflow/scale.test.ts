/**
 * A partition of 1,000 tiny objects with at most 100 objects per bin, through the synthesized
 * workflow offline: 10 bins, merged into one target-size file holding every row exactly once.
 */
import { logger } from '../../lambdas/adapters/logger';
import { runScale, scaleLine } from '../helpers/scale';

logger.setLogLevel('ERROR');

it('compacts 1,000 objects in 10 bins into 1 target-size file, every row exactly once', async () => {
  const r = await runScale({ objects: 1000, maxBinObjects: 100 });
  console.log(scaleLine(r));
  expect(r.status).toBe('SUCCEEDED');
  expect(r).toMatchObject({ objects: 1000, bins: 10, merges: 1, files: 1, lost: 0, duplicated: 0 });
}, 120_000);
