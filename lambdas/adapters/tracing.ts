import { Tracer } from '@aws-lambda-powertools/tracer';

let tracer: Tracer | undefined;

/**
 * Instruments an AWS SDK client for X-Ray: each S3, Glue and Step Functions call becomes a
 * subsegment of the step's Lambda trace. Outside Lambda the tracer is off and the client is
 * returned as it is. The tracer reads its environment on first use.
 */
export function traced<T>(client: T): T {
  tracer ??= new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 's3-compactor' });
  return tracer.captureAWSv3Client(client);
}
