/**
 * Azure lake: a StorageV2 account holding one `lake` container whose top-level directories are the
 * zones, exactly like the S3 bucket (LAKE_URL = az://<account>/lake). Entra ID only (no shared
 * keys), TLS 1.2, no public blobs, reachable only through its private endpoint, blob versioning
 * and soft delete on, and a lifecycle rule per zone.
 *
 * Hierarchical namespace (ADLS Gen2) stays off: Azure does not offer blob versioning on HNS
 * accounts, and versioning is what undoes a bad replay (keys are deterministic, replays overwrite).
 * The adapters use the Blob API on a flat key space, so nothing here needs HNS.
 */
import * as storage from '@pulumi/azure-native/storage/index.js';
import * as pulumi from '@pulumi/pulumi';
import { azureLakeUrl } from '../adapter-urls.ts';
import type { LakeArgs, LakeOutputs } from '../components/lake.ts';
import type { AzurePlacement } from './placement.ts';
import { addPrivateEndpoint } from './private-endpoint.ts';

export interface AzureLakeArgs extends LakeArgs, AzurePlacement {
  accountName: string;
  endpointsSubnetId: pulumi.Input<string>;
  blobDnsZoneId: pulumi.Input<string>;
}

export class AzureLake extends pulumi.ComponentResource implements LakeOutputs {
  readonly lakeUrl: pulumi.Output<string>;
  readonly storeId: pulumi.Output<string>;
  /** The `lake` container, where each workload's lake role is assigned. */
  readonly containerId: pulumi.Output<string>;

  constructor(name: string, args: AzureLakeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:Lake', name, {}, opts);
    const child = { parent: this };
    const placement = { resourceGroupName: args.resourceGroupName, location: args.location };

    const account = new storage.StorageAccount(
      `${name}-account`,
      {
        ...placement,
        accountName: args.accountName,
        kind: 'StorageV2',
        sku: { name: 'Standard_ZRS' },
        accessTier: 'Hot',
        isHnsEnabled: false,
        minimumTlsVersion: 'TLS1_2',
        enableHttpsTrafficOnly: true,
        allowBlobPublicAccess: false,
        allowSharedKeyAccess: false,
        defaultToOAuthAuthentication: true,
        allowCrossTenantReplication: false,
        publicNetworkAccess: 'Disabled',
        networkRuleSet: { defaultAction: 'Deny', bypass: 'None' },
        encryption: {
          keySource: 'Microsoft.Storage',
          requireInfrastructureEncryption: true,
          services: { blob: { enabled: true, keyType: 'Account' } },
        },
        tags: args.tags,
      },
      child,
    );
    const accountRef = { resourceGroupName: args.resourceGroupName, accountName: account.name };

    const blobService = new storage.BlobServiceProperties(
      `${name}-blob-service`,
      {
        ...accountRef,
        blobServicesName: 'default',
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: 7 },
        containerDeleteRetentionPolicy: { enabled: true, days: 7 },
      },
      child,
    );
    const container = new storage.BlobContainer(
      `${name}-container`,
      {
        ...accountRef,
        containerName: args.lake.container,
        publicAccess: 'None',
      },
      child,
    );
    new storage.ManagementPolicy(
      `${name}-lifecycle`,
      {
        ...accountRef,
        managementPolicyName: 'default',
        policy: {
          rules: args.lake.zones.map((zone) => ({
            name: `expire-${zone.name}`,
            enabled: true,
            type: 'Lifecycle',
            definition: {
              filters: { blobTypes: ['blockBlob'], prefixMatch: [`${args.lake.container}/${zone.prefix}`] },
              actions: {
                baseBlob: { delete: { daysAfterModificationGreaterThan: zone.retentionDays } },
                version: { delete: { daysAfterCreationGreaterThan: args.lake.noncurrentVersionDays } },
              },
            },
          })),
        },
      },
      { parent: this, dependsOn: [blobService] },
    );
    addPrivateEndpoint(this, {
      ...placement,
      name: `${args.prefix}-lake-blob`,
      subnetId: args.endpointsSubnetId,
      resourceId: account.id,
      groupId: 'blob',
      dnsZoneId: args.blobDnsZoneId,
      tags: args.tags,
    });

    this.lakeUrl = pulumi
      .all([account.name, container.name])
      .apply(([accountName, containerName]) => azureLakeUrl(accountName, containerName));
    this.storeId = account.id;
    this.containerId = container.id;
    this.registerOutputs({ lakeUrl: this.lakeUrl });
  }
}
