/** The Azure stack under mocks: every spec item exists with the right inputs. */
import { beforeAll, describe, expect, it } from 'vitest';
import { JOB_CATALOG, type JobSpec, STREAM_TOPICS, warehouseLoginOf } from '../jobs/catalog.ts';
import { AZURE_ROLES } from './azure-roles.ts';
import { expectedEnvironment } from './testing/fixtures.ts';
import type { RecordedResource } from './testing/mock-cloud.ts';
import { startMockCloud } from './testing/mock-cloud.ts';
import { field, ofType, onlyOne } from './testing/resources.ts';
import type { DeployedStack } from './testing/stacks.ts';

/** The catalog jobs the stacks deploy: all but the admin's `grants`, which an operator runs by hand. */
const DEPLOYED_JOBS = JOB_CATALOG.filter((job) => job.warehouseAdmin !== true);

const cloud = await startMockCloud();
const { deploy, specFor } = await import('./testing/stacks.ts');

let stack: DeployedStack;
let resources: RecordedResource[];
beforeAll(async () => {
  stack = await deploy(cloud, specFor('azure'));
  resources = stack.resources;
});

type Container = {
  args: string[];
  env: { name: string; value?: string; secretRef?: string }[];
  resources: { cpu: number; memory: string };
};
const jobNamed = (name: string) =>
  resources.find((r) => r.type === 'azure-native:app:Job' && r.inputs.jobName === `ecomm-test-${name}`);
const containerOf = (r: RecordedResource | undefined) =>
  field<Container>(r?.inputs, 'template', 'containers', 0);
const appNamed = (name: string) => {
  const found = resources.filter(
    (r) => r.type === 'azure-native:app:ContainerApp' && r.inputs.containerAppName === `ecomm-test-${name}`,
  );
  if (found.length !== 1) throw new Error(`expected one Container App ${name}, found ${found.length}`);
  return found[0] as RecordedResource;
};
const SERVICES = DEPLOYED_JOBS.filter((j) => j.kind === 'service');
const workloadNamed = (job: JobSpec) => (job.kind === 'service' ? appNamed(job.name) : jobNamed(job.name));
/** The identity a catalog job should run as: one per set of settings read (`ecomm-test-reads-lake-secrets-warehouse`). */
const identityFor = (job: JobSpec) => {
  const identity = resources.find(
    (r) =>
      r.type === 'azure-native:managedidentity:UserAssignedIdentity' &&
      r.inputs.resourceName === `ecomm-test-${job.name}`,
  );
  if (identity === undefined) throw new Error(`no identity for ${job.name}`);
  return identity;
};
const byId = (id: string) => resources.find((r) => r.custom && r.id === id);
/** What an identity was granted: `<role name> on <resource type> <resource name>`. */
const grantsOf = (identity: RecordedResource) =>
  ofType(resources, 'azure-native:authorization:RoleAssignment')
    .filter((a) => a.inputs.principalId === `principal-${identity.inputs.resourceName}`)
    .map((a) => {
      const guid = String(a.inputs.roleDefinitionId).split('/').pop();
      const role =
        Object.entries(AZURE_ROLES).find(([, id]) => id === guid)?.[0] ??
        byId(String(a.inputs.roleDefinitionId))?.inputs.roleName;
      const target = byId(String(a.inputs.scope));
      return `${role} on ${target?.type.split(':').pop()} ${String(target?.state.name)}`;
    })
    .sort();
type Probe = { type: string; httpGet: { path: string; port: number } };

describe('Azure stack inventory', () => {
  it('exports the adapter URLs in the forms the jobs read', () => {
    expect(stack.outputs.LAKE_URL).toMatch(/^az:\/\/ecommtestlake[0-9a-f]{6}\/lake$/);
    expect(stack.outputs.STREAM_URL).toMatch(
      /^kafka:\/\/ecomm-test-events-[0-9a-f]{6}\.servicebus\.windows\.net:9093\?auth=entra$/,
    );
    expect(stack.outputs.WAREHOUSE_URL).toMatch(
      /^postgres:\/\/ecomm_admin@[^:]+\.postgres\.database\.azure\.com:5432\/ecomm\?sslmode=require&passwordSecret=WAREHOUSE_PASSWORD$/,
    );
    expect(stack.outputs.SECRETS_URL).toMatch(/^azure-keyvault:\/\/ecomm-test-kv-[0-9a-f]{6}$/);
    expect(stack.outputs.imageRef).toMatch(/\.azurecr\.io\/ecomm-data-platform:2025\.01\.0$/);
  });

  it('creates a StorageV2 account with one lake container and a lifecycle rule per zone', () => {
    expect(onlyOne(resources, 'azure-native:storage:StorageAccount').inputs).toMatchObject({
      kind: 'StorageV2',
      isHnsEnabled: false,
    });
    expect(onlyOne(resources, 'azure-native:storage:BlobContainer').inputs.containerName).toBe('lake');
    const rules = field<Record<string, unknown>[]>(
      onlyOne(resources, 'azure-native:storage:ManagementPolicy').inputs,
      'policy',
      'rules',
    );
    expect(
      rules.map((r) => [
        field<string[]>(r, 'definition', 'filters', 'prefixMatch')[0],
        field(r, 'definition', 'actions', 'baseBlob', 'delete', 'daysAfterModificationGreaterThan'),
      ]),
    ).toEqual([
      ['lake/raw/', 365],
      ['lake/staging/', 30],
      ['lake/quarantine/', 90],
    ]);
  });

  it('creates a Kafka-enabled Standard Event Hubs namespace with an event hub per topic and consumer groups', () => {
    expect(onlyOne(resources, 'azure-native:eventhub:Namespace').inputs).toMatchObject({
      kafkaEnabled: true,
      sku: { name: 'Standard' },
    });
    const hubs = ofType(resources, 'azure-native:eventhub:EventHub');
    expect(hubs.map((h) => h.inputs.eventHubName).sort()).toEqual(
      [...STREAM_TOPICS.map((t) => t.topic), 'dead-letter'].sort(),
    );
    for (const topic of STREAM_TOPICS) {
      const hub = hubs.find((h) => h.inputs.eventHubName === topic.topic);
      expect(hub?.inputs).toMatchObject({
        partitionCount: topic.partitions,
        retentionDescription: { cleanupPolicy: 'Delete', retentionTimeInHours: 168 },
      });
    }
    const groups = ofType(resources, 'azure-native:eventhub:ConsumerGroup').map(
      (g) => g.inputs.consumerGroupName,
    );
    expect(groups).toEqual(STREAM_TOPICS.map(() => 'ecomm-stream-ingest'));
  });

  it('creates a private PostgreSQL Flexible Server in its delegated subnet, with the warehouse database', () => {
    const server = onlyOne(resources, 'azure-native:dbforpostgresql:Server').inputs;
    expect(server).toMatchObject({
      version: '16',
      sku: { name: 'Standard_D2ds_v5', tier: 'GeneralPurpose' },
    });
    expect(String(field(server, 'network', 'delegatedSubnetResourceId'))).toMatch(/\/subnets\/postgres$/);
    expect(onlyOne(resources, 'azure-native:dbforpostgresql:Database').inputs.databaseName).toBe('ecomm');
  });

  it('runs each scheduled job as a scheduled Container Apps Job with its cron, timeout and retries', () => {
    const scheduled = DEPLOYED_JOBS.filter((j) => j.kind === 'scheduled');
    expect(scheduled.map((j) => j.name)).toEqual(['run', 'watchdog']);
    expect(field(jobNamed('run')?.inputs, 'configuration')).toMatchObject({
      triggerType: 'Schedule',
      scheduleTriggerConfig: { cronExpression: '5 * * * *', parallelism: 1, replicaCompletionCount: 1 },
      replicaTimeout: 6 * 60,
      replicaRetryLimit: 1,
    });
    for (const job of scheduled) {
      const configuration = field(jobNamed(job.name)?.inputs, 'configuration');
      expect(configuration, job.name).toMatchObject({
        triggerType: 'Schedule',
        scheduleTriggerConfig: { cronExpression: job.schedule },
        replicaTimeout: job.timeoutMinutes * 60,
        replicaRetryLimit: job.retries,
      });
    }
  });

  it("runs each manual job, the run's steps included, as a manually triggered Container Apps Job", () => {
    const manual = DEPLOYED_JOBS.filter((j) => j.kind === 'manual').map((j) => j.name);
    expect(manual).toEqual(expect.arrayContaining(['extract', 'validate', 'load', 'reconcile', 'transform']));
    for (const job of DEPLOYED_JOBS.filter((j) => j.kind === 'manual')) {
      const configuration = field<Record<string, unknown>>(jobNamed(job.name)?.inputs, 'configuration');
      expect(configuration.triggerType, job.name).toBe('Manual');
      expect(configuration.scheduleTriggerConfig).toBeUndefined();
    }
  });

  it("leaves each job replica the platform's CONTAINER_APP_JOB_EXECUTION_NAME, which the run resumes by", () => {
    // Container Apps sets it per execution, the same in every retried replica; a value of ours would hide it.
    for (const job of DEPLOYED_JOBS.filter((j) => j.kind !== 'service')) {
      const names = (containerOf(jobNamed(job.name)).env ?? []).map((e) => e.name);
      expect(names, job.name).not.toContain('CONTAINER_APP_JOB_EXECUTION_NAME');
      expect(names, job.name).not.toContain('RUN_EXECUTION_ID');
    }
  });

  it('runs every catalog service, and only those, as a Container App', () => {
    expect(
      ofType(resources, 'azure-native:app:ContainerApp')
        .map((a) => a.inputs.containerAppName)
        .sort(),
    ).toEqual(SERVICES.map((j) => `ecomm-test-${j.name}`).sort());
  });

  it('runs each service with fixed replicas, a graceful stop and a liveness probe on its port', () => {
    for (const job of SERVICES) {
      const spec = stack.spec.services.find((s) => s.name === job.name);
      const app = appNamed(job.name).inputs;
      expect(field(app, 'template', 'scale'), job.name).toEqual({
        minReplicas: spec?.replicas,
        maxReplicas: spec?.replicas,
      });
      expect(field(app, 'template', 'terminationGracePeriodSeconds'), job.name).toBe(120);
      expect(field(app, 'configuration', 'activeRevisionsMode'), job.name).toBe('Single');
      expect(field<Probe[]>(app, 'template', 'containers', 0, 'probes'), job.name).toEqual([
        {
          type: 'Liveness',
          httpGet: { path: '/healthz', port: job.port },
          initialDelaySeconds: 30,
          periodSeconds: 30,
          timeoutSeconds: 5,
          failureThreshold: 3,
        },
      ]);
      // Ingress, when there is one, is internal and points at the same port the probe checks.
      const ingress = field<{ external: boolean; targetPort: number } | undefined>(
        app,
        'configuration',
        'ingress',
      );
      if (ingress !== undefined)
        expect(ingress, job.name).toMatchObject({ external: false, targetPort: job.port });
    }
  });

  it('runs stream-ingest with its replicas, a liveness probe on 8080 /healthz and no ingress', () => {
    const app = appNamed('stream-ingest').inputs;
    expect(field(app, 'template', 'scale')).toEqual({ minReplicas: 1, maxReplicas: 1 });
    expect(field(app, 'template', 'terminationGracePeriodSeconds')).toBe(120);
    expect(field(app, 'configuration', 'ingress')).toBeUndefined();
    expect(field(app, 'template', 'containers', 0, 'probes', 0)).toMatchObject({
      type: 'Liveness',
      httpGet: { path: '/healthz', port: 8080 },
    });
  });

  it('runs the monitor as one replica behind internal-only ingress on 8090, probed on /healthz', () => {
    const app = appNamed('monitor').inputs;
    expect(field(app, 'template', 'scale')).toEqual({ minReplicas: 1, maxReplicas: 1 });
    expect(field(app, 'configuration', 'ingress')).toEqual({
      external: false,
      targetPort: 8090,
      transport: 'http',
      allowInsecure: false,
    });
    expect(field(app, 'template', 'containers', 0, 'probes', 0)).toMatchObject({
      type: 'Liveness',
      httpGet: { path: '/healthz', port: 8090 },
    });
    expect(containerOf(appNamed('monitor')).args).toEqual(['monitor', '--host', '0.0.0.0']);
    // The environment itself is internal (VNet only): not even the ingress' environment endpoint is public.
    expect(
      field(
        onlyOne(resources, 'azure-native:app:ManagedEnvironment').inputs,
        'vnetConfiguration',
        'internal',
      ),
    ).toBe(true);
  });

  it('gives every workload its command, size, environment and an identity of its own', () => {
    const identities = new Set<string>();
    for (const job of DEPLOYED_JOBS) {
      const workload = workloadNamed(job);
      const identity = identityFor(job);
      identities.add(identity.id);
      const container = containerOf(workload);
      expect(container.args, job.name).toEqual([job.name, ...(job.args ?? [])]);
      expect(container.env.map((e) => e.name).sort()).toEqual(
        [...expectedEnvironment(job.env), 'AZURE_CLIENT_ID'].sort(),
      );
      expect(container.env.every((e) => e.value !== undefined && e.secretRef === undefined)).toBe(true);
      expect(container.env).toContainEqual({
        name: 'AZURE_CLIENT_ID',
        value: `client-${identity.inputs.resourceName}`,
      });
      expect(field(workload?.inputs, 'identity', 'userAssignedIdentities'), job.name).toEqual([identity.id]);
      expect(field(workload?.inputs, 'configuration', 'registries', 0, 'identity'), job.name).toBe(
        identity.id,
      );
    }
    expect(containerOf(jobNamed('generate')).resources).toEqual({ cpu: 1, memory: '2Gi' });
    expect(identities.size).toBe(DEPLOYED_JOBS.length);
  });

  it('connects every warehouse job and service as its own login, never as the admin', () => {
    for (const job of DEPLOYED_JOBS) {
      const url = containerOf(workloadNamed(job)).env.find((e) => e.name === 'WAREHOUSE_URL')?.value;
      if (!job.env.includes('WAREHOUSE_URL')) {
        expect(url, job.name).toBeUndefined();
        continue;
      }
      const parsed = new URL(String(url));
      expect(parsed.protocol, job.name).toBe('postgres:');
      expect(parsed.username, job.name).toBe(warehouseLoginOf(job.name));
      expect(parsed.searchParams.get('passwordSecret'), job.name).toBe(
        `${warehouseLoginOf(job.name).toUpperCase()}_PASSWORD`,
      );
    }
    expect(new URL(stack.outputs.WAREHOUSE_URL).username).toBe('ecomm_admin');
  });

  it('grants each identity exactly what its settings need, Key Vault secrets one by one', () => {
    const container = onlyOne(resources, 'azure-native:storage:BlobContainer');
    for (const job of DEPLOYED_JOBS) {
      const spec = [...stack.spec.jobs, ...stack.spec.services].find((w) => w.name === job.name);
      const stream = job.env.includes('STREAM_URL');
      // A describe-only stream job (the watchdog) receives and never sends.
      const streamRoles =
        job.streamAccess === 'describe'
          ? ['eventHubsDataReceiver']
          : ['eventHubsDataSender', 'eventHubsDataReceiver'];
      const secrets = spec?.secrets ?? [];
      const vaultSecret = (name: string) => `keyVaultSecretsUser on Secret ${name.replace(/_/g, '-')}`;
      expect(grantsOf(identityFor(job)), job.name).toEqual(
        [
          `acrPull on Registry ${onlyOne(resources, 'azure-native:containerregistry:Registry').inputs.registryName}`,
          ...(job.env.includes('LAKE_URL')
            ? [`ecomm-test lake data (by prefix) on BlobContainer ${container.inputs.containerName}`]
            : []),
          ...(stream
            ? streamRoles.map(
                (role) =>
                  `${role} on Namespace ${onlyOne(resources, 'azure-native:eventhub:Namespace').inputs.namespaceName}`,
              )
            : []),
          ...secrets.map(vaultSecret),
        ].sort(),
      );
    }
  });

  it('keeps the monitor away from Event Hubs: no role on the namespace, no connection string, no stream setting', () => {
    const monitor = DEPLOYED_JOBS.find((j) => j.name === 'monitor') as JobSpec;
    const grants = grantsOf(identityFor(monitor));
    expect(grants.some((g) => g.startsWith('eventHubs'))).toBe(false);
    expect(grants.filter((g) => g.startsWith('keyVaultSecretsUser'))).toContain(
      'keyVaultSecretsUser on Secret ECOMM-MONITOR-PASSWORD',
    );
    expect(grants.some((g) => /SOURCE-PASSWORD|Secret WAREHOUSE-PASSWORD/.test(g))).toBe(false);
    expect(grants.some((g) => / lake /.test(g))).toBe(false);
    expect(grants.some((g) => g.includes(' on Vault '))).toBe(false);
    const app = appNamed('monitor');
    expect(containerOf(app).env.map((e) => e.name)).not.toContain('STREAM_URL');
    // Not the identity stream-ingest runs as.
    expect(identityFor(monitor).id).not.toBe(
      identityFor(DEPLOYED_JOBS.find((j) => j.name === 'stream-ingest') as JobSpec).id,
    );
  });

  it('reaches Event Hubs through Entra ID only: local auth off, no shared key, no connection string', () => {
    const namespace = onlyOne(resources, 'azure-native:eventhub:Namespace');
    expect(namespace.inputs.disableLocalAuth).toBe(true);
    expect(ofType(resources, 'azure-native:eventhub:NamespaceAuthorizationRule')).toEqual([]);
    expect(stack.outputs.STREAM_URL).toBe(
      `kafka://${namespace.inputs.namespaceName}.servicebus.windows.net:9093?auth=entra`,
    );
    for (const job of DEPLOYED_JOBS) {
      const names = containerOf(workloadNamed(job)).env.map((e) => e.name);
      expect(names, job.name).not.toContain('EVENTHUBS_CONNECTION_STRING');
      expect(field(workloadNamed(job)?.inputs, 'configuration', 'secrets'), job.name).toBeUndefined();
    }
  });

  it('stores every platform secret in Key Vault under its Key Vault name', () => {
    expect(
      ofType(resources, 'azure-native:keyvault:Secret')
        .map((s) => s.inputs.secretName)
        .sort(),
    ).toEqual(
      [
        'PII-HASH-KEY',
        'SOURCE-PASSWORD',
        'WAREHOUSE-PASSWORD',
        ...DEPLOYED_JOBS.filter((j) => j.env.includes('WAREHOUSE_URL')).map(
          (j) => `${warehouseLoginOf(j.name).toUpperCase().replace(/_/g, '-')}-PASSWORD`,
        ),
      ].sort(),
    );
  });

  it('creates an alert per rule that notifies the action group emailing the contacts', () => {
    const group = onlyOne(resources, 'azure-native:monitor:ActionGroup');
    expect(
      field<{ emailAddress: string }[]>(group.inputs, 'emailReceivers').map((r) => r.emailAddress),
    ).toEqual(['oncall@example.com', 'data-team@example.com']);
    const metric = ofType(resources, 'azure-native:monitor:MetricAlert');
    const logs = ofType(resources, 'azure-native:monitor:ScheduledQueryRule');
    expect([...metric, ...logs].map((a) => a.inputs.ruleName).sort()).toEqual(
      stack.spec.alerts.map((a) => `ecomm-test-alert-${a.name}`).sort(),
    );
    expect(metric.every((a) => field(a.inputs, 'actions', 0, 'actionGroupId') === group.id)).toBe(true);
    expect(logs.every((a) => field(a.inputs, 'actions', 'actionGroups', 0) === group.id)).toBe(true);
  });

  it('alerts on gold freshness when the hourly run has not completed in 75 minutes', () => {
    const rule = ofType(resources, 'azure-native:monitor:ScheduledQueryRule').find(
      (r) => r.inputs.ruleName === 'ecomm-test-alert-batch-freshness',
    );
    const query = String(field(rule?.inputs, 'criteria', 'allOf', 0, 'query'));
    expect(query).toContain('ago(75m)');
    expect(query).toContain('"ecomm-test-run"');
    expect(field(rule?.inputs, 'criteria', 'allOf', 0)).toMatchObject({ operator: 'LessThan', threshold: 1 });
  });

  it('puts every resource but the resource group under a capability component', () => {
    const loose = stack.parents.filter((p) => p.custom && !p.parentType?.startsWith('ecomm:azure:'));
    expect(loose.map((p) => p.type)).toEqual(['azure-native:resources:ResourceGroup']);
  });
});
