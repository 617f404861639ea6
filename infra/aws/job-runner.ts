/**
 * AWS job runner: an ECS Fargate cluster; per job a task definition, a Step Functions state machine
 * that runs it with the catalog's timeout and retries, and (for scheduled jobs) an EventBridge
 * Scheduler schedule; per service a task definition (port, health check) and an ECS service in the
 * private subnets, plus, for a service that is called (internal ingress), a security group admitting
 * its port from the VPC only. Manual jobs get everything but the schedule: start them with
 * `aws stepfunctions start-execution`.
 */
import * as ec2 from '@pulumi/aws/ec2/index.js';
import * as ecs from '@pulumi/aws/ecs/index.js';
import * as iam from '@pulumi/aws/iam/index.js';
import * as scheduler from '@pulumi/aws/scheduler/index.js';
import * as sfn from '@pulumi/aws/sfn/index.js';
import * as vpc from '@pulumi/aws/vpc/index.js';
import * as pulumi from '@pulumi/pulumi';
import type { SourceSetting } from '../adapter-urls.ts';
import { jobRunPolicy, parseArn, schedulePolicy, trustPolicy } from '../aws-policies.ts';
import { SCHEDULE_START_ALLOWANCE_SECONDS } from '../batch-freshness.ts';
import type { JobRunnerArgs, JobRunnerOutputs } from '../components/job-runner.ts';
import { toEventBridgeCron } from '../cron.ts';
import type { ServiceSpec, WorkloadSpec } from '../spec.ts';
import {
  type AwsDataPlane,
  CONTAINER_NAME,
  createJobTask,
  type JobTask,
  type JobTaskContext,
} from './job-task.ts';
import { jobRunDefinition } from './job-workflow.ts';

export interface AwsJobRunnerArgs extends JobRunnerArgs {
  region: string;
  repositoryArn: pulumi.Input<string>;
  subnetIds: pulumi.Output<string>[];
  /** The job tasks' group (egress only); services with internal ingress get a second group of their own. */
  securityGroupId: pulumi.Output<string>;
  /** Per configured further source, its egress-only group: a task gets those of the sources it reads. */
  sourceSecurityGroupIds: Partial<Record<SourceSetting, pulumi.Output<string>>>;
  vpcId: pulumi.Output<string>;
  /** The only range a service with internal ingress admits connections from. */
  vpcCidr: string;
  dataPlane: AwsDataPlane;
}

export class AwsJobRunner extends pulumi.ComponentResource implements JobRunnerOutputs {
  readonly jobRefs: Record<string, pulumi.Output<string>> = {};
  readonly serviceRefs: Record<string, pulumi.Output<string>> = {};
  readonly clusterName: pulumi.Output<string>;

  constructor(name: string, args: AwsJobRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:aws:JobRunner', name, {}, opts);
    const child = { parent: this };
    const cluster = new ecs.Cluster(
      `${name}-cluster`,
      {
        name: args.prefix,
        settings: [{ name: 'containerInsights', value: 'enabled' }],
        tags: args.tags,
      },
      child,
    );
    const account = cluster.arn.apply((arn) => parseArn(arn).account);
    const ctx: JobTaskContext = {
      prefix: args.prefix,
      region: args.region,
      account,
      imageRef: args.imageRef,
      repositoryArn: args.repositoryArn,
      settings: args.settings,
      warehouseUrlFor: args.warehouseUrlFor,
      dataPlane: args.dataPlane,
      logRetentionDays: args.logRetentionDays,
      tags: args.tags,
    };
    const scheduleGroup = new scheduler.ScheduleGroup(
      `${name}-schedules`,
      { name: args.prefix, tags: args.tags },
      child,
    );

    for (const job of args.jobs) {
      const task = createJobTask(this, job, ctx);
      const stateMachine = this.createJobRun(job, task, cluster, account, args);
      this.jobRefs[job.name] = stateMachine.arn;
      if (job.schedule !== null)
        this.createSchedule(job, job.schedule, stateMachine, scheduleGroup, account, args);
    }

    for (const service of args.services) {
      const task = createJobTask(this, service, ctx);
      const securityGroups = this.egressGroups(service, args);
      if (service.ingress === 'internal') securityGroups.push(this.createIngress(service, args));
      const ecsService = new ecs.Service(
        `${args.prefix}-${service.name}`,
        {
          name: service.name,
          cluster: cluster.arn,
          taskDefinition: task.taskDefinition.arn,
          desiredCount: service.replicas,
          launchType: 'FARGATE',
          networkConfiguration: {
            subnets: args.subnetIds,
            securityGroups,
            assignPublicIp: false,
          },
          deploymentCircuitBreaker: { enable: true, rollback: true },
          deploymentMinimumHealthyPercent: 100,
          deploymentMaximumPercent: 200,
          enableEcsManagedTags: true,
          propagateTags: 'SERVICE',
          tags: args.tags,
        },
        child,
      );
      this.serviceRefs[service.name] = ecsService.name;
    }

    this.clusterName = cluster.name;
    this.registerOutputs({ jobRefs: this.jobRefs, serviceRefs: this.serviceRefs });
  }

  /** The jobs group, and the group of each further source the workload reads (its only way out to it). */
  private egressGroups(workload: WorkloadSpec, args: AwsJobRunnerArgs): pulumi.Output<string>[] {
    return [
      args.securityGroupId,
      ...workload.sources.map((setting) => {
        const group = args.sourceSecurityGroupIds[setting];
        if (group === undefined)
          throw new Error(`${workload.name} reads ${setting}, for which the network has no egress`);
        return group;
      }),
    ];
  }

  /** A security group admitting the service's port from inside the VPC only (no load balancer, no internet). */
  private createIngress(service: ServiceSpec, args: AwsJobRunnerArgs): pulumi.Output<string> {
    const child = { parent: this };
    const name = `${args.prefix}-${service.name}-ingress`;
    const group = new ec2.SecurityGroup(
      name,
      {
        vpcId: args.vpcId,
        description: `${service.name} service: port ${service.port} from inside the VPC`,
        tags: { ...args.tags, Name: name },
      },
      child,
    );
    new vpc.SecurityGroupIngressRule(
      `${name}-from-vpc`,
      {
        securityGroupId: group.id,
        cidrIpv4: args.vpcCidr,
        ipProtocol: 'tcp',
        fromPort: service.port,
        toPort: service.port,
        description: `${service.name} on ${service.port} from inside the VPC`,
        tags: args.tags,
      },
      child,
    );
    return group.id;
  }

  private createJobRun(
    job: WorkloadSpec,
    task: JobTask,
    cluster: ecs.Cluster,
    account: pulumi.Output<string>,
    args: AwsJobRunnerArgs,
  ): sfn.StateMachine {
    const child = { parent: this };
    const name = `${args.prefix}-${job.name}`;
    const role = new iam.Role(
      `${name}-run`,
      {
        name: `${name}-run`,
        assumeRolePolicy: account.apply((id) => JSON.stringify(trustPolicy(['states.amazonaws.com'], id))),
        tags: args.tags,
      },
      child,
    );
    new iam.RolePolicy(
      `${name}-run`,
      {
        role: role.id,
        policy: pulumi
          .all([
            task.taskDefinition.arnWithoutRevision,
            cluster.arn,
            task.taskRole.arn,
            task.executionRole.arn,
          ])
          .apply(([family, clusterArn, taskRole, executionRole]) =>
            JSON.stringify(
              jobRunPolicy({
                taskDefinitionFamilyArn: family,
                clusterArn,
                passRoleArns: [taskRole, executionRole],
              }),
            ),
          ),
      },
      child,
    );
    return new sfn.StateMachine(
      `${name}-run`,
      {
        name: `${name}-run`,
        roleArn: role.arn,
        type: 'STANDARD',
        definition: pulumi
          .all([
            cluster.arn,
            task.taskDefinition.arn,
            pulumi.all(args.subnetIds),
            pulumi.all(this.egressGroups(job, args)),
          ])
          .apply(([clusterArn, taskDefinitionArn, subnetIds, securityGroupIds]) =>
            JSON.stringify(
              jobRunDefinition({
                jobName: job.name,
                clusterArn,
                taskDefinitionArn,
                subnetIds,
                securityGroupIds,
                containerName: CONTAINER_NAME,
                timeoutMinutes: job.timeoutMinutes,
                retries: job.retries,
                retryBackoffSeconds: job.retryBackoffSeconds,
              }),
            ),
          ),
        tags: args.tags,
      },
      child,
    );
  }

  private createSchedule(
    job: WorkloadSpec,
    cron: string,
    stateMachine: sfn.StateMachine,
    group: scheduler.ScheduleGroup,
    account: pulumi.Output<string>,
    args: AwsJobRunnerArgs,
  ): void {
    const child = { parent: this };
    const name = `${args.prefix}-${job.name}`;
    const role = new iam.Role(
      `${name}-schedule`,
      {
        name: `${name}-schedule`,
        assumeRolePolicy: account.apply((id) => JSON.stringify(trustPolicy(['scheduler.amazonaws.com'], id))),
        tags: args.tags,
      },
      child,
    );
    new iam.RolePolicy(
      `${name}-schedule`,
      {
        role: role.id,
        policy: stateMachine.arn.apply((arn) => JSON.stringify(schedulePolicy(arn))),
      },
      child,
    );
    new scheduler.Schedule(
      `${name}-schedule`,
      {
        name: job.name,
        groupName: group.name,
        description: job.summary,
        scheduleExpression: toEventBridgeCron(cron),
        scheduleExpressionTimezone: 'UTC',
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: stateMachine.arn,
          roleArn: role.arn,
          input: JSON.stringify({ job: job.name }),
          // Retries of starting the run; retries of the job itself live in the state machine. A start not made
          // within the allowance is dropped rather than made late, so the freshness bound holds (batch-freshness.ts).
          retryPolicy: {
            maximumRetryAttempts: 3,
            maximumEventAgeInSeconds: SCHEDULE_START_ALLOWANCE_SECONDS,
          },
        },
      },
      child,
    );
  }
}
