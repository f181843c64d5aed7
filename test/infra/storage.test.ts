import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { leaseKey, manifestKey, mapResultsPrefix, outputRatiosKey, planKey, quarantinePrefix, retiredManifestKey, reportPrefix, stateKey } from '../../lambdas/core/keys';
import type { CompactionPipelineProps } from '../../lib/compaction-pipeline';
import { arnOf, logicalId, objectsArn, pipelineStack, ref } from './pipeline-app';

const { stack, pipeline, template } = pipelineStack();
const buckets = template.findResources('AWS::S3::Bucket');
const landingId = logicalId(pipeline.landingBucket);
const goldId = logicalId(pipeline.goldBucket);
const logsId = logicalId(pipeline.accessLogsBucket!);

const abortUploads = { Id: 'AbortIncompleteMultipartUploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } };

function policyStatements(bucketId: string): unknown[] {
  const policies = Object.values(template.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: bucketId } } }));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

describe('buckets', () => {
  it('creates a landing, a gold and an access-log bucket', () => {
    expect(Object.keys(buckets).sort()).toEqual([goldId, landingId, logsId].sort());
  });

  it('blocks public access, encrypts with SSE-S3 and enforces bucket-owner object ownership on every bucket', () => {
    for (const b of Object.values(buckets)) {
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(b.Properties.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
      expect(b.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
      expect(b.Properties.VersioningConfiguration).toBeUndefined();
    }
  });

  it('denies every request without TLS 1.2 on every bucket', () => {
    for (const id of [landingId, goldId, logsId]) {
      const resources = [{ 'Fn::GetAtt': [id, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/*']] }];
      expect(policyStatements(id).slice(0, 2)).toEqual([
        { Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Effect: 'Deny', Principal: { AWS: '*' }, Resource: resources },
        { Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } }, Effect: 'Deny', Principal: { AWS: '*' }, Resource: resources },
      ]);
    }
  });

  it('logs server access of landing and gold to the log bucket, under one prefix each', () => {
    expect(buckets[landingId].Properties.LoggingConfiguration).toEqual({ DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'landing/' });
    expect(buckets[goldId].Properties.LoggingConfiguration).toEqual({ DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'gold/' });
    expect(buckets[logsId].Properties.LoggingConfiguration).toBeUndefined();
    const delivery = (source: string, prefix: string) => ({
      Action: 's3:PutObject',
      Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [source, 'Arn'] } }, StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      Effect: 'Allow',
      Principal: { Service: 'logging.s3.amazonaws.com' },
      Resource: objectsArn(pipeline.accessLogsBucket!, `${prefix}/*`),
    });
    expect(policyStatements(logsId).slice(2)).toEqual([delivery(landingId, 'landing'), delivery(goldId, 'gold')]);
  });

  it('aborts incomplete multipart uploads after a day on every bucket, and no bucket rule expires table data or landing objects', () => {
    expect(buckets[landingId].Properties.LifecycleConfiguration).toEqual({ Rules: [abortUploads] });
    expect(buckets[logsId].Properties.LifecycleConfiguration).toEqual({ Rules: [abortUploads] });
    expect(buckets[goldId].Properties.LifecycleConfiguration.Rules[0]).toEqual(abortUploads);
    // Expiry only of the pipeline's own history (plans, results, retired manifests, reports, quarantine), never
    // a tag filter: no delete path around lifecycle's grace and ETag checks.
    for (const b of Object.values(buckets)) {
      for (const r of b.Properties.LifecycleConfiguration?.Rules ?? []) {
        expect([r.Id, r.TagFilters, r.NoncurrentVersionExpiration]).toEqual([r.Id, undefined, undefined]);
        if (r.ExpirationInDays !== undefined || r.ExpirationDate !== undefined) expect([r.Id, /^(_compactor\/sensors\/|quarantine\/sensors\/)/.test(r.Prefix ?? '')]).toEqual([r.Id, true]);
      }
    }
  });

  it('moves gold table data to STANDARD_IA at 30 days and nothing colder, under the table prefix only', () => {
    expect(buckets[goldId].Properties.LifecycleConfiguration.Rules[1]).toEqual({
      Id: 'TierTableData-sensors',
      Status: 'Enabled',
      Prefix: 'sensors/',
      Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
    });
  });

  it('expires plans and Map results after 30 days, retired manifests and run reports after 90, quarantine after 365, each under this table\'s prefix', () => {
    expect(buckets[goldId].Properties.LifecycleConfiguration.Rules.slice(2)).toEqual([
      { Id: 'ExpirePlans-sensors', Status: 'Enabled', Prefix: '_compactor/sensors/plans/', ExpirationInDays: 30 },
      { Id: 'ExpireMapResults-sensors', Status: 'Enabled', Prefix: '_compactor/sensors/results/', ExpirationInDays: 30 },
      { Id: 'ExpireRetiredManifests-sensors', Status: 'Enabled', Prefix: '_compactor/sensors/retired/manifests/', ExpirationInDays: 90 },
      { Id: 'ExpireRunReports-sensors', Status: 'Enabled', Prefix: '_compactor/sensors/reports/', ExpirationInDays: 90 },
      { Id: 'ExpireQuarantine-sensors', Status: 'Enabled', Prefix: 'quarantine/sensors/', ExpirationInDays: 365 },
    ]);
    expect(pipeline.lifecycleRules).toHaveLength(6);
  });

  it('never expires partition state, the lease, output ratios or the manifests of current and superseded versions', () => {
    const keys = [
      stateKey('sensors', 'dt=2024-12-19/hour=14'),
      leaseKey('sensors'),
      outputRatiosKey('sensors'),
      manifestKey('sensors', 'dt=2024-12-19/hour=14', 'abc', 'bin1'),
      'sensors/dt=2024-12-19/hour=14/v=abc/part-bin1.parquet',
    ];
    type Rule = { Id: string; Prefix?: string; ExpirationInDays?: number };
    // No rule has a tag filter (above): a rule expires a key when its prefix (if any) holds the key.
    const expiring = (buckets[goldId].Properties.LifecycleConfiguration.Rules as Rule[]).filter((r) => r.ExpirationInDays);
    const expiryOf = (key: string) => expiring.filter((r) => key.startsWith(r.Prefix ?? '')).map((r) => r.Id);
    for (const key of keys) expect([key, expiryOf(key)]).toEqual([key, []]);
    // What does expire: a retired manifest, a plan, Map results, a run report, quarantine.
    const retired = retiredManifestKey('sensors', manifestKey('sensors', 'dt=2024-12-19/hour=14', 'abc', 'bin1'));
    expect(retired).toBe('_compactor/sensors/retired/manifests/dt=2024-12-19/hour=14/v=abc/bin1.json');
    for (const key of [retired, planKey('sensors', 'p1'), `${mapResultsPrefix('sensors')}x/SUCCEEDED_0.json`, `${reportPrefix('sensors')}r.json`, quarantinePrefix('sensors', 'dt=2024-12-19', 'b1')]) {
      expect([key, expiryOf(key).length]).toEqual([key, 1]);
    }
  });

  it.each<[string, Partial<CompactionPipelineProps>, unknown[] | undefined]>([
    ['Intelligent-Tiering at once', { tiering: { intelligentTiering: 0 } }, [{ StorageClass: 'INTELLIGENT_TIERING', TransitionInDays: 0 }]],
    [
      'an opted-in archive',
      { tiering: { infrequentAccess: 45, glacierInstantRetrieval: 180, deepArchive: 730 } },
      [
        { StorageClass: 'STANDARD_IA', TransitionInDays: 45 },
        { StorageClass: 'GLACIER_IR', TransitionInDays: 180 },
        { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 730 },
      ],
    ],
    ['no tiering', { tiering: false }, undefined],
    [
      'the deprecated tieringDays, with its old defaults',
      { tieringDays: { infrequentAccess: 45 } },
      [
        { StorageClass: 'STANDARD_IA', TransitionInDays: 45 },
        { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
        { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 365 },
      ],
    ],
  ])('tiers the table data with %s', (_what, props, transitions) => {
    const custom = pipelineStack({ goldPrefix: 'lake/sensors/', ...props });
    const rules = custom.template.findResources('AWS::S3::Bucket')[logicalId(custom.pipeline.goldBucket)].Properties.LifecycleConfiguration.Rules;
    const tier = rules.find((r: { Id: string }) => r.Id === 'TierTableData-sensors');
    expect(tier).toEqual(transitions && { Id: 'TierTableData-sensors', Status: 'Enabled', Prefix: 'lake/sensors/', Transitions: transitions });
    expect(rules.map((r: { Id: string }) => r.Id)).toContain('ExpirePlans-sensors');
  });

  it('warns that the deprecated tieringDays moves data to DEEP_ARCHIVE', () => {
    const old = pipelineStack({ tieringDays: {} });
    Annotations.fromStack(old.stack).hasWarning(
      '/Test/Pipeline',
      'tieringDays is deprecated: its defaults move table data to DEEP_ARCHIVE after 365 days, where Athena and Spark cannot read it; use tiering (only the classes named are used) [ack: compactor:tieringDays]',
    );
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  it('takes other retention days, or none', () => {
    const rulesOf = (props: Partial<CompactionPipelineProps>) => {
      const p = pipelineStack(props);
      return p.template.findResources('AWS::S3::Bucket')[logicalId(p.pipeline.goldBucket)].Properties.LifecycleConfiguration.Rules;
    };
    const custom = rulesOf({ systemRetentionDays: { plans: 14, quarantine: 3650 } });
    expect(custom.filter((r: { ExpirationInDays?: number; Prefix?: string }) => r.Prefix && r.ExpirationInDays).map((r: { Id: string; ExpirationInDays: number }) => [r.Id, r.ExpirationInDays])).toEqual([
      ['ExpirePlans-sensors', 14],
      ['ExpireMapResults-sensors', 30],
      ['ExpireRetiredManifests-sensors', 90],
      ['ExpireRunReports-sensors', 90],
      ['ExpireQuarantine-sensors', 3650],
    ]);
    expect(rulesOf({ systemRetentionDays: false, tiering: false }).map((r: { Id: string }) => r.Id)).toEqual(['AbortIncompleteMultipartUploads']);
  });

  it('retains buckets, the Glue database and table and the log groups by default', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Logs::LogGroup']) {
      const found = Object.values(template.findResources(type));
      expect(found.length).toBeGreaterThan(0);
      for (const r of found) expect([type, r.DeletionPolicy, r.UpdateReplacePolicy]).toEqual([type, 'Retain', 'Retain']);
    }
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    expect(pipeline.removalPolicy).toBe(RemovalPolicy.RETAIN);
  });

  it('destroys and empties data resources only with the compactor:destroyData context flag', () => {
    const destroyed = pipelineStack({}, { 'compactor:destroyData': 'true' });
    for (const type of ['AWS::S3::Bucket', 'AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Logs::LogGroup']) {
      for (const r of Object.values(destroyed.template.findResources(type))) expect([type, r.DeletionPolicy]).toEqual([type, 'Delete']);
    }
    destroyed.template.resourceCountIs('Custom::S3AutoDeleteObjects', 3);
  });

  it('uses existing buckets as they are: no bucket, no rule, no policy of its own', () => {
    const existing = new Stack(undefined, 'Existing');
    const landing = s3.Bucket.fromBucketName(existing, 'Landing', 'acme-landing');
    const gold = s3.Bucket.fromBucketName(existing, 'Gold', 'acme-gold');
    const own = pipelineStack({ landingBucket: landing, goldBucket: gold });
    own.template.resourceCountIs('AWS::S3::Bucket', 0);
    own.template.resourceCountIs('AWS::S3::BucketPolicy', 0);
    expect(own.pipeline.accessLogsBucket).toBeUndefined();
    const fn = Template.fromStack(own.stack).findResources('AWS::Lambda::Function')[logicalId(own.pipeline.planFunction)];
    expect(fn.Properties.Environment.Variables).toMatchObject({ LANDING_BUCKET: 'acme-landing', GOLD_BUCKET: 'acme-gold' });
    const table = Object.values(own.template.findResources('AWS::Glue::Table'))[0];
    expect(table.Properties.TableInput.StorageDescriptor.Location).toBe('s3://acme-gold/sensors/');
  });
});

// Keeps the helpers honest: the ids they compute are the template's.
it('computes logical ids and ARNs the way the template spells them', () => {
  expect(stack.resolve(pipeline.goldBucket.bucketArn)).toEqual(arnOf(pipeline.goldBucket));
  expect(stack.resolve(pipeline.goldBucket.bucketName)).toEqual(ref(pipeline.goldBucket));
});
