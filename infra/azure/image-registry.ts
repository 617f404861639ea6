/**
 * Azure image registry: ACR Standard with the admin user disabled (pulls use the jobs' managed
 * identity and AcrPull) and anonymous pull off. Public network access stays on because private
 * endpoints need the Premium tier; pushes and pulls still require Entra ID tokens.
 */
import * as containerregistry from '@pulumi/azure-native/containerregistry/index.js';
import * as pulumi from '@pulumi/pulumi';
import type { ImageRegistryArgs, ImageRegistryOutputs } from '../components/image-registry.ts';
import type { AzurePlacement } from './placement.ts';

export interface AzureImageRegistryArgs extends ImageRegistryArgs, AzurePlacement {
  registryName: string;
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
        sku: { name: 'Standard' },
        adminUserEnabled: false,
        anonymousPullEnabled: false,
        publicNetworkAccess: 'Enabled',
        tags: args.tags,
      },
      { parent: this },
    );
    this.loginServer = registry.loginServer;
    this.imageRef = pulumi.interpolate`${registry.loginServer}/${args.image.repository}:${args.image.tag}`;
    this.registryId = registry.id;
    this.registerOutputs({ imageRef: this.imageRef });
  }
}
