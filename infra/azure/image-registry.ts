/**
 * Azure image registry: ACR Premium (the tier with private endpoints) with the admin user disabled
 * (pulls use each workload's managed identity and AcrPull), anonymous pull off, and public network
 * access disabled: the Container Apps environment pulls through the registry's private endpoint in
 * the VNet, and images are pushed from inside the VNet (see docs/deploy.md, "First deployment").
 */
import * as containerregistry from '@pulumi/azure-native/containerregistry/index.js';
import * as pulumi from '@pulumi/pulumi';
import type { ImageRegistryArgs, ImageRegistryOutputs } from '../components/image-registry.ts';
import type { AzurePlacement } from './placement.ts';
import { addPrivateEndpoint } from './private-endpoint.ts';

export interface AzureImageRegistryArgs extends ImageRegistryArgs, AzurePlacement {
  registryName: string;
  endpointsSubnetId: pulumi.Input<string>;
  registryDnsZoneId: pulumi.Input<string>;
}

export class AzureImageRegistry extends pulumi.ComponentResource implements ImageRegistryOutputs {
  readonly imageRef: pulumi.Output<string>;
  readonly registryId: pulumi.Output<string>;
  readonly loginServer: pulumi.Output<string>;

  constructor(name: string, args: AzureImageRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:ImageRegistry', name, {}, opts);
    const registry = new containerregistry.Registry(
      `${name}-registry`,
      {
        registryName: args.registryName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        sku: { name: 'Premium' },
        adminUserEnabled: false,
        anonymousPullEnabled: false,
        publicNetworkAccess: 'Disabled',
        networkRuleBypassOptions: 'None',
        tags: args.tags,
      },
      { parent: this },
    );
    addPrivateEndpoint(this, {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      name: `${args.prefix}-registry`,
      subnetId: args.endpointsSubnetId,
      resourceId: registry.id,
      groupId: 'registry',
      dnsZoneId: args.registryDnsZoneId,
      tags: args.tags,
    });
    this.loginServer = registry.loginServer;
    this.imageRef = pulumi.interpolate`${registry.loginServer}/${args.image.repository}:${args.image.tag}`;
    this.registryId = registry.id;
    this.registerOutputs({ imageRef: this.imageRef });
  }
}
