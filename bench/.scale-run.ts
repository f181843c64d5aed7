import { logger } from '../lambdas/adapters/logger';
import { scaleSection } from '../bench/scale';
logger.setLogLevel('ERROR');
scaleSection({ objects: 50_000, maxBinObjects: 5_000 }, (s) => console.log(`[scale] ${s}`));
