import { DescribeExecutionCommand, ExecutionDoesNotExist, type SFNClient } from '@aws-sdk/client-sfn';
import type { ExecutionStatus } from '../core/ports';

/** Execution status from Step Functions. */
export class StepFunctionsExecutions implements ExecutionStatus {
  constructor(private readonly sfn: SFNClient) {}

  async isRunning(executionId: string): Promise<boolean | undefined> {
    try {
      const out = await this.sfn.send(new DescribeExecutionCommand({ executionArn: executionId }));
      return out.status === 'RUNNING' || out.status === 'PENDING_REDRIVE';
    } catch (e) {
      if (e instanceof ExecutionDoesNotExist) return false;
      // Unknown (throttled, no permission): the lease's expiry decides.
      return undefined;
    }
  }
}
