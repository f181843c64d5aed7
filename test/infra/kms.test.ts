import { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { CompactionPipeline } from '../../lib/compaction-pipeline';
import { arnOf, kmsBucketsStack, logicalId, pipelineStack, ref } from './pipeline-app';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

/** The KMS statements of one role, in order. */
function kmsStatements(template: Template, role: IRole): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([ref(role)]));
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]).filter((st) => [st.Action].flat().some((a) => a.startsWith('kms:')));
}

const rolesOf = (p: CompactionPipeline) =>
  [
    ['plan', p.planFunction.role!],
    ['compact', p.compactFunction.role!],
    ['merge', p.mergeFunction.role!],
    ['swap', p.swapFunction.role!],
    ['lifecycle', p.lifecycleFunction.role!],
    ['report', p.reportFunction.role!],
    ['state machine', p.stateMachine.role],
  ] as const;

describe('buckets encrypted with a customer key (BucketEncryption.KMS)', () => {
  const { pipeline, landing, gold, template } = kmsBucketsStack();
  const read = (key: kms.IKey) => ({ Action: 'kms:Decrypt', Effect: 'Allow', Resource: arnOf(key) });
  const write = (key: kms.IKey) => ({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: arnOf(key) });

  it('lets readers decrypt with the landing key, and writers of gold (the state machine\'s ItemReader and ResultWriter too) use the gold key', () => {
    const landingKey = landing.encryptionKey!;
    const goldKey = gold.encryptionKey!;
    expect(rolesOf(pipeline).map(([name, role]) => [name, kmsStatements(template, role)])).toEqual([
      ['plan', [read(landingKey), write(goldKey)]],
      ['compact', [read(landingKey), write(goldKey)]],
      ['merge', [write(goldKey)]],
      ['swap', [write(goldKey)]],
      ['lifecycle', [read(landingKey), write(goldKey)]],
      ['report', [write(goldKey)]],
      ['state machine', [write(goldKey)]],
    ]);
  });

  it('grants nothing on the keys beyond these roles, and leaves the keys\' policies as the team wrote them', () => {
    const all = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Statement[]).filter((st) => [st.Action].flat().some((a) => a.startsWith('kms:'))).map(() => p.Properties.Roles[0].Ref),
    );
    expect([...new Set(all)].sort()).toEqual(rolesOf(pipeline).map(([, role]) => logicalId(role)).sort());
    for (const key of [landing.encryptionKey!, gold.encryptionKey!]) {
      const policy = template.findResources('AWS::KMS::Key')[logicalId(key)].Properties.KeyPolicy;
      expect(policy.Statement).toEqual([
        {
          Action: 'kms:*',
          Effect: 'Allow',
          Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
          Resource: '*',
        },
      ]);
    }
  });

  it('adds no bucket, key or lifecycle rule of its own to the team\'s buckets', () => {
    template.resourceCountIs('AWS::S3::Bucket', 3);
    template.resourceCountIs('AWS::KMS::Key', 2);
    for (const b of [landing, gold]) expect(template.findResources('AWS::S3::Bucket')[logicalId(b)].Properties.LifecycleConfiguration).toBeUndefined();
    expect(pipeline.encryptionKey).toBeUndefined();
    expect(pipeline.outputs.EncryptionKeyArn).toBeUndefined();
  });

  it('grants on an imported bucket\'s key by its ARN', () => {
    const stack = new Stack(undefined, 'Imported');
    const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const landingBucket = s3.Bucket.fromBucketAttributes(stack, 'Landing', { bucketName: 'acme-landing', encryptionKey: kms.Key.fromKeyArn(stack, 'Key', keyArn) });
    const own = pipelineStack({ landingBucket, goldBucket: s3.Bucket.fromBucketName(stack, 'Gold', 'acme-gold') });
    expect(rolesOf(own.pipeline).map(([name, role]) => [name, kmsStatements(own.template, role)])).toEqual([
      ['plan', [{ Action: 'kms:Decrypt', Effect: 'Allow', Resource: keyArn }]],
      ['compact', [{ Action: 'kms:Decrypt', Effect: 'Allow', Resource: keyArn }]],
      ['merge', []],
      ['swap', []],
      ['lifecycle', [{ Action: 'kms:Decrypt', Effect: 'Allow', Resource: keyArn }]],
      ['report', []],
      ['state machine', []],
    ]);
  });
});

describe('buckets created with a customer key (encryption: KMS)', () => {
  const { pipeline, template } = pipelineStack({ encryption: s3.BucketEncryption.KMS });
  const key = pipeline.encryptionKey!;
  const buckets = template.findResources('AWS::S3::Bucket');

  it('creates one key with rotation, retained with the data', () => {
    const keys = template.findResources('AWS::KMS::Key');
    expect(Object.keys(keys)).toEqual([logicalId(key)]);
    expect(keys[logicalId(key)]).toMatchObject({
      Properties: { EnableKeyRotation: true, Description: 'Encrypts the landing and gold buckets of the S3 compactor' },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('encrypts landing and gold with it (S3 Bucket Keys on), and the access-log bucket with SSE-S3', () => {
    const withKey = { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arnOf(key) } }] };
    expect(buckets[logicalId(pipeline.landingBucket)].Properties.BucketEncryption).toEqual(withKey);
    expect(buckets[logicalId(pipeline.goldBucket)].Properties.BucketEncryption).toEqual(withKey);
    expect(buckets[logicalId(pipeline.accessLogsBucket!)].Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  it('grants each role the key as it reads or writes, and exports the key ARN', () => {
    const read = { Action: 'kms:Decrypt', Effect: 'Allow', Resource: arnOf(key) };
    const write = { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: arnOf(key) };
    expect(rolesOf(pipeline).map(([name, role]) => [name, kmsStatements(template, role)])).toEqual([
      ['plan', [read, write]],
      ['compact', [read, write]],
      ['merge', [write]],
      ['swap', [write]],
      ['lifecycle', [read, write]],
      ['report', [write]],
      ['state machine', [write]],
    ]);
    expect(template.toJSON().Outputs.SensorsEncryptionKeyArn).toEqual({ Description: 'sensors: customer key of the buckets this pipeline created', Value: arnOf(key) });
  });

  it('uses a given key instead of creating one', () => {
    const stack = new Stack(undefined, 'Keys');
    const given = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    const own = pipelineStack({ encryptionKey: given });
    own.template.resourceCountIs('AWS::KMS::Key', 0);
    const gold = own.template.findResources('AWS::S3::Bucket')[logicalId(own.pipeline.goldBucket)];
    expect(gold.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: given.keyArn });
  });
});
