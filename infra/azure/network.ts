/**
 * Azure network: one VNet with a delegated subnet for the Container Apps environment, a delegated
 * subnet for PostgreSQL Flexible Server, and a subnet for the private endpoints of the lake, Event
 * Hubs and Key Vault; plus the private DNS zones that make those endpoints resolve inside the VNet.
 */
import * as network from '@pulumi/azure-native/network/index.js';
import * as privatedns from '@pulumi/azure-native/privatedns/index.js';
import * as pulumi from '@pulumi/pulumi';
import { carveSubnets } from '../network-plan.ts';
import type { AzurePlacement } from './placement.ts';

export type PrivateZone = 'blob' | 'servicebus' | 'vault' | 'postgres' | 'registry';

export interface AzureNetworkArgs extends AzurePlacement {
  prefix: string;
  cidr: string;
  tags: Record<string, string>;
}

export class AzureNetwork extends pulumi.ComponentResource {
  readonly appsSubnetId: pulumi.Output<string>;
  readonly postgresSubnetId: pulumi.Output<string>;
  readonly endpointsSubnetId: pulumi.Output<string>;
  readonly zoneIds: Record<PrivateZone, pulumi.Output<string>>;
  /** Resources that must exist before a server joins the VNet's DNS (the zone links). */
  readonly dnsReady: pulumi.Resource[] = [];

  constructor(name: string, args: AzureNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:Network', name, {}, opts);
    const child = { parent: this };
    // Container Apps environments with workload profiles need at least a /27; /23 leaves room to grow.
    const [apps, postgres, endpoints] = carveSubnets(args.cidr, [
      { name: 'apps', prefixLength: 23 },
      { name: 'postgres', prefixLength: 24 },
      { name: 'endpoints', prefixLength: 24 },
    ]);
    // Subnets inline: separate Subnet resources on one VNet race each other on Azure.
    const vnet = new network.VirtualNetwork(
      `${name}-vnet`,
      {
        virtualNetworkName: `${args.prefix}-vnet`,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        addressSpace: { addressPrefixes: [args.cidr] },
        subnets: [
          {
            name: 'apps',
            addressPrefix: apps?.cidr,
            delegations: [{ name: 'apps', serviceName: 'Microsoft.App/environments' }],
          },
          {
            name: 'postgres',
            addressPrefix: postgres?.cidr,
            delegations: [{ name: 'postgres', serviceName: 'Microsoft.DBforPostgreSQL/flexibleServers' }],
          },
          { name: 'endpoints', addressPrefix: endpoints?.cidr, privateEndpointNetworkPolicies: 'Disabled' },
        ],
        tags: args.tags,
      },
      child,
    );
    this.appsSubnetId = pulumi.interpolate`${vnet.id}/subnets/apps`;
    this.postgresSubnetId = pulumi.interpolate`${vnet.id}/subnets/postgres`;
    this.endpointsSubnetId = pulumi.interpolate`${vnet.id}/subnets/endpoints`;

    const zoneNames: Record<PrivateZone, string> = {
      blob: 'privatelink.blob.core.windows.net',
      servicebus: 'privatelink.servicebus.windows.net',
      vault: 'privatelink.vaultcore.azure.net',
      registry: 'privatelink.azurecr.io',
      postgres: `${args.prefix}.private.postgres.database.azure.com`,
    };
    const zoneIds = {} as Record<PrivateZone, pulumi.Output<string>>;
    for (const [key, zoneName] of Object.entries(zoneNames) as [PrivateZone, string][]) {
      const zone = new privatedns.PrivateZone(
        `${name}-dns-${key}`,
        {
          privateZoneName: zoneName,
          resourceGroupName: args.resourceGroupName,
          location: 'global',
          tags: args.tags,
        },
        child,
      );
      const link = new privatedns.VirtualNetworkLink(
        `${name}-dns-${key}`,
        {
          virtualNetworkLinkName: `${args.prefix}-vnet`,
          privateZoneName: zone.name,
          resourceGroupName: args.resourceGroupName,
          location: 'global',
          registrationEnabled: false,
          virtualNetwork: { id: vnet.id },
          tags: args.tags,
        },
        child,
      );
      zoneIds[key] = zone.id;
      this.dnsReady.push(link);
    }
    this.zoneIds = zoneIds;
    this.registerOutputs({ appsSubnetId: this.appsSubnetId });
  }
}
