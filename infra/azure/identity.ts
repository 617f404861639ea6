/**
 * The jobs' user-assigned managed identity and exactly the roles they need, each on one resource:
 * read/write blobs in the lake account, send and receive on the Event Hubs namespace, read secrets
 * in the vault, pull from the registry.
 */
import * as authorization from '@pulumi/azure-native/authorization/index.js';
import * as managedidentity from '@pulumi/azure-native/managedidentity/index.js';
import * as pulumi from '@pulumi/pulumi';
import { type AzureRole, roleDefinitionId } from '../azure-roles.ts';
import type { AzurePlacement } from './placement.ts';

export interface WorkloadIdentityArgs extends AzurePlacement {
  prefix: string;
  subscriptionId: string;
  lakeAccountId: pulumi.Input<string>;
  streamNamespaceId: pulumi.Input<string>;
  vaultId: pulumi.Input<string>;
  registryId: pulumi.Input<string>;
  tags: Record<string, string>;
}

export class WorkloadIdentity extends pulumi.ComponentResource {
  readonly identityId: pulumi.Output<string>;
  readonly clientId: pulumi.Output<string>;

  constructor(name: string, args: WorkloadIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:WorkloadIdentity', name, {}, opts);
    const identity = new managedidentity.UserAssignedIdentity(
      `${name}-identity`,
      {
        resourceName: `${args.prefix}-jobs`,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        tags: args.tags,
      },
      { parent: this },
    );
    const grants: [AzureRole, pulumi.Input<string>][] = [
      ['storageBlobDataContributor', args.lakeAccountId],
      ['eventHubsDataSender', args.streamNamespaceId],
      ['eventHubsDataReceiver', args.streamNamespaceId],
      ['keyVaultSecretsUser', args.vaultId],
      ['acrPull', args.registryId],
    ];
    for (const [role, scope] of grants) {
      new authorization.RoleAssignment(
        `${name}-${role}`,
        {
          principalId: identity.principalId,
          principalType: 'ServicePrincipal',
          roleDefinitionId: roleDefinitionId(args.subscriptionId, role),
          scope,
          description: `${args.prefix} jobs: ${role}`,
        },
        { parent: this },
      );
    }
    this.identityId = identity.id;
    this.clientId = identity.clientId;
    this.registerOutputs({ identityId: this.identityId });
  }
}
