import { Logger } from '@aws-lambda-powertools/logger';

/** The one logger: structured JSON lines, service name from POWERTOOLS_SERVICE_NAME. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 's3-compactor' });
