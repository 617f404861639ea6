import { describe, expect, it } from 'vitest';
import {
  jobRunPolicy,
  jobTaskPolicy,
  leastPrivilegeViolations,
  mskResourceArn,
  parseArn,
  schedulePolicy,
  taskExecutionPolicy,
  trustPolicy,
  warehouseCopyPolicy,
} from './aws-policies.ts';

const bucketArn = 'arn:aws:s3:::ecomm-test-lake-abc';
const kmsKeyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1111';
const clusterArn = 'arn:aws:kafka:eu-west-1:123456789012:cluster/ecomm-test/uuid-1';

describe('AWS policy documents', () => {
  it('derives MSK topic and group ARNs from the cluster ARN', () => {
    expect(mskResourceArn(clusterArn, 'topic', 'clickstream')).toBe(
      'arn:aws:kafka:eu-west-1:123456789012:topic/ecomm-test/uuid-1/clickstream',
    );
    expect(mskResourceArn(clusterArn, 'group', 'stream-ingest')).toBe(
      'arn:aws:kafka:eu-west-1:123456789012:group/ecomm-test/uuid-1/stream-ingest',
    );
  });

  it('gives a lake-and-stream job only its bucket, key, topics, groups and secrets', () => {
    const policy = jobTaskPolicy({
      lake: { bucketArn, kmsKeyArn, access: { read: [], write: ['raw/'], delete: [] } },
      stream: { access: 'readWrite', clusterArn, topics: ['clickstream'], consumerGroups: ['stream-ingest'] },
      secretArns: ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:PII_HASH_KEY-x'],
    });
    const resources = policy.Statement.flatMap((s) => s.Resource);
    expect(resources).toEqual([
      `${bucketArn}/raw/*`,
      kmsKeyArn,
      clusterArn,
      mskResourceArn(clusterArn, 'topic', 'clickstream'),
      mskResourceArn(clusterArn, 'group', 'stream-ingest'),
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:PII_HASH_KEY-x',
    ]);
    expect(leastPrivilegeViolations(policy)).toEqual([]);
  });

  it('lets a describe-only stream job (the watchdog) read no message and write none, nor move a group', () => {
    const policy = jobTaskPolicy({
      stream: { access: 'describe', clusterArn, topics: ['clickstream'], consumerGroups: ['stream-ingest'] },
      secretArns: [],
    });
    const actions = policy.Statement.flatMap((s) => s.Action);
    expect(actions.sort()).toEqual([
      'kafka-cluster:Connect',
      'kafka-cluster:DescribeCluster',
      'kafka-cluster:DescribeGroup',
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:DescribeTopicDynamicConfiguration',
    ]);
    expect(leastPrivilegeViolations(policy)).toEqual([]);
  });

  it('confines each lake verb to the prefixes the job names: reads, listings, writes and deletes apart', () => {
    const policy = jobTaskPolicy({
      lake: {
        bucketArn,
        kmsKeyArn,
        access: { read: ['raw/'], write: ['quarantine/', 'staging/'], delete: ['quarantine/'] },
      },
      secretArns: [],
    });
    const bySid = Object.fromEntries(policy.Statement.map((s) => [s.Sid, s]));
    expect(bySid.ListLakePrefixes).toEqual({
      Sid: 'ListLakePrefixes',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: [bucketArn],
      Condition: { StringLikeIfExists: { 's3:prefix': ['raw/*'] } },
    });
    expect(bySid.ReadLakeObjects?.Resource).toEqual([`${bucketArn}/raw/*`]);
    expect(bySid.WriteLakeObjects?.Resource).toEqual([`${bucketArn}/quarantine/*`, `${bucketArn}/staging/*`]);
    expect(bySid.WriteLakeObjects?.Action).not.toContain('s3:DeleteObject');
    expect(bySid.DeleteLakeObjects).toMatchObject({
      Action: ['s3:DeleteObject'],
      Resource: [`${bucketArn}/quarantine/*`],
    });
    expect(bySid.UseLakeKey?.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(policy.Statement.flatMap((s) => s.Resource)).not.toContain(`${bucketArn}/*`);
    expect(leastPrivilegeViolations(policy)).toEqual([]);
  });

  it('gives a job that deletes nothing no delete, and one that only writes no read or list', () => {
    const policy = jobTaskPolicy({
      lake: { bucketArn, kmsKeyArn, access: { read: [], write: ['lineage/'], delete: [] } },
      secretArns: [],
    });
    expect(policy.Statement.flatMap((s) => s.Action)).toEqual([
      's3:PutObject',
      's3:AbortMultipartUpload',
      's3:ListMultipartUploadParts',
      'kms:Decrypt',
      'kms:GenerateDataKey',
    ]);
  });

  it('grants nothing to a job that reads no platform data', () => {
    expect(jobTaskPolicy({ secretArns: [] }).Statement).toEqual([]);
  });

  it('allows "*" only for the ECR login call that AWS cannot scope', () => {
    const policy = taskExecutionPolicy(
      'arn:aws:ecr:eu-west-1:123456789012:repository/r',
      'arn:aws:logs:eu-west-1:123456789012:log-group:/g',
    );
    expect(leastPrivilegeViolations(policy)).toEqual([]);
    expect(policy.Statement.filter((s) => s.Resource.includes('*')).flatMap((s) => s.Action)).toEqual([
      'ecr:GetAuthorizationToken',
    ]);
  });

  it('lets the warehouse read staged batches and nothing else in the lake', () => {
    const policy = warehouseCopyPolicy(bucketArn, kmsKeyArn, 'staging/');
    expect(policy.Statement.flatMap((s) => s.Action)).toEqual([
      's3:ListBucket',
      's3:GetObject',
      'kms:Decrypt',
    ]);
    expect(policy.Statement[1]?.Resource).toEqual([`${bucketArn}/staging/*`]);
  });

  it('lets a job run start only its own task family on its own cluster', () => {
    const policy = jobRunPolicy({
      taskDefinitionFamilyArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/ecomm-test-extract',
      clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/ecomm-test',
      passRoleArns: ['arn:aws:iam::123456789012:role/task', 'arn:aws:iam::123456789012:role/exec'],
    });
    expect(policy.Statement[0]?.Resource).toEqual([
      'arn:aws:ecs:eu-west-1:123456789012:task-definition/ecomm-test-extract:*',
    ]);
    expect(policy.Statement[1]?.Resource).toEqual(['arn:aws:ecs:eu-west-1:123456789012:task/ecomm-test/*']);
    expect(policy.Statement.find((s) => s.Sid === 'TagJobTask')?.Condition).toEqual({
      StringEquals: { 'ecs:CreateAction': 'RunTask' },
    });
    expect(leastPrivilegeViolations(policy)).toEqual([]);
  });

  it('lets a schedule start only its own state machine', () => {
    expect(schedulePolicy('arn:aws:states:eu-west-1:1:stateMachine:x').Statement[0]?.Resource).toEqual([
      'arn:aws:states:eu-west-1:1:stateMachine:x',
    ]);
  });

  it('flags wildcard actions and "*" resources on data planes', () => {
    const problems = leastPrivilegeViolations({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Everything', Effect: 'Allow', Action: ['s3:*'], Resource: [bucketArn] },
        { Sid: 'AnyBucket', Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['*'] },
      ],
    });
    expect(problems).toEqual([
      'Everything: wildcard action s3:*',
      'AnyBucket: resource "*" for s3:GetObject',
    ]);
  });

  it('restricts a trust policy to the stack account when asked', () => {
    expect(trustPolicy(['scheduler.amazonaws.com'], '123').Statement[0]?.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': '123' },
    });
    expect(parseArn(clusterArn)).toMatchObject({
      service: 'kafka',
      account: '123456789012',
      resource: 'cluster/ecomm-test/uuid-1',
    });
  });
});
