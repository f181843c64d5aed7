import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, Validations, type App } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { CompactionPipeline } from '../../lib/compaction-pipeline';
import { kmsBucketsStack, logicalId, sensorsApp, twoTableStack } from './pipeline-app';

// A template value as CDK's Template.toJSON() types it.
type Json = ReturnType<Template['toJSON']>[string];

/** A resolved ARN spelled the way cdk-nag names it in a finding id: `<Id.Arn>/prefix/*`. */
function nagSpelling(value: Json): string {
  if (typeof value === 'string') return value;
  if (value.Ref) return `<${value.Ref}>`;
  if (value['Fn::GetAtt']) return `<${value['Fn::GetAtt'].join('.')}>`;
  if (value['Fn::Join']) return value['Fn::Join'][1].map(nagSpelling).join(value['Fn::Join'][0]);
  return JSON.stringify(value);
}

type Ack = (scope: IConstruct, id: string, reason: string) => void;
interface Built {
  readonly app: App;
  readonly pipelines: readonly CompactionPipeline[];
}

/** The acknowledgements every pipeline needs, each on its own resource with its reason. */
function acknowledgePipeline(pipeline: CompactionPipeline, ack: Ack): void {
  const stack = Stack.of(pipeline);
  const table = pipeline.tableName;
  const objects = (bucket: s3.IBucket, pattern: string) => `AwsSolutions-IAM5[Resource::${nagSpelling(stack.resolve(bucket.arnForObjects(pattern)))}]`;
  const policyOf = (fn: lambda.IFunction) => fn.role!.node.findChild('DefaultPolicy');
  const landingTable = objects(pipeline.landingBucket, `${pipeline.landingPrefix}*`);
  const goldTable = objects(pipeline.goldBucket, `${pipeline.goldPrefix}*`);
  const [state, plans, manifests, retired, stage, pending] = ['state', 'plans', 'manifests', 'retired/manifests', 'stage', 'pending'].map((p) => objects(pipeline.goldBucket, `_compactor/${table}/${p}/*`));

  const byFunction: Array<[lambda.IFunction, string[]]> = [
    [pipeline.planFunction, [landingTable, state, plans]],
    [pipeline.compactFunction, [landingTable, goldTable, plans, manifests, state, stage, objects(pipeline.goldBucket, `quarantine/${table}/*`)]],
    [pipeline.mergeFunction, [goldTable, plans, manifests, state, stage]],
    [pipeline.swapFunction, [goldTable, plans, manifests, state, pending]],
    [pipeline.lifecycleFunction, [landingTable, goldTable, stage, state, pending, manifests, retired]],
    [pipeline.reportFunction, [plans, objects(pipeline.goldBucket, `_compactor/${table}/results/*`), manifests, state, objects(pipeline.goldBucket, `quarantine/${table}/*`), objects(pipeline.goldBucket, `_compactor/${table}/reports/*`)]],
  ];
  for (const [fn, prefixes] of byFunction) {
    ack(policyOf(fn), 'AwsSolutions-IAM5[Resource::*]', 'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions');
    for (const p of prefixes) {
      ack(policyOf(fn), p, 'Object keys are derived per partition, version and bin at run time; the wildcard is bounded by this table\'s prefix');
    }
  }

  ack(
    policyOf(pipeline.planFunction),
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stack.stackName}-${table}-compaction:*]`,
    'The run lease asks whether the holding execution of this state machine still runs; execution names are per run',
  );

  const sm = pipeline.stateMachine;
  const smPolicy = sm.role.node.findChild('DefaultPolicy');
  ack(smPolicy, 'AwsSolutions-IAM5[Resource::*]', 'CloudWatch Logs vended-log delivery and X-Ray APIs support no resource-level permissions');
  for (const fn of [pipeline.planFunction, pipeline.compactFunction, pipeline.mergeFunction, pipeline.swapFunction, pipeline.lifecycleFunction, pipeline.reportFunction]) {
    ack(smPolicy, `AwsSolutions-IAM5[Resource::<${logicalId(fn)}.Arn>:*]`, 'LambdaInvoke grants the versions and aliases of this one function');
  }
  ack(smPolicy, objects(pipeline.goldBucket, `_compactor/${table}/results/*`), 'The Map ResultWriter names its result files per execution under this table\'s results prefix');
  ack(smPolicy, objects(pipeline.goldBucket, `_compactor/${table}/plans/*/items.json`), 'The ItemReader reads the items list of the run\'s plan; plan ids are generated per run');
  ack(smPolicy, objects(pipeline.goldBucket, `_compactor/${table}/plans/*/merges.json`), 'The merge Map\'s ItemReader reads the merges list of the run\'s plan; plan ids are generated per run');
  const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalId(sm)}"}]}]}`;
  const mapPolicy = sm.node.findChild('DistributedMapPolicy');
  ack(mapPolicy, `AwsSolutions-IAM5[Resource::${executions}:*]`, 'Distributed Map child executions of this state machine have generated names');
  ack(mapPolicy, `AwsSolutions-IAM5[Resource::${executions}/CompactBins:*]`, 'Redrive of this state machine\'s CompactBins Map Runs, whose ids are generated');
  ack(mapPolicy, `AwsSolutions-IAM5[Resource::${executions}/MergeFiles:*]`, 'Redrive of this state machine\'s MergeFiles Map Runs, whose ids are generated');
}

/**
 * Acknowledges every pipeline's findings (and `extra`), then checks that each acknowledgement
 * answers a real finding on that very resource (none stale or too broad, against a second app
 * built without them) and that the synthesized app passes the checks and CDK's own validation.
 */
function expectNagClean(build: () => Built, extra: (built: Built, ack: Ack) => void = () => {}): void {
  // This test wants CDK's own CloudFormation validation too (pipeline-app turns it off for speed).
  process.env.CDK_VALIDATION = 'true';
  const built = build();
  const { app } = built;
  const acks: Array<{ path: string; id: string }> = [];
  const ack: Ack = (scope, id, reason) => {
    Validations.of(scope).acknowledge({ id, reason });
    acks.push({ path: scope.node.path, id });
  };
  for (const pipeline of built.pipelines) acknowledgePipeline(pipeline, ack);
  extra(built, ack);

  const { app: bare } = build();
  const found = new AwsSolutionsChecks().validateScope(bare).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`));
  const acknowledged = acks
    .filter((a) => a.id.startsWith('AwsSolutions-'))
    .map((a) => `${a.id} @ ${a.path}/Resource`);
  expect(acknowledged.sort()).toEqual(found.sort());

  const pack = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(pack);
  expect(() => app.synth()).not.toThrow();
  expect(pack.validateScope(app)).toEqual({ success: true, violations: [] });

  const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8'));
  const findings = report.pluginReports.flatMap((r: Json) =>
    r.violations.flatMap((v: Json) => v.violatingConstructs.map((c: Json) => `${r.pluginName} ${v.ruleName} ${c.constructPath}`)),
  );
  expect(findings).toEqual([]);
  // cdk-nag filters its acknowledged findings itself; CDK's own validation must not fail either.
  expect(report.pluginReports.filter((r: Json) => r.conclusion !== 'success')).toEqual([]);
}

describe('AWS Solutions checks, every exception acknowledged on its own resource with a reason', () => {
  it('passes for the app', () => {
    expectNagClean(() => {
      const { app, pipeline } = sensorsApp();
      expect(Stack.of(pipeline).stackName).toBe('S3Compactor');
      return { app, pipelines: [pipeline] };
    });
  });

  it('passes for two tables sharing a lake whose buckets use a customer key', () => {
    expectNagClean(() => {
      const { app, sensors, orders } = twoTableStack();
      return { app, pipelines: [sensors, orders] };
    });
  });

  it('passes for a pipeline on a team\'s own buckets encrypted with customer keys', () => {
    expectNagClean(() => {
      const { app, pipeline } = kmsBucketsStack();
      return { app, pipelines: [pipeline] };
    });
  });
});
