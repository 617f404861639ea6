/** Where Azure resources go: the stack's resource group and region. */
import type * as pulumi from '@pulumi/pulumi';

export interface AzurePlacement {
  resourceGroupName: pulumi.Output<string>;
  location: string;
}
