import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
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

  it('aborts incomplete multipart uploads after a day on every bucket, and expires no data by a bucket rule', () => {
    expect(buckets[landingId].Properties.LifecycleConfiguration).toEqual({ Rules: [abortUploads] });
    expect(buckets[logsId].Properties.LifecycleConfiguration).toEqual({ Rules: [abortUploads] });
    expect(buckets[goldId].Properties.LifecycleConfiguration.Rules.map((r: { Id: string }) => r.Id)).toEqual(['AbortIncompleteMultipartUploads', 'TierTableData']);
    expect(buckets[goldId].Properties.LifecycleConfiguration.Rules[0]).toEqual(abortUploads);
    // Only storage-class transitions besides: no Expiration, no tag filter that would give a delete path around lifecycle's checks.
    for (const b of Object.values(buckets)) {
      for (const r of b.Properties.LifecycleConfiguration?.Rules ?? []) {
        expect([r.Id, r.ExpirationInDays, r.ExpirationDate, r.TagFilters, r.NoncurrentVersionExpiration]).toEqual([r.Id, undefined, undefined, undefined, undefined]);
      }
    }
  });

  it('moves gold table data to STANDARD_IA at 30 days, GLACIER_IR at 90 and DEEP_ARCHIVE at 365, under the table prefix only', () => {
    expect(buckets[goldId].Properties.LifecycleConfiguration.Rules[1]).toEqual({
      Id: 'TierTableData',
      Status: 'Enabled',
      Prefix: 'sensors/',
      Transitions: [
        { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
        { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
        { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 365 },
      ],
    });
  });

  it('takes other tiering days and a custom gold prefix', () => {
    const custom = pipelineStack({ goldPrefix: 'lake/sensors/', tieringDays: { infrequentAccess: 45, glacierInstantRetrieval: 180, deepArchive: 730 } });
    const gold = custom.template.findResources('AWS::S3::Bucket')[logicalId(custom.pipeline.goldBucket)];
    expect(gold.Properties.LifecycleConfiguration.Rules[1]).toEqual({
      Id: 'TierTableData',
      Status: 'Enabled',
      Prefix: 'lake/sensors/',
      Transitions: [
        { StorageClass: 'STANDARD_IA', TransitionInDays: 45 },
        { StorageClass: 'GLACIER_IR', TransitionInDays: 180 },
        { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 730 },
      ],
    });
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
