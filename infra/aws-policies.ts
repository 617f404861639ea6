/**
 * IAM policy documents for the AWS stack, as pure functions of ARNs so they can be tested without
 * AWS. Least privilege: every statement names its resources; the only `*` resource is for
 * ecr:GetAuthorizationToken, which AWS does not scope to a resource.
 */

import type { LakeAccess } from '../jobs/catalog.ts';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface TrustPolicy {
  Version: '2012-10-17';
  Statement: {
    Effect: 'Allow';
    Principal: { Service: string[] };
    Action: 'sts:AssumeRole';
    Condition?: PolicyStatement['Condition'];
  }[];
}
function doc(statements: PolicyStatement[]): PolicyDocument {
  return { Version: '2012-10-17', Statement: statements };
}

/** A role that the named AWS services may assume, optionally only on behalf of one account. */
export function trustPolicy(services: string[], sourceAccount?: string): TrustPolicy {
  const statement: TrustPolicy['Statement'][number] = {
    Effect: 'Allow',
    Principal: { Service: services },
    Action: 'sts:AssumeRole',
  };
  if (sourceAccount !== undefined)
    statement.Condition = { StringEquals: { 'aws:SourceAccount': sourceAccount } };
  return { Version: '2012-10-17', Statement: [statement] };
}

/** The parts of an ARN: `arn:partition:service:region:account:resource`. */
export function parseArn(arn: string): {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
} {
  const [prefix, partition, service, region, account, ...rest] = arn.split(':');
  if (
    prefix !== 'arn' ||
    partition === undefined ||
    service === undefined ||
    region === undefined ||
    account === undefined
  ) {
    throw new Error(`not an ARN: ${arn}`);
  }
  return { partition, service, region, account, resource: rest.join(':') };
}

/** MSK topic and group ARNs live beside the cluster's: `.../cluster/<name>/<uuid>` -> `.../topic/<name>/<uuid>/<topic>`. */
export function mskResourceArn(clusterArn: string, kind: 'topic' | 'group', name: string): string {
  if (!clusterArn.includes(':cluster/')) throw new Error(`not an MSK cluster ARN: ${clusterArn}`);
  return `${clusterArn.replace(':cluster/', `:${kind}/`)}/${name}`;
}

export interface JobGrants {
  /** The lake bucket and key, and what the job does under which prefix (the catalog's `lake`). */
  lake?: { bucketArn: string; kmsKeyArn: string; access: LakeAccess };
  /** `describe`: topics' configuration and the groups' offsets only (the watchdog), no message read or written. */
  stream?: {
    access: 'readWrite' | 'describe';
    clusterArn: string;
    topics: string[];
    consumerGroups: string[];
  };
  secretArns: string[];
}

/** What one job's task role may do: exactly the data its catalog settings name. */
export function jobTaskPolicy(grants: JobGrants): PolicyDocument {
  const statements: PolicyStatement[] = [];
  if (grants.lake !== undefined) statements.push(...lakeStatements(grants.lake));
  if (grants.stream !== undefined) {
    const { access, clusterArn, topics, consumerGroups } = grants.stream;
    const describeOnly = access === 'describe';
    statements.push(
      {
        Sid: 'ConnectToStream',
        Effect: 'Allow',
        Action: describeOnly
          ? ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster']
          : ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster', 'kafka-cluster:WriteDataIdempotently'],
        Resource: [clusterArn],
      },
      describeOnly
        ? {
            Sid: 'DescribeTopics',
            Effect: 'Allow',
            Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:DescribeTopicDynamicConfiguration'],
            Resource: topics.map((topic) => mskResourceArn(clusterArn, 'topic', topic)),
          }
        : {
            Sid: 'ReadWriteTopics',
            Effect: 'Allow',
            Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData', 'kafka-cluster:WriteData'],
            Resource: topics.map((topic) => mskResourceArn(clusterArn, 'topic', topic)),
          },
    );
    if (consumerGroups.length > 0) {
      statements.push({
        Sid: describeOnly ? 'DescribeConsumerGroups' : 'UseConsumerGroups',
        Effect: 'Allow',
        Action: describeOnly
          ? ['kafka-cluster:DescribeGroup']
          : ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        Resource: consumerGroups.map((group) => mskResourceArn(clusterArn, 'group', group)),
      });
    }
  }
  if (grants.secretArns.length > 0) {
    statements.push({
      Sid: 'ReadJobSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: [...grants.secretArns],
    });
  }
  return doc(statements);
}

/**
 * A job's lake: objects read, written and deleted only under the prefixes its catalog entry names, each verb on
 * its own prefixes. Listing is confined to the read prefixes when the request names a prefix (IfExists: S3 checks
 * s3:ListBucket without one to answer 404 rather than 403 for a missing key, and HeadBucket needs it too).
 */
export function lakeStatements(lake: {
  bucketArn: string;
  kmsKeyArn: string;
  access: LakeAccess;
}): PolicyStatement[] {
  const { bucketArn, kmsKeyArn, access } = lake;
  const objects = (prefixes: string[]) => prefixes.map((prefix) => `${bucketArn}/${prefix}*`);
  const statements: PolicyStatement[] = [];
  if (access.read.length > 0) {
    statements.push(
      {
        Sid: 'ListLakePrefixes',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [bucketArn],
        Condition: { StringLikeIfExists: { 's3:prefix': access.read.map((prefix) => `${prefix}*`) } },
      },
      { Sid: 'ReadLakeObjects', Effect: 'Allow', Action: ['s3:GetObject'], Resource: objects(access.read) },
    );
  }
  if (access.write.length > 0) {
    statements.push({
      Sid: 'WriteLakeObjects',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      Resource: objects(access.write),
    });
  }
  if (access.delete.length > 0) {
    statements.push({
      Sid: 'DeleteLakeObjects',
      Effect: 'Allow',
      Action: ['s3:DeleteObject'],
      Resource: objects(access.delete),
    });
  }
  // SSE-KMS: reading decrypts; writing makes data keys (and a multipart upload decrypts them to complete).
  const keyActions = [
    ...(access.read.length + access.write.length > 0 ? ['kms:Decrypt'] : []),
    ...(access.write.length > 0 ? ['kms:GenerateDataKey'] : []),
  ];
  if (keyActions.length > 0)
    statements.push({ Sid: 'UseLakeKey', Effect: 'Allow', Action: keyActions, Resource: [kmsKeyArn] });
  return statements;
}

/** What ECS needs to start a job's container: pull its image and write its logs. */
export function taskExecutionPolicy(repositoryArn: string, logGroupArn: string): PolicyDocument {
  return doc([
    { Sid: 'EcrLogin', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: ['*'] },
    {
      Sid: 'PullImage',
      Effect: 'Allow',
      Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
      Resource: [repositoryArn],
    },
    {
      Sid: 'WriteLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: [`${logGroupArn}:*`],
    },
  ]);
}

/** Redshift's COPY role: read staged batches only (bronze loads come from staging/). */
export function warehouseCopyPolicy(bucketArn: string, kmsKeyArn: string, prefix: string): PolicyDocument {
  return doc([
    {
      Sid: 'ListStaging',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: [bucketArn],
      Condition: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    },
    { Sid: 'ReadStaging', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`${bucketArn}/${prefix}*`] },
    { Sid: 'DecryptLake', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: [kmsKeyArn] },
  ]);
}

export interface JobRunGrants {
  /** Task definition ARN without its revision. */
  taskDefinitionFamilyArn: string;
  clusterArn: string;
  passRoleArns: string[];
}

/**
 * The job-run state machine runs one task and waits for it (ecs:runTask.sync), which needs
 * Step Functions' managed EventBridge rule for ECS task state changes.
 */
export function jobRunPolicy(grants: JobRunGrants): PolicyDocument {
  const cluster = parseArn(grants.clusterArn);
  const clusterName = cluster.resource.replace(/^cluster\//, '');
  const base = `arn:${cluster.partition}`;
  const tasks = `${base}:ecs:${cluster.region}:${cluster.account}:task/${clusterName}/*`;
  return doc([
    {
      Sid: 'RunJobTask',
      Effect: 'Allow',
      Action: ['ecs:RunTask'],
      Resource: [`${grants.taskDefinitionFamilyArn}:*`],
      Condition: { ArnEquals: { 'ecs:cluster': grants.clusterArn } },
    },
    {
      Sid: 'WatchJobTask',
      Effect: 'Allow',
      Action: ['ecs:StopTask', 'ecs:DescribeTasks'],
      Resource: [tasks],
    },
    {
      // The run propagates the task definition's tags to the task, which ECS authorizes as TagResource.
      Sid: 'TagJobTask',
      Effect: 'Allow',
      Action: ['ecs:TagResource'],
      Resource: [tasks],
      Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
    },
    {
      Sid: 'PassJobRoles',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: [...grants.passRoleArns],
      Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    },
    {
      Sid: 'TrackTaskCompletion',
      Effect: 'Allow',
      Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      Resource: [
        `${base}:events:${cluster.region}:${cluster.account}:rule/StepFunctionsGetEventsForECSTaskRule`,
      ],
    },
  ]);
}

/** EventBridge Scheduler may start exactly one job's state machine. */
export function schedulePolicy(stateMachineArn: string): PolicyDocument {
  return doc([
    { Sid: 'StartJobRun', Effect: 'Allow', Action: ['states:StartExecution'], Resource: [stateMachineArn] },
  ]);
}

/** Actions AWS cannot scope to a resource, the only ones allowed with Resource "*". */
const UNSCOPED_ACTIONS = new Set(['ecr:GetAuthorizationToken']);

/** Every way a policy breaks least privilege: wildcard actions, or "*" resources on scoped actions. */
export function leastPrivilegeViolations(policy: PolicyDocument): string[] {
  const problems: string[] = [];
  policy.Statement.forEach((statement, index) => {
    const label = statement.Sid ?? `statement ${index}`;
    if (statement.Effect !== 'Allow') return;
    const raw = statement as unknown as Record<string, unknown>;
    if ('NotAction' in raw || 'NotResource' in raw)
      problems.push(`${label}: NotAction/NotResource grant too much`);
    for (const action of statement.Action) {
      if (action === '*' || action.endsWith(':*')) problems.push(`${label}: wildcard action ${action}`);
    }
    if (statement.Resource.includes('*')) {
      const scoped = statement.Action.filter((action) => !UNSCOPED_ACTIONS.has(action));
      if (scoped.length > 0) problems.push(`${label}: resource "*" for ${scoped.join(', ')}`);
    }
  });
  return problems;
}
