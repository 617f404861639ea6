/** A private endpoint for one resource in the endpoints subnet, registered in its private DNS zone. */
import * as network from '@pulumi/azure-native/network/index.js';
import type * as pulumi from '@pulumi/pulumi';
import type { AzurePlacement } from './placement.ts';

export interface PrivateEndpointArgs extends AzurePlacement {
  name: string;
  subnetId: pulumi.Input<string>;
  resourceId: pulumi.Input<string>;
  /** The sub-resource: `blob`, `namespace`, `vault`. */
  groupId: string;
  dnsZoneId: pulumi.Input<string>;
  tags: Record<string, string>;
}

export function addPrivateEndpoint(
  parent: pulumi.Resource,
  args: PrivateEndpointArgs,
): network.PrivateEndpoint {
  const endpoint = new network.PrivateEndpoint(
    `${args.name}-endpoint`,
    {
      privateEndpointName: `${args.name}-endpoint`,
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      subnet: { id: args.subnetId },
      privateLinkServiceConnections: [
        { name: args.name, privateLinkServiceId: args.resourceId, groupIds: [args.groupId] },
      ],
      tags: args.tags,
    },
    { parent },
  );
  new network.PrivateDnsZoneGroup(
    `${args.name}-endpoint`,
    {
      privateDnsZoneGroupName: 'default',
      privateEndpointName: endpoint.name,
      resourceGroupName: args.resourceGroupName,
      privateDnsZoneConfigs: [{ name: args.groupId, privateDnsZoneId: args.dnsZoneId }],
    },
    { parent },
  );
  return endpoint;
}
