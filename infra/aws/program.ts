/**
 * The AWS stack: builds every capability from the platform spec and returns the stack outputs.
 */
import * as pulumi from '@pulumi/pulumi';
import { type PlatformOutputs, type PlatformSettingValues, postgresUrl } from '../adapter-urls.ts';
import { sourceSettings } from '../components/job-runner.ts';
import { type ConfigSecretValues, configSecretsFor } from '../components/secrets.ts';
import type { PlatformSpec } from '../spec.ts';
import { AwsEventStream } from './event-stream.ts';
import { AwsImageRegistry } from './image-registry.ts';
import { AwsJobRunner } from './job-runner.ts';
import { AwsLake } from './lake.ts';
import { AwsMonitoring } from './monitoring.ts';
import { AwsNetwork } from './network.ts';
import { AwsSecrets } from './secrets.ts';
import { AwsWarehouse } from './warehouse.ts';

export async function deployAws(
  spec: PlatformSpec,
  secretValues: ConfigSecretValues,
): Promise<PlatformOutputs<pulumi.Output<string>>> {
  const { prefix, tags } = spec;
  const network = new AwsNetwork(`${prefix}-network`, {
    prefix,
    region: spec.region,
    cidr: spec.network.cidr,
    availabilityZones: spec.network.availabilityZones,
    source: { cidr: spec.source.cidr ?? spec.network.cidr, port: spec.source.port },
    externalSources: spec.sources.map((source) => ({
      setting: source.setting,
      name: source.name,
      port: source.egress.port,
      cidrs: source.egress.cidrs,
    })),
    tags,
  });
  const lake = new AwsLake(`${prefix}-lake`, { prefix, lake: spec.lake, tags });
  const stream = new AwsEventStream(`${prefix}-stream`, {
    prefix,
    stream: spec.stream,
    region: spec.region,
    subnetIds: network.privateSubnetIds,
    securityGroupId: network.streamSecurityGroupId,
    logRetentionDays: spec.logRetentionDays,
    tags,
  });
  const warehouse = new AwsWarehouse(`${prefix}-warehouse`, {
    prefix,
    warehouse: spec.warehouse,
    subnetIds: network.privateSubnetIds,
    securityGroupId: network.warehouseSecurityGroupId,
    lakeBucketArn: lake.storeId,
    lakeKmsKeyArn: lake.kmsKeyArn,
    stagingPrefix: spec.lake.zones.find((z) => z.name === 'staging')?.prefix ?? 'staging/',
    tags,
  });
  const registry = new AwsImageRegistry(`${prefix}-registry`, { prefix, image: spec.image, tags });
  // Redshift keeps the admin password itself; the stack stores the secrets from config and the logins' passwords.
  const secrets = new AwsSecrets(`${prefix}-secrets`, {
    prefix,
    region: spec.region,
    secrets: configSecretsFor(spec.secrets, secretValues, (s) => s.source !== 'warehouse'),
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
  const runner = new AwsJobRunner(`${prefix}-jobs`, {
    prefix,
    region: spec.region,
    jobs: spec.jobs,
    services: spec.services,
    imageRef: registry.imageRef,
    repositoryArn: registry.registryId,
    settings,
    warehouseUrlFor: (login, passwordSecret) => warehouse.urlFor(login, passwordSecret),
    subnetIds: network.privateSubnetIds,
    securityGroupId: network.jobsSecurityGroupId,
    sourceSecurityGroupIds: network.sourceSecurityGroupIds,
    vpcId: network.vpcId,
    vpcCidr: spec.network.cidr,
    dataPlane: {
      lake: { bucketArn: lake.storeId, kmsKeyArn: lake.kmsKeyArn },
      stream: {
        clusterArn: stream.streamId,
        topics: spec.stream.topics.map((t) => t.name),
        consumerGroups: [...new Set(spec.stream.topics.flatMap((t) => t.consumerGroups))],
      },
      // The admin's secret is Redshift's; no job is granted it (spec: neededWith null).
      secretArns: { ...secrets.secretRefs, WAREHOUSE_PASSWORD: warehouse.passwordSecretArn },
    },
    logRetentionDays: spec.logRetentionDays,
    tags,
  });
  new AwsMonitoring(`${prefix}-monitoring`, {
    prefix,
    alerts: spec.alerts,
    contacts: spec.alertContacts,
    jobRefs: runner.jobRefs,
    serviceRefs: runner.serviceRefs,
    clusterName: runner.clusterName,
    streamClusterName: stream.clusterName,
    topics: spec.stream.topics,
    tags,
  });
  return { ...settings, imageRef: registry.imageRef };
}
