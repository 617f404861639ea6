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
  /** The OLTP source: its range (unset: inside the VNet or reached through it) and port. */
  source: { cidr?: string; port: number };
  /** The further sources configured: each one's ranges and port. */
  externalSources: ExternalSourceEgress[];
  tags: Record<string, string>;
}

/** A security rule as the NSG takes it: one destination prefix, or a list of them. */
export interface NsgRule {
  name: string;
  priority: number;
  direction: string;
  access: string;
  protocol: string;
  sourceAddressPrefix: string;
  sourcePortRange: string;
  destinationAddressPrefix?: string;
  destinationAddressPrefixes?: string[];
  destinationPortRange: string;
}

export interface ExternalSourceEgress {
  name: string;
  port: number;
  cidrs: string[];
}

/**
 * What the Container Apps environment's subnet may reach: the VNet (private endpoints of the lake, the stream,
 * the vault and the registry, and PostgreSQL), Microsoft Entra ID for the managed identities' tokens, Azure
 * Monitor for the environment's logs, Microsoft's container registry and its front door for the platform's own
 * images (Container Apps' documented outbound needs), the OLTP source, and each further source's ranges on its
 * port; everything else on the internet is denied. An NSG holds for the whole subnet, so every app of the
 * environment may reach a further source: only the jobs that read it hold its secret (docs/deploy.md).
 */
export function appsEgressRules(
  source: { cidr?: string; port: number },
  externalSources: readonly ExternalSourceEgress[] = [],
): NsgRule[] {
  const allow = (priority: number, name: string, destination: string | string[], port: string): NsgRule => ({
    name,
    priority,
    direction: 'Outbound',
    access: 'Allow',
    protocol: port === '*' ? '*' : 'Tcp',
    sourceAddressPrefix: 'VirtualNetwork',
    sourcePortRange: '*',
    ...(typeof destination === 'string'
      ? { destinationAddressPrefix: destination }
      : { destinationAddressPrefixes: [...destination] }),
    destinationPortRange: port,
  });
  return [
    allow(100, 'to-vnet', 'VirtualNetwork', '*'),
    allow(110, 'to-entra-id', 'AzureActiveDirectory', '443'),
    allow(120, 'to-azure-monitor', 'AzureMonitor', '443'),
    allow(130, 'to-microsoft-container-registry', 'MicrosoftContainerRegistry', '443'),
    allow(140, 'to-azure-front-door', 'AzureFrontDoor.FirstParty', '443'),
    ...(source.cidr === undefined ? [] : [allow(150, 'to-oltp-source', source.cidr, String(source.port))]),
    ...externalSources.map((external, index) =>
      allow(160 + 10 * index, `to-${external.name}-source`, external.cidrs, String(external.port)),
    ),
    {
      name: 'deny-internet',
      priority: 4000,
      direction: 'Outbound',
      access: 'Deny',
      protocol: '*',
      sourceAddressPrefix: '*',
      sourcePortRange: '*',
      destinationAddressPrefix: 'Internet',
      destinationPortRange: '*',
    },
  ];
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
    const appsEgress = new network.NetworkSecurityGroup(
      `${name}-apps-nsg`,
      {
        networkSecurityGroupName: `${args.prefix}-apps-nsg`,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        securityRules: appsEgressRules(args.source, args.externalSources),
        tags: args.tags,
      },
      child,
    );
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
            networkSecurityGroup: { id: appsEgress.id },
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
