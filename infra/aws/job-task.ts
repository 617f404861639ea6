/**
 * One workload's ECS pieces: its log group, its own task role (least privilege from its catalog
 * settings), an execution role that can only pull the image and write that log group, and a
 * Fargate task definition sized and configured from the spec.
 */
import * as cloudwatch from '@pulumi/aws/cloudwatch/index.js';
import * as ecs from '@pulumi/aws/ecs/index.js';
import * as iam from '@pulumi/aws/iam/index.js';
import * as pulumi from '@pulumi/pulumi';
import type { PlatformSettingValues } from '../adapter-urls.ts';
import { type JobGrants, jobTaskPolicy, taskExecutionPolicy, trustPolicy } from '../aws-policies.ts';
import { type WarehouseUrlFor, workloadEnvironment } from '../components/job-runner.ts';
import { fargateCpuUnits } from '../sizing.ts';
import type { ServiceSpec, WorkloadSpec } from '../spec.ts';

export const CONTAINER_NAME = 'job';

/** Data the task roles may be granted, by platform setting. */
export interface AwsDataPlane {
  lake: { bucketArn: pulumi.Input<string>; kmsKeyArn: pulumi.Input<string> };
  stream: { clusterArn: pulumi.Input<string>; topics: string[]; consumerGroups: string[] };
  /** Secret ARN per platform secret name. */
  secretArns: Record<string, pulumi.Input<string>>;
}

export interface JobTaskContext {
  prefix: string;
  region: string;
  account: pulumi.Output<string>;
  imageRef: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string>;
  settings: PlatformSettingValues<pulumi.Output<string>>;
  warehouseUrlFor: WarehouseUrlFor;
  dataPlane: AwsDataPlane;
  logRetentionDays: number;
  tags: Record<string, string>;
}

export interface JobTask {
  taskDefinition: ecs.TaskDefinition;
  taskRole: iam.Role;
  executionRole: iam.Role;
  logGroup: cloudwatch.LogGroup;
}

export function createJobTask(parent: pulumi.Resource, workload: WorkloadSpec, ctx: JobTaskContext): JobTask {
  const child = { parent };
  const name = `${ctx.prefix}-${workload.name}`;
  const logGroup = new cloudwatch.LogGroup(
    `${name}-logs`,
    {
      name: `/ecomm/${ctx.prefix}/jobs/${workload.name}`,
      retentionInDays: ctx.logRetentionDays,
      tags: ctx.tags,
    },
    child,
  );

  const ecsTrust = ctx.account.apply((account) =>
    JSON.stringify(trustPolicy(['ecs-tasks.amazonaws.com'], account)),
  );
  const taskRole = new iam.Role(
    `${name}-task`,
    { name: `${name}-task`, assumeRolePolicy: ecsTrust, tags: ctx.tags },
    child,
  );
  const grants = grantsFor(workload, ctx.dataPlane);
  new iam.RolePolicy(
    `${name}-task`,
    {
      role: taskRole.id,
      policy: pulumi.output(grants).apply((resolved) => JSON.stringify(jobTaskPolicy(resolved))),
    },
    child,
  );

  const executionRole = new iam.Role(
    `${name}-exec`,
    { name: `${name}-exec`, assumeRolePolicy: ecsTrust, tags: ctx.tags },
    child,
  );
  new iam.RolePolicy(
    `${name}-exec`,
    {
      role: executionRole.id,
      policy: pulumi
        .all([ctx.repositoryArn, logGroup.arn])
        .apply(([repository, logs]) => JSON.stringify(taskExecutionPolicy(repository, logs))),
    },
    child,
  );

  const service = 'stopTimeoutSeconds' in workload ? (workload as ServiceSpec) : undefined;
  const containerDefinitions = pulumi.jsonStringify([
    {
      name: CONTAINER_NAME,
      image: ctx.imageRef,
      essential: true,
      // The image's entrypoint is the `ecomm` CLI; the command is the job name and its flags.
      command: workload.command,
      environment: workloadEnvironment(workload, ctx.settings, ctx.warehouseUrlFor),
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': logGroup.name,
          'awslogs-region': ctx.region,
          'awslogs-stream-prefix': workload.name,
        },
      },
      ...(service === undefined ? {} : serviceContainer(service)),
    },
  ]);
  const taskDefinition = new ecs.TaskDefinition(
    `${name}-task`,
    {
      family: name,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: fargateCpuUnits(workload.cpu),
      memory: String(workload.memoryMiB),
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      taskRoleArn: taskRole.arn,
      executionRoleArn: executionRole.arn,
      containerDefinitions,
      tags: ctx.tags,
    },
    child,
  );
  return { taskDefinition, taskRole, executionRole, logGroup };
}

/**
 * A service's container: its port, its stop timeout, and a health check ECS runs inside the container
 * (ECS ignores the image's HEALTHCHECK). node:24-slim has no curl, so the check is Node's fetch.
 */
function serviceContainer(service: ServiceSpec) {
  return {
    portMappings: [{ containerPort: service.port, protocol: 'tcp' }],
    healthCheck: {
      command: healthCheckCommand(service.port, service.health.path),
      interval: service.health.intervalSeconds,
      timeout: service.health.timeoutSeconds,
      retries: service.health.retries,
      startPeriod: service.health.startPeriodSeconds,
    },
    stopTimeout: service.stopTimeoutSeconds,
  };
}

/** `CMD` health check: exit 0 when GET http://127.0.0.1:<port><path> answers 2xx, else 1. */
export function healthCheckCommand(port: number, path: string): string[] {
  const url = `http://127.0.0.1:${port}${path}`;
  return ['CMD', 'node', '-e', `fetch('${url}').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))`];
}

function secretArnOf(workload: WorkloadSpec, secret: string, plane: AwsDataPlane): pulumi.Output<string> {
  const arn = plane.secretArns[secret];
  if (arn === undefined)
    throw new Error(`job ${workload.name} needs secret ${secret}, which the stack does not hold`);
  return pulumi.output(arn);
}

/** The data a workload's settings say it touches, and the secrets it reads through SECRETS_URL. */
function grantsFor(workload: WorkloadSpec, plane: AwsDataPlane): pulumi.Output<JobGrants> {
  const secretArns = workload.secrets.map((secret) => secretArnOf(workload, secret, plane));
  return pulumi
    .all([plane.lake.bucketArn, plane.lake.kmsKeyArn, plane.stream.clusterArn, pulumi.all(secretArns)])
    .apply(
      ([bucketArn, kmsKeyArn, clusterArn, secrets]): JobGrants => ({
        ...(workload.lake !== null ? { lake: { bucketArn, kmsKeyArn, access: workload.lake } } : {}),
        ...(workload.stream !== null
          ? {
              stream: {
                access: workload.stream,
                clusterArn,
                topics: plane.stream.topics,
                consumerGroups: plane.stream.consumerGroups,
              },
            }
          : {}),
        secretArns: secrets,
      }),
    );
}
