import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SENSORS_COLUMNS } from '../../bin/app';
import { US_EAST_1_PRICES } from '../../lambdas/core/cost';
import { arnOf, logicalId, objectsArn, pipelineStack, ref } from './pipeline-app';

const { stack, pipeline, template } = pipelineStack();
const functions = template.findResources('AWS::Lambda::Function');
const fnProps = (fn: lambda.Function) => functions[logicalId(fn)].Properties;
const landing = pipeline.landingBucket;
const gold = pipeline.goldBucket;

const tableEnv = {
  TABLE_NAME: 'sensors',
  LANDING_BUCKET: ref(landing),
  LANDING_PREFIX: 'sensors/',
  GOLD_BUCKET: ref(gold),
  GOLD_PREFIX: 'sensors/',
  PARTITION_KEYS: 'dt,hour',
};
const common = { POWERTOOLS_SERVICE_NAME: 's3-compactor', NODE_OPTIONS: '--enable-source-maps' };
// Plan (the estimate) and report (the bill) price with the functions' real memory.
const costModel = { COST_MODEL: JSON.stringify({ prices: US_EAST_1_PRICES, memoryMb: { plan: 1024, compact: 4096, merge: 3008, swap: 512, lifecycle: 512, report: 512 } }) };

describe('functions', () => {
  it('creates exactly the six step functions', () => {
    expect(Object.keys(functions).sort()).toEqual(
      [pipeline.planFunction, pipeline.compactFunction, pipeline.mergeFunction, pipeline.swapFunction, pipeline.lifecycleFunction, pipeline.reportFunction].map(logicalId).sort(),
    );
  });

  it.each([
    ['plan', () => pipeline.planFunction, 1024, 300, undefined, { ...tableEnv, TARGET_FILE_MB: '512', MAX_BIN_OBJECTS: '200000', QUIET_PERIOD_MINUTES: '60', LANDING_LAYOUT: 'hive', ...costModel }],
    [
      'compact',
      () => pipeline.compactFunction,
      4096,
      900,
      { Size: 10240 },
      {
        ...tableEnv,
        PARQUET_COMPRESSION: 'snappy',
        SCRATCH_DIR: '/tmp/compactor',
        ENGINE_MEMORY_MB: '2457',
        TABLE_COLUMNS: JSON.stringify(SENSORS_COLUMNS),
      },
    ],
    [
      'merge',
      () => pipeline.mergeFunction,
      3008,
      900,
      { Size: 10240 },
      { ...tableEnv, PARQUET_COMPRESSION: 'snappy', SCRATCH_DIR: '/tmp/compactor', ENGINE_MEMORY_MB: '1804' },
    ],
    ['swap', () => pipeline.swapFunction, 512, 300, undefined, { ...tableEnv, GLUE_DATABASE: 'compactor' }],
    ['lifecycle', () => pipeline.lifecycleFunction, 512, 900, undefined, { ...tableEnv, GLUE_DATABASE: 'compactor', GRACE_DAYS: '3' }],
    ['report', () => pipeline.reportFunction, 512, 300, undefined, { ...tableEnv, ...costModel }],
  ])('runs %s on Node 24 x86_64 with its memory, timeout, environment, tracing and log group', (_name, fn, memory, timeout, storage, env) => {
    const p = fnProps(fn());
    expect(p.Runtime).toBe('nodejs24.x');
    expect(p.Architectures).toEqual(['x86_64']);
    expect(p.Handler).toBe('index.handler');
    expect(p.MemorySize).toBe(memory);
    expect(p.Timeout).toBe(timeout);
    expect(p.EphemeralStorage).toEqual(storage);
    expect(p.TracingConfig).toEqual({ Mode: 'Active' });
    expect(p.Environment.Variables).toEqual({ ...env, ...common });
    expect(p.LoggingConfig).toEqual({ LogGroup: ref(fn().logGroup) });
    expect(p.Role).toEqual(arnOf(fn().role!));
  });

  it('keeps each function log group for a month', () => {
    for (const fn of [pipeline.planFunction, pipeline.compactFunction, pipeline.mergeFunction, pipeline.swapFunction, pipeline.lifecycleFunction, pipeline.reportFunction]) {
      expect(template.findResources('AWS::Logs::LogGroup')[logicalId(fn.logGroup)].Properties).toEqual({ RetentionInDays: 30 });
    }
  });

  it('passes the sort columns, another target size, codec and compact memory through', () => {
    const other = pipelineStack({ sortBy: ['device_id', 'ts'], targetFileMb: 256, compression: 'zstd', compactMemoryMb: 8192, graceDays: 7, quietPeriodMinutes: 0, maxBinObjects: 50_000 });
    const env = (fn: lambda.Function) => other.template.findResources('AWS::Lambda::Function')[logicalId(fn)].Properties;
    expect(env(other.pipeline.compactFunction).MemorySize).toBe(8192);
    expect(env(other.pipeline.compactFunction).Environment.Variables).toMatchObject({ SORT_BY: 'device_id,ts', PARQUET_COMPRESSION: 'zstd', ENGINE_MEMORY_MB: '4915' });
    expect(env(other.pipeline.planFunction).Environment.Variables.TARGET_FILE_MB).toBe('256');
    expect(env(other.pipeline.planFunction).Environment.Variables.MAX_BIN_OBJECTS).toBe('50000');
    expect(env(other.pipeline.lifecycleFunction).Environment.Variables.GRACE_DAYS).toBe('7');
    expect(env(other.pipeline.planFunction).Environment.Variables.QUIET_PERIOD_MINUTES).toBe('0');
    expect(JSON.parse(env(other.pipeline.reportFunction).Environment.Variables.COST_MODEL).memoryMb.compact).toBe(8192);
  });

  it('prices the estimates and reports with the given price overrides, refusing a negative or unknown price', () => {
    const other = pipelineStack({ prices: { region: 'eu-west-1', s3PerThousandRequests: { GET: 0.00042 }, lambdaPerGbSecond: 0.0000133334 } });
    const model = JSON.parse(other.template.findResources('AWS::Lambda::Function')[logicalId(other.pipeline.reportFunction)].Properties.Environment.Variables.COST_MODEL);
    expect(model.prices).toEqual({
      ...US_EAST_1_PRICES,
      region: 'eu-west-1',
      s3PerThousandRequests: { ...US_EAST_1_PRICES.s3PerThousandRequests, GET: 0.00042 },
      lambdaPerGbSecond: 0.0000133334,
    });
    expect(() => pipelineStack({ prices: { lambdaPerGbSecond: -1, s3PerThousandRequests: { GETS: 1 } as never } })).toThrow(
      'CompactionPipeline: invalid props:\n- price table: s3PerThousandRequests.GETS is not a request kind (LIST, GET, PUT, COPY, DELETE, HEAD); lambdaPerGbSecond must be a number >= 0, got -1',
    );
  });

  it('installs the DuckDB version the project depends on (the compact bundle lock matches package.json)', () => {
    const root = join(__dirname, '..', '..');
    const projectVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies['@duckdb/node-api'];
    const lock = JSON.parse(readFileSync(join(root, 'lib', 'compact-bundle', 'package-lock.json'), 'utf8'));
    expect(lock.packages[''].dependencies).toEqual({ '@duckdb/node-api': projectVersion });
    expect(lock.packages['node_modules/@duckdb/node-api'].version).toBe(projectVersion);
    expect(lock.packages['node_modules/@duckdb/node-bindings-linux-x64']).toMatchObject({ version: projectVersion, os: ['linux'], cpu: ['x64'] });
  });
});

describe('IAM', () => {
  const policies = template.findResources('AWS::IAM::Policy');
  const statementsOf = (fn: lambda.IFunction) => {
    const found = Object.values(policies).filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([ref(fn.role!)]));
    expect(found).toHaveLength(1);
    return found[0].Properties.PolicyDocument.Statement;
  };
  const basics = (fn: lambda.Function) => [
    { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: arnOf(fn.logGroup) },
    { Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' },
  ];
  const listUnder = (...prefixes: string[]) => ({ StringLike: { 's3:prefix': prefixes } });
  const landingTable = objectsArn(landing, 'sensors/*');
  const goldTable = objectsArn(gold, 'sensors/*');
  const state = objectsArn(gold, '_compactor/sensors/state/*');
  const plans = objectsArn(gold, '_compactor/sensors/plans/*');
  const manifests = objectsArn(gold, '_compactor/sensors/manifests/*');
  const stage = objectsArn(gold, '_compactor/sensors/stage/*');
  const lease = objectsArn(gold, '_compactor/sensors/lease.json');
  const ratios = objectsArn(gold, '_compactor/sensors/output-ratios.json');
  const pending = objectsArn(gold, '_compactor/sensors/pending/*');
  const glue = (resource: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${resource}`]] });
  const tableArns = [glue('catalog'), glue('database/compactor'), glue('table/compactor/sensors')];
  const glueRead = ['glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions', 'glue:BatchGetPartition'];

  it('lets plan list and read landing, read state, lease and output ratios, list the pending index, and write only plans and the lease', () => {
    expect(statementsOf(pipeline.planFunction)).toEqual([
      ...basics(pipeline.planFunction),
      { Action: 's3:ListBucket', Condition: listUnder('sensors/*'), Effect: 'Allow', Resource: arnOf(landing) },
      { Action: 's3:GetObject', Effect: 'Allow', Resource: landingTable },
      { Action: 's3:ListBucket', Condition: listUnder('_compactor/sensors/state/*', '_compactor/sensors/lease.json', '_compactor/sensors/output-ratios.json', '_compactor/sensors/pending/*'), Effect: 'Allow', Resource: arnOf(gold) },
      { Action: 's3:GetObject', Effect: 'Allow', Resource: [state, lease, ratios] },
      { Action: 's3:PutObject', Effect: 'Allow', Resource: [plans, lease] },
      {
        Action: 'states:DescribeExecution',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':execution:Test-sensors-compaction:*']] },
      },
    ]);
  });

  it('lets compact read its inputs, plans, manifests, state and intermediates, and write only table data, manifests, quarantine and intermediates', () => {
    expect(statementsOf(pipeline.compactFunction)).toEqual([
      ...basics(pipeline.compactFunction),
      { Action: 's3:ListBucket', Condition: listUnder('sensors/*'), Effect: 'Allow', Resource: arnOf(landing) },
      { Action: 's3:GetObject', Effect: 'Allow', Resource: landingTable },
      {
        Action: 's3:ListBucket',
        Condition: listUnder('sensors/*', '_compactor/sensors/plans/*', '_compactor/sensors/manifests/*', '_compactor/sensors/state/*', '_compactor/sensors/stage/*'),
        Effect: 'Allow',
        Resource: arnOf(gold),
      },
      { Action: 's3:GetObject', Effect: 'Allow', Resource: [goldTable, plans, manifests, state, stage] },
      { Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Effect: 'Allow', Resource: [goldTable, manifests, objectsArn(gold, 'quarantine/sensors/*'), stage] },
    ]);
  });

  it('lets merge read plans, manifests, state, intermediates and table data, and write only table data and manifests', () => {
    expect(statementsOf(pipeline.mergeFunction)).toEqual([
      ...basics(pipeline.mergeFunction),
      {
        Action: 's3:ListBucket',
        Condition: listUnder('sensors/*', '_compactor/sensors/plans/*', '_compactor/sensors/manifests/*', '_compactor/sensors/state/*', '_compactor/sensors/stage/*'),
        Effect: 'Allow',
        Resource: arnOf(gold),
      },
      { Action: 's3:GetObject', Effect: 'Allow', Resource: [goldTable, plans, manifests, state, stage] },
      { Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Effect: 'Allow', Resource: [goldTable, manifests] },
    ]);
  });

  it('lets swap read plans, manifests, state, the pending index and table data, write state, the pending index, carried table data and output ratios, and change this Glue table only', () => {
    expect(statementsOf(pipeline.swapFunction)).toEqual([
      ...basics(pipeline.swapFunction),
      { Action: 's3:ListBucket', Condition: listUnder('sensors/*', '_compactor/sensors/plans/*', '_compactor/sensors/manifests/*', '_compactor/sensors/state/*', '_compactor/sensors/pending/*', '_compactor/sensors/output-ratios.json'), Effect: 'Allow', Resource: arnOf(gold) },
      { Action: 's3:GetObject', Effect: 'Allow', Resource: [goldTable, plans, manifests, state, pending, ratios] },
      { Action: 's3:PutObject', Effect: 'Allow', Resource: [goldTable, state, pending, ratios] },
      { Action: [...glueRead, 'glue:BatchCreatePartition', 'glue:BatchUpdatePartition', 'glue:UpdateTable'], Effect: 'Allow', Resource: tableArns },
    ]);
  });

  it('lets lifecycle read and delete landing and gold table data, rewrite state, move retired manifests, prune the pending index and read this table\'s partitions', () => {
    expect(statementsOf(pipeline.lifecycleFunction)).toEqual([
      ...basics(pipeline.lifecycleFunction),
      { Action: 's3:ListBucket', Condition: listUnder('sensors/*'), Effect: 'Allow', Resource: arnOf(landing) },
      { Action: ['s3:GetObject', 's3:DeleteObject'], Effect: 'Allow', Resource: landingTable },
      { Action: 's3:ListBucket', Condition: listUnder('sensors/*', '_compactor/sensors/state/*'), Effect: 'Allow', Resource: arnOf(gold) },
      { Action: ['s3:GetObject', 's3:DeleteObject'], Effect: 'Allow', Resource: [goldTable, stage] },
      { Action: ['s3:GetObject', 's3:PutObject'], Effect: 'Allow', Resource: state },
      { Action: glueRead, Effect: 'Allow', Resource: tableArns },
      // A retired version's manifests move to the retired prefix (copy, then delete the original).
      { Action: 's3:ListBucket', Condition: listUnder('_compactor/sensors/manifests/*'), Effect: 'Allow', Resource: arnOf(gold) },
      { Action: ['s3:GetObject', 's3:DeleteObject'], Effect: 'Allow', Resource: objectsArn(gold, '_compactor/sensors/manifests/*') },
      { Action: 's3:PutObject', Effect: 'Allow', Resource: objectsArn(gold, '_compactor/sensors/retired/manifests/*') },
      // The pending index: read, and an entry removed once its partition has nothing left.
      { Action: 's3:ListBucket', Condition: listUnder('_compactor/sensors/pending/*'), Effect: 'Allow', Resource: arnOf(gold) },
      { Action: ['s3:GetObject', 's3:DeleteObject'], Effect: 'Allow', Resource: pending },
    ]);
  });

  it('grants nothing on a whole bucket\'s objects, no list without a prefix, and no tagging', () => {
    for (const [id, p] of Object.entries(policies)) {
      for (const st of p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown }>) {
        const actions = [st.Action].flat();
        expect([id, JSON.stringify(st.Resource)]).not.toEqual([id, expect.stringMatching(/"\/\*"/)]);
        if (actions.includes('s3:ListBucket')) expect([id, st.Condition]).toEqual([id, { StringLike: { 's3:prefix': expect.any(Array) } }]);
        expect([id, actions.filter((a) => /Tagging|^s3:\*$|^\*$/.test(a))]).toEqual([id, []]);
      }
    }
  });

  it('lets report read plans, Map results, manifests, state and quarantine reports and write only its run reports', () => {
    const under = ['_compactor/sensors/plans/*', '_compactor/sensors/results/*', '_compactor/sensors/manifests/*', '_compactor/sensors/state/*', 'quarantine/sensors/*'];
    expect(statementsOf(pipeline.reportFunction)).toEqual([
      ...basics(pipeline.reportFunction),
      { Action: 's3:ListBucket', Condition: listUnder(...under), Effect: 'Allow', Resource: arnOf(gold) },
      { Action: 's3:GetObject', Effect: 'Allow', Resource: under.map((p) => objectsArn(gold, p)) },
      { Action: 's3:PutObject', Effect: 'Allow', Resource: objectsArn(gold, '_compactor/sensors/reports/*') },
    ]);
  });

  it('gives no role a managed policy or an inline policy', () => {
    for (const [id, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
      expect([id, role.Properties.ManagedPolicyArns, role.Properties.Policies]).toEqual([id, undefined, undefined]);
    }
  });

  it('lets no role but lifecycle\'s delete anything, and lifecycle only landing and gold table data, its table\'s manifests (moved when retired) and pending index entries', () => {
    const deletes = (action: string) => action === '*' || action === 's3:*' || /^s3:(Delete|.*\*)/.test(action);
    const grants: Array<{ role: string; resources: unknown }> = [];
    for (const p of Object.values(policies)) {
      for (const st of p.Properties.PolicyDocument.Statement as Array<{ Effect: string; Action: string | string[]; Resource: unknown }>) {
        if (st.Effect === 'Allow' && [st.Action].flat().some(deletes)) grants.push({ role: p.Properties.Roles[0].Ref, resources: st.Resource });
      }
    }
    const lifecycleRole = logicalId(pipeline.lifecycleFunction.role!);
    expect(grants).toEqual([
      { role: lifecycleRole, resources: landingTable },
      { role: lifecycleRole, resources: [goldTable, objectsArn(gold, '_compactor/sensors/stage/*')] },
      { role: lifecycleRole, resources: objectsArn(gold, '_compactor/sensors/manifests/*') },
      { role: lifecycleRole, resources: pending },
    ]);
    // The state machine's role (Map results) deletes nothing either.
    expect(Object.values(policies).every((p) => p.Properties.Roles.length === 1)).toBe(true);
  });

  it('scopes grants to another table\'s prefixes and system prefixes', () => {
    const other = pipelineStack({ tableName: 'orders', landingPrefix: 'raw/orders/', goldPrefix: 'curated/orders/' });
    const roleRef = JSON.stringify([ref(other.pipeline.lifecycleFunction.role!)]);
    const policy = Object.values(other.template.findResources('AWS::IAM::Policy')).find((p) => JSON.stringify(p.Properties.Roles) === roleRef);
    const doc = JSON.stringify(policy);
    expect(doc).toContain('"/raw/orders/*"');
    expect(doc).toContain('"/curated/orders/*"');
    expect(doc).toContain('"/_compactor/orders/state/*"');
    expect(doc).toContain('"_compactor/orders/state/*"');
    expect(doc).toContain('":table/compactor/orders"');
    expect(doc).not.toContain('sensors');
  });
});

it('resolves the helpers against this stack', () => {
  expect(stack.resolve(landing.bucketArn)).toEqual(arnOf(landing));
});
