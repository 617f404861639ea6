/**
 * The Azure stack: builds every capability from the platform spec and returns the stack outputs.
 */
import * as authorization from '@pulumi/azure-native/authorization/index.js';
import * as resources from '@pulumi/azure-native/resources/index.js';
import * as pulumi from '@pulumi/pulumi';
import { type PlatformOutputs, type PlatformSettingValues, postgresUrl } from '../adapter-urls.ts';
import { sourceSettings } from '../components/job-runner.ts';
import { type ConfigSecretValues, configSecretsFor } from '../components/secrets.ts';
import { compactUniqueName, dashedUniqueName } from '../naming.ts';
import type { PlatformSpec } from '../spec.ts';
import { AzureEventStream } from './event-stream.ts';
import { WorkloadIdentities } from './identity.ts';
import { AzureImageRegistry } from './image-registry.ts';
import { AzureJobRunner } from './job-runner.ts';
import { AzureLake } from './lake.ts';
import { AzureMonitoring } from './monitoring.ts';
import { AzureNetwork } from './network.ts';
import { AzureSecrets } from './secrets.ts';
import { AzureWarehouse } from './warehouse.ts';

export async function deployAzure(
  spec: PlatformSpec,
  secretValues: ConfigSecretValues,
): Promise<PlatformOutputs<pulumi.Output<string>>> {
  const { prefix, tags } = spec;
  const client = await authorization.getClientConfig();
  // Globally unique names hash the subscription in, so two organisations never collide.
  const seed = `${client.subscriptionId}/${prefix}/${spec.region}`;
  const group = new resources.ResourceGroup(`${prefix}-rg`, {
    resourceGroupName: `${prefix}-rg`,
    location: spec.region,
    tags,
  });
  const placement = { resourceGroupName: group.name, location: spec.region };

  const network = new AzureNetwork(`${prefix}-network`, {
    ...placement,
    prefix,
    cidr: spec.network.cidr,
    source: { cidr: spec.source.cidr, port: spec.source.port },
    externalSources: spec.sources.map((source) => ({
      name: source.name,
      port: source.egress.port,
      cidrs: source.egress.cidrs,
    })),
    tags,
  });
  const lake = new AzureLake(`${prefix}-lake`, {
    ...placement,
    prefix,
    lake: spec.lake,
    accountName: compactUniqueName(prefix, 'lake', seed, 24),
    endpointsSubnetId: network.endpointsSubnetId,
    blobDnsZoneId: network.zoneIds.blob,
    tags,
  });
  const stream = new AzureEventStream(`${prefix}-stream`, {
    ...placement,
    prefix,
    stream: spec.stream,
    namespaceName: dashedUniqueName(prefix, 'events', seed, 50),
    endpointsSubnetId: network.endpointsSubnetId,
    servicebusDnsZoneId: network.zoneIds.servicebus,
    tags,
  });
  const warehousePassword = secretValues.WAREHOUSE_PASSWORD;
  if (warehousePassword === undefined)
    throw new Error('the azure stack needs warehouseAdminPassword in its config');
  const warehouse = new AzureWarehouse(`${prefix}-warehouse`, {
    ...placement,
    prefix,
    warehouse: spec.warehouse,
    serverName: dashedUniqueName(prefix, 'warehouse', seed, 63),
    adminPassword: warehousePassword,
    subnetId: network.postgresSubnetId,
    privateDnsZoneId: network.zoneIds.postgres,
    dnsReady: network.dnsReady,
    tags,
  });
  const registry = new AzureImageRegistry(`${prefix}-registry`, {
    ...placement,
    prefix,
    image: spec.image,
    registryName: compactUniqueName(prefix, 'registry', seed, 50),
    endpointsSubnetId: network.endpointsSubnetId,
    registryDnsZoneId: network.zoneIds.registry,
    tags,
  });
  const secrets = new AzureSecrets(`${prefix}-secrets`, {
    ...placement,
    prefix,
    vaultName: dashedUniqueName(prefix, 'kv', seed, 24),
    tenantId: client.tenantId,
    endpointsSubnetId: network.endpointsSubnetId,
    vaultDnsZoneId: network.zoneIds.vault,
    // On Azure every spec secret, the admin's password included, comes from stack config or the login key.
    secrets: configSecretsFor(spec.secrets, secretValues, () => true),
    tags,
  });
  const identities = new WorkloadIdentities(`${prefix}-identity`, {
    ...placement,
    prefix,
    subscriptionId: client.subscriptionId,
    workloads: [...spec.jobs, ...spec.services],
    lakeContainerId: lake.containerId,
    resourceGroupId: group.id,
    roleSeed: seed,
    streamNamespaceId: stream.streamId,
    secretIds: secrets.secretRefs,
    registryId: registry.registryId,
    tags,
  });

  const settings: PlatformSettingValues<pulumi.Output<string>> = {
    LAKE_URL: lake.lakeUrl,
    STREAM_URL: stream.streamUrl,
    WAREHOUSE_URL: warehouse.warehouseUrl,
    SOURCE_URL: pulumi.output(postgresUrl({ ...spec.source, passwordSecret: 'SOURCE_PASSWORD' })),
    SECRETS_URL: secrets.secretsUrl,
    ...sourceSettings(spec.sources),
  };
  const runner = new AzureJobRunner(
    `${prefix}-jobs`,
    {
      ...placement,
      prefix,
      jobs: spec.jobs,
      services: spec.services,
      imageRef: registry.imageRef,
      registryServer: registry.loginServer,
      identities: identities.byWorkload,
      appsSubnetId: network.appsSubnetId,
      settings,
      warehouseUrlFor: (login, passwordSecret) => warehouse.urlFor(login, passwordSecret),
      logRetentionDays: spec.logRetentionDays,
      tags,
    },
    // Role assignments first: a revision reads its Key Vault references with its identity as it starts.
    { dependsOn: [identities] },
  );
  new AzureMonitoring(`${prefix}-monitoring`, {
    ...placement,
    prefix,
    environment: spec.environment,
    alerts: spec.alerts,
    contacts: spec.alertContacts,
    jobRefs: runner.jobRefs,
    serviceRefs: runner.serviceRefs,
    workspaceId: runner.workspaceId,
    tags,
  });
  return { ...settings, imageRef: registry.imageRef };
}
