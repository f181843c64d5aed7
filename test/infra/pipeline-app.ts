/** Apps and stacks for the infra tests: template only (no bundling) unless a test asks for it. */
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { defineApp, SENSORS_COLUMNS } from '../../bin/app';
import { CompactionPipeline, type CompactionPipelineProps } from '../../lib/compaction-pipeline';

/** `new App()` does not read cdk.json: the context the tests synthesize with. */
export const TEST_CONTEXT = {
  '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true,
  'aws:cdk:bundling-stacks': [] as string[],
};

// CDK's built-in CloudFormation validation costs ~0.5-2 s per synth: off for template
// assertions (jest gives each test file its own process.env); the cdk-nag test turns it back on.
process.env.CDK_VALIDATION ??= 'false';

/** The real app of bin/app.ts. */
export function sensorsApp(context: Record<string, unknown> = {}) {
  const app = new App({ context: { ...TEST_CONTEXT, ...context } });
  const stack = defineApp(app);
  const pipeline = stack.node.findChild('Sensors') as CompactionPipeline;
  return { app, stack, pipeline };
}

/** A stack holding one pipeline for `sensors` with the given props on top of the app's. */
export function pipelineStack(props: Partial<CompactionPipelineProps> = {}, context: Record<string, unknown> = {}) {
  const app = new App({ context: { ...TEST_CONTEXT, ...context } });
  const stack = new Stack(app, 'Test');
  const pipeline = new CompactionPipeline(stack, 'Pipeline', { tableName: 'sensors', columns: SENSORS_COLUMNS, ...props });
  return { app, stack, pipeline, template: Template.fromStack(stack) };
}

/** Logical id of an L2 construct's CloudFormation resource (or of an L1). */
export function logicalId(c: IConstruct): string {
  const cfn = (c.node.defaultChild ?? c) as CfnElement;
  return Stack.of(c).getLogicalId(cfn);
}

export const ref = (c: IConstruct) => ({ Ref: logicalId(c) });
export const arnOf = (c: IConstruct) => ({ 'Fn::GetAtt': [logicalId(c), 'Arn'] });
export const objectsArn = (bucket: IConstruct, pattern: string) => ({ 'Fn::Join': ['', [arnOf(bucket), `/${pattern}`]] });
