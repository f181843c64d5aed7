import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { itemsKey, mergeItemsKey } from '../lambdas/core/keys';
import { buildCompactionDefinition, type CompactionDefinitionProps } from './compaction-definition';
import { KMS_WRITE_ACTIONS } from './compaction-functions';

export interface CompactionWorkflowProps extends CompactionDefinitionProps {
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Fixed, so that roles can name its executions without depending on it. */
  readonly stateMachineName: string;
  /** A run still going after this is stopped (ExecutionsTimedOut); the next run reuses its finished bins. */
  readonly timeout: Duration;
}

/** The STANDARD state machine running {@link buildCompactionDefinition}, with full logging and X-Ray. */
export class CompactionWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: CompactionWorkflowProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: props.removalPolicy });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(buildCompactionDefinition(this, props)),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      timeout: props.timeout,
      comment: `Compacts ${props.tableName}: plan, compact bins, swap, retire`,
    });
    // The ItemReader takes its bucket from the plan's output, so CDK cannot scope it: allow the
    // items lists of this table only.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.resultBucket.arnForObjects(itemsKey(props.tableName, '*')), props.resultBucket.arnForObjects(mergeItemsKey(props.tableName, '*'))],
      }),
    );
    // A gold bucket with a customer key: the ItemReader decrypts the items, the ResultWriter writes results.
    props.resultBucket.encryptionKey?.grant(this.stateMachine, ...KMS_WRITE_ACTIONS);
  }
}
