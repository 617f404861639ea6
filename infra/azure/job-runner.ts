/**
 * Azure job runner: a Log Analytics workspace, a VNet-integrated Container Apps environment
 * (internal, consumption workload profile), a Container Apps Job per catalog job (schedule
 * trigger for scheduled jobs, manual trigger for manual ones, with the catalog's timeout and
 * retries) and a Container App per service (a liveness probe on its port's /healthz; internal
 * ingress for a service that is called, none for a stream consumer). Each workload runs as the
 * managed identity for its settings (identity.ts).
 */
import * as app from '@pulumi/azure-native/app/index.js';
import * as operationalinsights from '@pulumi/azure-native/operationalinsights/index.js';
import * as pulumi from '@pulumi/pulumi';
import { type JobRunnerArgs, type JobRunnerOutputs, workloadEnvironment } from '../components/job-runner.ts';
import { toContainerAppsCron } from '../cron.ts';
import { containerAppsMemory } from '../sizing.ts';
import type { ServiceSpec, WorkloadSpec } from '../spec.ts';
import type { WorkloadIdentity } from './identity.ts';
import type { AzurePlacement } from './placement.ts';

const WORKLOAD_PROFILE = 'Consumption';

export interface AzureJobRunnerArgs extends JobRunnerArgs, AzurePlacement {
  registryServer: pulumi.Input<string>;
  /** The managed identity each workload runs as (and pulls its image and reads its secrets with). */
  identities: Record<string, WorkloadIdentity>;
  appsSubnetId: pulumi.Input<string>;
}

export class AzureJobRunner extends pulumi.ComponentResource implements JobRunnerOutputs {
  readonly jobRefs: Record<string, pulumi.Output<string>> = {};
  readonly serviceRefs: Record<string, pulumi.Output<string>> = {};
  readonly workspaceId: pulumi.Output<string>;

  constructor(name: string, args: AzureJobRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:JobRunner', name, {}, opts);
    const child = { parent: this };
    const placement = { resourceGroupName: args.resourceGroupName, location: args.location };
    const workspace = new operationalinsights.Workspace(
      `${name}-logs`,
      {
        ...placement,
        workspaceName: `${args.prefix}-logs`,
        sku: { name: 'PerGB2018' },
        retentionInDays: args.logRetentionDays,
        tags: args.tags,
      },
      child,
    );
    const keys = operationalinsights.getSharedKeysOutput(
      { resourceGroupName: args.resourceGroupName, workspaceName: workspace.name },
      { parent: this },
    );
    const environment = new app.ManagedEnvironment(
      `${name}-environment`,
      {
        ...placement,
        environmentName: args.prefix,
        appLogsConfiguration: {
          destination: 'log-analytics',
          logAnalyticsConfiguration: {
            customerId: workspace.customerId,
            sharedKey: pulumi.secret(keys.apply((k) => k.primarySharedKey ?? '')),
          },
        },
        vnetConfiguration: { infrastructureSubnetId: args.appsSubnetId, internal: true },
        workloadProfiles: [{ name: WORKLOAD_PROFILE, workloadProfileType: 'Consumption' }],
        tags: args.tags,
      },
      child,
    );
    for (const job of args.jobs) {
      const { identity, registries } = this.runAs(job, args);
      const scheduled = job.schedule !== null;
      const containerJob = new app.Job(
        `${args.prefix}-${job.name}`,
        {
          ...placement,
          jobName: `${args.prefix}-${job.name}`,
          environmentId: environment.id,
          workloadProfileName: WORKLOAD_PROFILE,
          identity,
          configuration: {
            triggerType: scheduled ? 'Schedule' : 'Manual',
            ...(job.schedule !== null
              ? {
                  scheduleTriggerConfig: {
                    cronExpression: toContainerAppsCron(job.schedule),
                    parallelism: 1,
                    replicaCompletionCount: 1,
                  },
                }
              : { manualTriggerConfig: { parallelism: 1, replicaCompletionCount: 1 } }),
            replicaTimeout: job.timeoutMinutes * 60,
            replicaRetryLimit: job.retries,
            registries,
          },
          template: { containers: [this.container(job, args)] },
          tags: args.tags,
        },
        child,
      );
      this.jobRefs[job.name] = containerJob.id;
    }

    for (const service of args.services) {
      const { identity, registries } = this.runAs(service, args);
      const containerApp = new app.ContainerApp(
        `${args.prefix}-${service.name}`,
        {
          ...placement,
          containerAppName: `${args.prefix}-${service.name}`,
          managedEnvironmentId: environment.id,
          workloadProfileName: WORKLOAD_PROFILE,
          identity,
          configuration: {
            activeRevisionsMode: 'Single',
            registries,
            ...serviceIngress(service),
          },
          template: {
            containers: [{ ...this.container(service, args), probes: [livenessProbe(service)] }],
            scale: { minReplicas: service.replicas, maxReplicas: service.replicas },
            terminationGracePeriodSeconds: service.stopTimeoutSeconds,
          },
          tags: args.tags,
        },
        child,
      );
      this.serviceRefs[service.name] = containerApp.id;
    }

    this.workspaceId = workspace.id;
    this.registerOutputs({ jobRefs: this.jobRefs, serviceRefs: this.serviceRefs });
  }

  /** The workload's own identity, which also pulls its image (and, in the job, reads its secrets and tokens). */
  private runAs(workload: WorkloadSpec, args: AzureJobRunnerArgs) {
    const { identityId } = identityOf(workload, args);
    return {
      identity: { type: 'UserAssigned', userAssignedIdentities: [identityId] },
      registries: [{ server: args.registryServer, identity: identityId }],
    };
  }

  private container(workload: WorkloadSpec, args: AzureJobRunnerArgs) {
    return {
      name: 'job',
      image: args.imageRef,
      // The image's entrypoint is the `ecomm` CLI; the arguments are the job name and its flags.
      args: workload.command,
      resources: { cpu: workload.cpu, memory: containerAppsMemory(workload.memoryMiB) },
      env: [
        ...workloadEnvironment(workload, args.settings, args.warehouseUrlFor),
        { name: 'AZURE_CLIENT_ID', value: identityOf(workload, args).clientId },
      ],
    };
  }
}

function identityOf(workload: WorkloadSpec, args: AzureJobRunnerArgs): WorkloadIdentity {
  const identity = args.identities[workload.name];
  if (identity === undefined) throw new Error(`workload ${workload.name} has no identity`);
  return identity;
}

/**
 * Ingress of a service: none for a stream consumer (nothing calls it; its liveness probe does not
 * need ingress), internal-only for a service that is called (the monitor's UI): reachable inside the
 * internal, VNet-integrated environment, never external.
 */
function serviceIngress(service: ServiceSpec) {
  if (service.ingress === 'none') return {};
  return {
    ingress: {
      external: false,
      targetPort: service.port,
      transport: 'http',
      allowInsecure: false,
    },
  };
}

/** Container Apps ignores the image's HEALTHCHECK: restart a replica whose /healthz stops answering. */
function livenessProbe(service: ServiceSpec) {
  return {
    type: 'Liveness',
    httpGet: { path: service.health.path, port: service.port },
    initialDelaySeconds: service.health.startPeriodSeconds,
    periodSeconds: service.health.intervalSeconds,
    timeoutSeconds: service.health.timeoutSeconds,
    failureThreshold: service.health.retries,
  };
}
