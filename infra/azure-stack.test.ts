/** The Azure stack under mocks: every spec item exists with the right inputs. */
import { beforeAll, describe, expect, it } from 'vitest';
import { JOB_CATALOG } from '../jobs/catalog.ts';
import { EVENT_TOPICS } from '../jobs/contracts/event-topics.ts';
import { expectedEnvironment } from './testing/fixtures.ts';
import type { RecordedResource } from './testing/mock-cloud.ts';
import { startMockCloud } from './testing/mock-cloud.ts';
import { field, ofType, onlyOne } from './testing/resources.ts';
import type { DeployedStack } from './testing/stacks.ts';

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

describe('Azure stack inventory', () => {
  it('exports the adapter URLs in the forms the jobs read', () => {
    expect(stack.outputs.LAKE_URL).toMatch(/^az:\/\/ecommtestlake[0-9a-f]{6}\/lake$/);
    expect(stack.outputs.STREAM_URL).toMatch(
      /^kafka:\/\/ecomm-test-events-[0-9a-f]{6}\.servicebus\.windows\.net:9093\?auth=eventhubs$/,
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
      [...EVENT_TOPICS.map((t) => t.topic), 'dead-letter'].sort(),
    );
    for (const topic of EVENT_TOPICS) {
      const hub = hubs.find((h) => h.inputs.eventHubName === topic.topic);
      expect(hub?.inputs).toMatchObject({
        partitionCount: topic.partitions,
        retentionDescription: { cleanupPolicy: 'Delete', retentionTimeInHours: 168 },
      });
    }
    const groups = ofType(resources, 'azure-native:eventhub:ConsumerGroup').map(
      (g) => g.inputs.consumerGroupName,
    );
    expect(groups).toEqual(EVENT_TOPICS.map(() => 'ecomm-stream-ingest'));
    expect(onlyOne(resources, 'azure-native:eventhub:NamespaceAuthorizationRule').inputs.rights).toEqual([
      'Listen',
      'Send',
    ]);
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
    for (const job of JOB_CATALOG.filter((j) => j.kind === 'scheduled')) {
      const configuration = field(jobNamed(job.name)?.inputs, 'configuration');
      expect(configuration, job.name).toMatchObject({
        triggerType: 'Schedule',
        scheduleTriggerConfig: { cronExpression: job.schedule },
        replicaTimeout: job.timeoutMinutes * 60,
        replicaRetryLimit: job.retries,
      });
    }
  });

  it('runs each manual job as a manually triggered Container Apps Job', () => {
    for (const job of JOB_CATALOG.filter((j) => j.kind === 'manual')) {
      const configuration = field<Record<string, unknown>>(jobNamed(job.name)?.inputs, 'configuration');
      expect(configuration.triggerType, job.name).toBe('Manual');
      expect(configuration.scheduleTriggerConfig).toBeUndefined();
    }
  });

  it('runs stream-ingest as a Container App with fixed replicas, no ingress and a graceful stop', () => {
    const app = onlyOne(resources, 'azure-native:app:ContainerApp').inputs;
    expect(field(app, 'template', 'scale')).toEqual({ minReplicas: 1, maxReplicas: 1 });
    expect(field(app, 'template', 'terminationGracePeriodSeconds')).toBe(120);
    expect(field(app, 'configuration', 'ingress')).toBeUndefined();
  });

  it('gives every workload its command, size, environment and the jobs identity', () => {
    const identityId = onlyOne(resources, 'azure-native:managedidentity:UserAssignedIdentity').id;
    for (const job of JOB_CATALOG) {
      const workload =
        job.kind === 'service' ? onlyOne(resources, 'azure-native:app:ContainerApp') : jobNamed(job.name);
      const container = containerOf(workload);
      expect(container.args, job.name).toEqual(job.kind === 'service' ? [job.name, '--follow'] : [job.name]);
      const stream = job.env.includes('STREAM_URL') ? ['EVENTHUBS_CONNECTION_STRING'] : [];
      expect(container.env.map((e) => e.name).sort()).toEqual(
        [...expectedEnvironment(job.env), 'AZURE_CLIENT_ID', ...stream].sort(),
      );
      expect(container.env.every((e) => (e.value === undefined) !== (e.secretRef === undefined))).toBe(true);
      expect(field(workload?.inputs, 'identity', 'userAssignedIdentities')).toEqual([identityId]);
      expect(field(workload?.inputs, 'configuration', 'registries', 0, 'identity')).toBe(identityId);
    }
    expect(containerOf(jobNamed('generate')).resources).toEqual({ cpu: 1, memory: '2Gi' });
  });

  it('injects the Event Hubs connection string into stream readers as a Key Vault reference, never a value', () => {
    const identityId = onlyOne(resources, 'azure-native:managedidentity:UserAssignedIdentity').id;
    const vault = onlyOne(resources, 'azure-native:keyvault:Vault').inputs.vaultName;
    type SecretRef = { name: string; keyVaultUrl: string; identity: string; value?: string };
    const secretsOf = (r: RecordedResource | undefined) =>
      field<SecretRef[]>(r?.inputs, 'configuration', 'secrets');
    const expected = [
      {
        name: 'eventhubs-connection-string',
        keyVaultUrl: `https://${vault}.vault.azure.net/secrets/EVENTHUBS-CONNECTION-STRING`,
        identity: identityId,
      },
    ];
    expect(secretsOf(jobNamed('run'))).toEqual(expected);
    expect(secretsOf(onlyOne(resources, 'azure-native:app:ContainerApp'))).toEqual(expected);
    expect(secretsOf(jobNamed('load'))).toEqual([]);
    expect(containerOf(jobNamed('run')).env).toContainEqual({
      name: 'EVENTHUBS_CONNECTION_STRING',
      secretRef: 'eventhubs-connection-string',
    });
  });

  it('stores every platform secret in Key Vault under its Key Vault name', () => {
    expect(
      ofType(resources, 'azure-native:keyvault:Secret')
        .map((s) => s.inputs.secretName)
        .sort(),
    ).toEqual(['EVENTHUBS-CONNECTION-STRING', 'PII-HASH-KEY', 'SOURCE-PASSWORD', 'WAREHOUSE-PASSWORD']);
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

  it('alerts on gold freshness when transform has not completed in 75 minutes', () => {
    const rule = ofType(resources, 'azure-native:monitor:ScheduledQueryRule').find(
      (r) => r.inputs.ruleName === 'ecomm-test-alert-batch-freshness',
    );
    const query = String(field(rule?.inputs, 'criteria', 'allOf', 0, 'query'));
    expect(query).toContain('ago(75m)');
    expect(query).toContain('"ecomm-test-transform"');
    expect(field(rule?.inputs, 'criteria', 'allOf', 0)).toMatchObject({ operator: 'LessThan', threshold: 1 });
  });

  it('puts every resource but the resource group under a capability component', () => {
    const loose = stack.parents.filter((p) => p.custom && !p.parentType?.startsWith('ecomm:azure:'));
    expect(loose.map((p) => p.type)).toEqual(['azure-native:resources:ResourceGroup']);
  });
});
