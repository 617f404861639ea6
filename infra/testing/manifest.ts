/**
 * Capability manifests: what a stack provides, normalised so AWS, Azure and the spec can be
 * compared with one toEqual. Each reader looks only at the resources its cloud registered.
 */

import type { LakeAccess } from '../../jobs/catalog.ts';
import { runLimitsOf } from '../aws/job-workflow.ts';
import type { PolicyDocument } from '../aws-policies.ts';
import { lakeAccessFromCondition } from '../azure-lake-access.ts';
import { fromEventBridgeCron } from '../cron.ts';
import { platformSecretName } from '../naming.ts';
import type { PlatformSpec, WorkloadSpec } from '../spec.ts';
import { loginSecretName } from '../warehouse-logins.ts';
import type { RecordedResource } from './mock-cloud.ts';
import { field, ofType } from './resources.ts';

export interface WorkloadManifest {
  name: string;
  trigger: 'schedule' | 'manual' | 'service';
  command: string[];
  schedule: string | null;
  cpu: number;
  memoryMiB: number;
  timeoutMinutes: number | null;
  retries: number | null;
  replicas: number | null;
  environment: string[];
  /** The port a service listens on (ECS port mapping / Container Apps probe port). */
  port: number | null;
  /** The liveness check, as `:<port><path>`. */
  healthCheck: string | null;
  /** Who may connect to the port: nobody, the private network, or the internet. */
  ingress: 'none' | 'internal' | 'external' | null;
  /** The login its WAREHOUSE_URL connects as, and the secret its password is read from. */
  warehouseLogin: { user: string; passwordSecret: string } | null;
  /** What its identity may do in the lake, by prefix (the task role's policy / the role assignment's condition). */
  lake: LakeAccess | null;
  /** The platform secrets its identity may read (the task role's policy / Key Vault Secrets User, one by one). */
  secrets: string[];
}

/** A further source's way out: its port and ranges (a security group of its own / an NSG rule). */
export interface SourceEgressManifest {
  name: string;
  port: number;
  cidrs: string[];
}

export interface CapabilityManifest {
  zones: { zone: string; retentionDays: number }[];
  versionedLake: boolean;
  topics: { name: string; partitions: number; retentionHours: number }[];
  warehouseDatabase: string;
  workloads: WorkloadManifest[];
  secrets: string[];
  sourceEgress: SourceEgressManifest[];
  alerts: string[];
}

/**
 * Credentials plumbing one cloud needs and the other does not: the managed identity's client ID
 * (DefaultAzureCredential's pick of the workload's user-assigned identity; ECS hands a task its role).
 */
export const CLOUD_RUNTIME_ENV = ['AZURE_CLIENT_ID'];
/** Secrets one cloud holds and the other does not: none, both stream services authenticate by identity. */
const CLOUD_ONLY_SECRETS: string[] = [];

const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);

export function manifestFromSpec(spec: PlatformSpec): CapabilityManifest {
  return {
    zones: spec.lake.zones
      .map((z) => ({ zone: z.name, retentionDays: z.retentionDays }))
      .sort((a, b) => a.zone.localeCompare(b.zone)),
    versionedLake: true,
    topics: spec.stream.topics
      .map((t) => ({ name: t.name, partitions: t.partitions, retentionHours: t.retentionHours }))
      .sort(byName),
    warehouseDatabase: spec.warehouse.database,
    workloads: [
      ...spec.jobs.map((j) => ({
        name: j.name,
        trigger: j.schedule === null ? ('manual' as const) : ('schedule' as const),
        command: j.command,
        schedule: j.schedule,
        cpu: j.cpu,
        memoryMiB: j.memoryMiB,
        timeoutMinutes: j.timeoutMinutes,
        retries: j.retries,
        replicas: null,
        environment: [...j.settings, ...Object.keys(j.environment)].sort(),
        port: null,
        healthCheck: null,
        ingress: null,
        ...accessFromSpec(j),
      })),
      ...spec.services.map((s) => ({
        name: s.name,
        trigger: 'service' as const,
        command: s.command,
        schedule: null,
        cpu: s.cpu,
        memoryMiB: s.memoryMiB,
        timeoutMinutes: null,
        retries: null,
        replicas: s.replicas,
        environment: [...s.settings, ...Object.keys(s.environment)].sort(),
        port: s.port,
        healthCheck: `:${s.port}${s.health.path}`,
        ingress: s.ingress,
        ...accessFromSpec(s),
      })),
    ].sort(byName),
    secrets: spec.secrets.map((s) => s.name).sort(),
    sourceEgress: spec.sources
      .map((s) => ({ name: s.name, port: s.egress.port, cidrs: [...s.egress.cidrs].sort() }))
      .sort(byName),
    alerts: spec.alerts.map((a) => a.name).sort(),
  };
}

function accessFromSpec(
  workload: WorkloadSpec,
): Pick<WorkloadManifest, 'warehouseLogin' | 'lake' | 'secrets'> {
  const login = workload.warehouseLogin;
  return {
    warehouseLogin: login === null ? null : { user: login, passwordSecret: loginSecretName(login) },
    lake: workload.lake,
    secrets: [...workload.secrets].sort(),
  };
}

/** The platform secret names a task role may read, from the ARNs (`secret:<prefix>/<name>-<suffix>`). */
function secretsOfPolicy(policy: PolicyDocument | undefined): string[] {
  return (policy?.Statement.find((s) => s.Sid === 'ReadJobSecrets')?.Resource ?? [])
    .map((arn) => /:secret:[^/]+\/(.+)-[A-Za-z0-9]{6}$/.exec(arn)?.[1] ?? arn)
    .sort();
}

/** The user and password secret of a workload's WAREHOUSE_URL, as its environment hands it over. */
function warehouseLoginOfEnv(env: unknown): WorkloadManifest['warehouseLogin'] {
  const url = ((env as { name: string; value?: string }[] | undefined) ?? []).find(
    (e) => e.name === 'WAREHOUSE_URL',
  )?.value;
  if (url === undefined) return null;
  const parsed = new URL(url);
  return {
    user: decodeURIComponent(parsed.username),
    passwordSecret: parsed.searchParams.get('passwordSecret') ?? '',
  };
}

/** A task role's lake access, from the object ARNs of its read, write and delete statements. */
function lakeAccessOfPolicy(policy: PolicyDocument | undefined): LakeAccess | null {
  const prefixes = (sid: string) =>
    (policy?.Statement.find((s) => s.Sid === sid)?.Resource ?? [])
      .map((arn) => /^arn:[^:]+:s3:::[^/]+\/(.*)\*$/.exec(arn)?.[1] ?? arn)
      .sort() as LakeAccess['read'];
  const access = {
    read: prefixes('ReadLakeObjects'),
    write: prefixes('WriteLakeObjects'),
    delete: prefixes('DeleteLakeObjects'),
  };
  return access.read.length + access.write.length + access.delete.length === 0 ? null : access;
}

const envNames = (env: unknown): string[] =>
  ((env as { name: string }[] | undefined) ?? [])
    .map((e) => e.name)
    .filter((n) => !CLOUD_RUNTIME_ENV.includes(n))
    .sort();

export function manifestFromAws(resources: RecordedResource[], prefix: string): CapabilityManifest {
  const lifecycle = ofType(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration');
  const zones = lifecycle.flatMap((r) =>
    field<Record<string, unknown>[]>(r.inputs, 'rules').map((rule) => ({
      zone: field<string>(rule, 'filter', 'prefix').replace(/\/$/, ''),
      retentionDays: field<number>(rule, 'expiration', 'days'),
    })),
  );
  const ingressRules = ofType(resources, 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule');
  /** Who the service's security groups admit on its port. */
  const awsIngress = (service: RecordedResource, port: number | null): WorkloadManifest['ingress'] => {
    const groups = field<string[]>(service.inputs, 'networkConfiguration', 'securityGroups') ?? [];
    const open = ingressRules.filter(
      (r) =>
        groups.includes(String(r.inputs.securityGroupId)) &&
        port !== null &&
        Number(r.inputs.fromPort) <= port &&
        port <= Number(r.inputs.toPort),
    );
    if (open.some((r) => r.inputs.cidrIpv4 === '0.0.0.0/0')) return 'external';
    return open.length > 0 ? 'internal' : 'none';
  };
  const taskDefs = ofType(resources, 'aws:ecs/taskDefinition:TaskDefinition');
  const services = ofType(resources, 'aws:ecs/service:Service');
  const serviceFamilies = new Map(
    services.map((s) => [/task-definition\/([^:]+)/.exec(String(s.inputs.taskDefinition))?.[1], s]),
  );
  const workloads = taskDefs.map((task): WorkloadManifest => {
    const family = String(task.inputs.family);
    const [container] = JSON.parse(String(task.inputs.containerDefinitions)) as {
      command: string[];
      environment: unknown;
      portMappings?: { containerPort: number }[];
      healthCheck?: { command: string[] };
    }[];
    const name = container?.command[0] ?? family;
    const service = serviceFamilies.get(family);
    const port = container?.portMappings?.[0]?.containerPort ?? null;
    const checked = /http:\/\/127\.0\.0\.1(:\d+\/[^']*)/.exec(
      container?.healthCheck?.command.join(' ') ?? '',
    );
    const taskPolicy = resources.find(
      (r) => r.type === 'aws:iam/rolePolicy:RolePolicy' && r.name === `${family}-task`,
    );
    const policy =
      taskPolicy === undefined ? undefined : (JSON.parse(String(taskPolicy.inputs.policy)) as PolicyDocument);
    const size = {
      cpu: Number(task.inputs.cpu) / 1024,
      memoryMiB: Number(task.inputs.memory),
      environment: envNames(container?.environment),
      command: container?.command ?? [],
      port,
      healthCheck: checked?.[1] ?? null,
      warehouseLogin: warehouseLoginOfEnv(container?.environment),
      lake: lakeAccessOfPolicy(policy),
      secrets: secretsOfPolicy(policy),
    };
    if (service !== undefined) {
      return {
        name,
        trigger: 'service',
        schedule: null,
        ...size,
        timeoutMinutes: null,
        retries: null,
        replicas: Number(service.inputs.desiredCount),
        ingress: awsIngress(service, port),
      };
    }
    const run = resources.find(
      (r) => r.type === 'aws:sfn/stateMachine:StateMachine' && r.inputs.name === `${prefix}-${name}-run`,
    );
    const schedule = resources.find(
      (r) => r.type === 'aws:scheduler/schedule:Schedule' && r.inputs.name === name,
    );
    // The backoff is not compared: Container Apps has no setting for it (see batch-freshness.ts).
    const { timeoutMinutes, retries } =
      run === undefined
        ? { timeoutMinutes: null, retries: null }
        : runLimitsOf(String(run.inputs.definition));
    const limits = { timeoutMinutes, retries };
    return {
      name,
      trigger: schedule === undefined ? 'manual' : 'schedule',
      schedule:
        schedule === undefined ? null : fromEventBridgeCron(String(schedule.inputs.scheduleExpression)),
      ...size,
      ...limits,
      replicas: null,
      ingress: null,
    };
  });
  const namespace = ofType(resources, 'aws:redshiftserverless/namespace:Namespace')[0];
  // Named `<stack prefix>/<name>`: the capability is the name the jobs ask for.
  const secrets = ofType(resources, 'aws:secretsmanager/secret:Secret').map(
    (s) => String(s.inputs.name).split('/').pop() as string,
  );
  // Redshift keeps WAREHOUSE_PASSWORD itself when it manages the admin password.
  if (namespace?.inputs.manageAdminPassword === true) secrets.push('WAREHOUSE_PASSWORD');
  return {
    zones: zones.sort((a, b) => a.zone.localeCompare(b.zone)),
    versionedLake: ofType(resources, 'aws:s3/bucketVersioning:BucketVersioning').some(
      (v) => field(v.inputs, 'versioningConfiguration', 'status') === 'Enabled',
    ),
    topics: ofType(resources, 'aws:msk/topic:Topic')
      .map((t) => ({
        name: String(t.inputs.name),
        partitions: Number(t.inputs.partitionCount),
        retentionHours: Number(JSON.parse(String(t.inputs.configs))['retention.ms']) / 3_600_000,
      }))
      .sort(byName),
    warehouseDatabase: String(namespace?.inputs.dbName),
    workloads: workloads.sort(byName),
    secrets: secrets.sort(),
    sourceEgress: awsSourceEgress(resources, prefix),
    alerts: ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm')
      .map((a) => String(a.inputs.name).replace(`${prefix}-alert-`, ''))
      .sort(),
  };
}

/** Each further source's egress-only group (`<prefix>-network-<name>-source`) and its rules. */
function awsSourceEgress(resources: RecordedResource[], prefix: string): SourceEgressManifest[] {
  const rules = ofType(resources, 'aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule');
  return ofType(resources, 'aws:ec2/securityGroup:SecurityGroup')
    .flatMap((group) => {
      const name = new RegExp(`^${prefix}-network-(.+)-source$`).exec(group.name)?.[1];
      if (name === undefined) return [];
      const own = rules.filter((r) => r.inputs.securityGroupId === group.id);
      return [
        {
          name,
          port: Number(own[0]?.inputs.fromPort),
          cidrs: own.map((r) => String(r.inputs.cidrIpv4)).sort(),
        },
      ];
    })
    .sort(byName);
}

/** The apps subnet NSG's rules to the further sources (`to-<name>-source`; the OLTP source is not one). */
function azureSourceEgress(resources: RecordedResource[]): SourceEgressManifest[] {
  const rules = ofType(resources, 'azure-native:network:NetworkSecurityGroup').flatMap(
    (nsg) => (nsg.inputs.securityRules as Record<string, unknown>[] | undefined) ?? [],
  );
  return rules
    .flatMap((rule) => {
      const name = /^to-(.+)-source$/.exec(String(rule.name))?.[1];
      if (name === undefined || name === 'oltp' || rule.access !== 'Allow') return [];
      return [
        {
          name,
          port: Number(rule.destinationPortRange),
          cidrs: [...((rule.destinationAddressPrefixes as string[] | undefined) ?? [])].sort(),
        },
      ];
    })
    .sort(byName);
}

export function manifestFromAzure(resources: RecordedResource[], prefix: string): CapabilityManifest {
  const policy = ofType(resources, 'azure-native:storage:ManagementPolicy')[0];
  const zones = field<Record<string, unknown>[]>(policy?.inputs, 'policy', 'rules').map((rule) => ({
    zone: field<string[]>(rule, 'definition', 'filters', 'prefixMatch')[0]?.split('/')[1] ?? '',
    retentionDays: field<number>(
      rule,
      'definition',
      'actions',
      'baseBlob',
      'delete',
      'daysAfterModificationGreaterThan',
    ),
  }));
  const containerOf = (r: RecordedResource) =>
    field<Record<string, unknown>>(r.inputs, 'template', 'containers', 0);
  /** The lake condition on the role assignment of the workload's own identity, read back as access. */
  const lakeOf = (r: RecordedResource): LakeAccess | null => {
    const identityId = field<string[]>(r.inputs, 'identity', 'userAssignedIdentities')[0];
    const identity = resources.find((i) => i.custom && i.id === identityId);
    const principal = `principal-${String(identity?.inputs.resourceName)}`;
    const assignment = ofType(resources, 'azure-native:authorization:RoleAssignment').find(
      (a) => a.inputs.principalId === principal && a.inputs.condition !== undefined,
    );
    return assignment === undefined ? null : lakeAccessFromCondition(String(assignment.inputs.condition));
  };
  /** The Key Vault secrets the workload's own identity holds Key Vault Secrets User on, one by one. */
  const secretsOf = (r: RecordedResource): string[] => {
    const identityId = field<string[]>(r.inputs, 'identity', 'userAssignedIdentities')[0];
    const identity = resources.find((i) => i.custom && i.id === identityId);
    const principal = `principal-${String(identity?.inputs.resourceName)}`;
    const vaultSecrets = ofType(resources, 'azure-native:keyvault:Secret');
    return ofType(resources, 'azure-native:authorization:RoleAssignment')
      .filter((a) => a.inputs.principalId === principal)
      .flatMap((a) => {
        const secret = vaultSecrets.find((s) => s.id === a.inputs.scope);
        return secret === undefined ? [] : [platformSecretName(String(secret.inputs.secretName))];
      })
      .sort();
  };
  const sizeOf = (r: RecordedResource) => {
    const container = containerOf(r);
    const liveness = (field<Record<string, unknown>[]>(container, 'probes') ?? []).find(
      (p) => p.type === 'Liveness',
    );
    const port = field<number | undefined>(liveness, 'httpGet', 'port') ?? null;
    return {
      cpu: field<number>(container, 'resources', 'cpu'),
      memoryMiB: Number.parseFloat(field<string>(container, 'resources', 'memory')) * 1024,
      environment: envNames(container.env),
      command: field<string[]>(container, 'args'),
      port,
      healthCheck: port === null ? null : `:${port}${field<string>(liveness, 'httpGet', 'path')}`,
      warehouseLogin: warehouseLoginOfEnv(container.env),
      lake: lakeOf(r),
      secrets: secretsOf(r),
    };
  };
  const azureIngress = (r: RecordedResource): WorkloadManifest['ingress'] => {
    const ingress = field<{ external?: boolean } | undefined>(r.inputs, 'configuration', 'ingress');
    if (ingress === undefined) return 'none';
    return ingress.external === true ? 'external' : 'internal';
  };
  const jobs = ofType(resources, 'azure-native:app:Job').map((r): WorkloadManifest => {
    const configuration = field<Record<string, unknown>>(r.inputs, 'configuration');
    const scheduled = configuration.triggerType === 'Schedule';
    return {
      name: field<string[]>(containerOf(r), 'args')[0] ?? '',
      trigger: scheduled ? 'schedule' : 'manual',
      schedule: scheduled ? field<string>(configuration, 'scheduleTriggerConfig', 'cronExpression') : null,
      ...sizeOf(r),
      timeoutMinutes: Number(configuration.replicaTimeout) / 60,
      retries: Number(configuration.replicaRetryLimit),
      replicas: null,
      ingress: null,
    };
  });
  const services = ofType(resources, 'azure-native:app:ContainerApp').map(
    (r): WorkloadManifest => ({
      name: field<string[]>(containerOf(r), 'args')[0] ?? '',
      trigger: 'service',
      schedule: null,
      ...sizeOf(r),
      timeoutMinutes: null,
      retries: null,
      replicas: field<number>(r.inputs, 'template', 'scale', 'minReplicas'),
      ingress: azureIngress(r),
    }),
  );
  const alertTypes = ['azure-native:monitor:MetricAlert', 'azure-native:monitor:ScheduledQueryRule'];
  return {
    zones: zones.sort((a, b) => a.zone.localeCompare(b.zone)),
    versionedLake: ofType(resources, 'azure-native:storage:BlobServiceProperties').some(
      (r) => r.inputs.isVersioningEnabled === true,
    ),
    topics: ofType(resources, 'azure-native:eventhub:EventHub')
      .map((r) => ({
        name: String(r.inputs.eventHubName),
        partitions: Number(r.inputs.partitionCount),
        retentionHours: field<number>(r.inputs, 'retentionDescription', 'retentionTimeInHours'),
      }))
      .sort(byName),
    warehouseDatabase: String(
      ofType(resources, 'azure-native:dbforpostgresql:Database')[0]?.inputs.databaseName,
    ),
    workloads: [...jobs, ...services].sort(byName),
    secrets: ofType(resources, 'azure-native:keyvault:Secret')
      .map((r) => platformSecretName(String(r.inputs.secretName)))
      .filter((name) => !CLOUD_ONLY_SECRETS.includes(name))
      .sort(),
    sourceEgress: azureSourceEgress(resources),
    alerts: resources
      .filter((r) => alertTypes.includes(r.type))
      .map((r) => String(r.inputs.ruleName).replace(`${prefix}-alert-`, ''))
      .sort(),
  };
}
