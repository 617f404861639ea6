/**
 * The workloads' user-assigned managed identities, one per workload, each with exactly the roles its
 * access needs (azureAccessOf), each role on one resource: pull from the registry; the lake's custom
 * data role on the lake container, conditioned to the workload's prefixes (azure-lake-access.ts);
 * send and receive on the Event Hubs namespace (STREAM_URL); read each Key Vault secret the workload
 * reads, granted on that secret, not the vault. A workload that does not read the stream (the
 * monitor, the batch jobs) cannot reach the namespace.
 */
import * as authorization from '@pulumi/azure-native/authorization/index.js';
import * as managedidentity from '@pulumi/azure-native/managedidentity/index.js';
import * as pulumi from '@pulumi/pulumi';
import {
  LAKE_CONDITION_VERSION,
  lakeAccessCondition,
  lakeRoleDataActions,
  roleDefinitionGuid,
} from '../azure-lake-access.ts';
import { type AzureRole, roleDefinitionId } from '../azure-roles.ts';
import type { WorkloadSpec } from '../spec.ts';
import { type AzureAccess, azureAccessOf } from './access.ts';
import type { AzurePlacement } from './placement.ts';

export interface WorkloadIdentitiesArgs extends AzurePlacement {
  prefix: string;
  subscriptionId: string;
  workloads: WorkloadSpec[];
  /** The lake container: where the lake role is assigned, with each workload's prefix condition. */
  lakeContainerId: pulumi.Input<string>;
  /** Where the lake's custom role is defined and assignable: the stack's resource group. */
  resourceGroupId: pulumi.Input<string>;
  /** Seeds the custom role's GUID, so each stack defines its own. */
  roleSeed: string;
  streamNamespaceId: pulumi.Input<string>;
  /** Key Vault secret resource ID per platform secret name. */
  secretIds: Record<string, pulumi.Input<string>>;
  registryId: pulumi.Input<string>;
  tags: Record<string, string>;
}

export interface WorkloadIdentity {
  identityId: pulumi.Output<string>;
  /** DefaultAzureCredential needs the client ID to pick a user-assigned identity. */
  clientId: pulumi.Output<string>;
}

export class WorkloadIdentities extends pulumi.ComponentResource {
  /** The identity each workload runs as, by workload name. */
  readonly byWorkload: Record<string, WorkloadIdentity> = {};

  constructor(name: string, args: WorkloadIdentitiesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:WorkloadIdentities', name, {}, opts);
    // Blob data actions only: no identity can touch the container itself through the control plane.
    const lakeRole = new authorization.RoleDefinition(
      `${name}-lake-data`,
      {
        roleDefinitionId: roleDefinitionGuid(`${args.roleSeed}/lake-data`),
        roleName: `${args.prefix} lake data (by prefix)`,
        description: 'Lake blob data actions; each assignment confines them to prefixes',
        roleType: 'CustomRole',
        scope: args.resourceGroupId,
        assignableScopes: [args.resourceGroupId],
        permissions: [
          {
            actions: [],
            notActions: [],
            dataActions: lakeRoleDataActions(args.workloads.map((workload) => workload.lake)),
            notDataActions: [],
          },
        ],
      },
      { parent: this },
    );
    for (const workload of args.workloads) {
      this.byWorkload[workload.name] = this.createIdentity(name, azureAccessOf(workload), lakeRole.id, args);
    }
    this.registerOutputs({});
  }

  private createIdentity(
    name: string,
    access: AzureAccess,
    lakeRoleId: pulumi.Output<string>,
    args: WorkloadIdentitiesArgs,
  ): WorkloadIdentity {
    const child = { parent: this };
    const label = `${name}-${access.key}`;
    const identity = new managedidentity.UserAssignedIdentity(
      label,
      {
        resourceName: `${args.prefix}-${access.key}`,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        tags: args.tags,
      },
      child,
    );
    const scopes: Record<AzureAccess['resourceRoles'][number]['on'], pulumi.Input<string>> = {
      stream: args.streamNamespaceId,
      registry: args.registryId,
    };
    const grants: [string, AzureRole, pulumi.Input<string>][] = [
      ...access.resourceRoles.map(({ role, on }): [string, AzureRole, pulumi.Input<string>] => [
        role,
        role,
        scopes[on],
      ]),
      ...access.secrets.map((secret): [string, AzureRole, pulumi.Input<string>] => {
        const id = args.secretIds[secret];
        if (id === undefined)
          throw new Error(`identity ${access.key} needs secret ${secret}, which the vault does not hold`);
        return [`keyVaultSecretsUser-${secret}`, 'keyVaultSecretsUser', id];
      }),
    ];
    for (const [grant, role, scope] of grants) {
      new authorization.RoleAssignment(
        `${label}-${grant}`,
        {
          principalId: identity.principalId,
          principalType: 'ServicePrincipal',
          roleDefinitionId: roleDefinitionId(args.subscriptionId, role),
          scope,
          description: `${args.prefix} ${access.key}: ${grant}`,
        },
        child,
      );
    }
    if (access.lake !== null) {
      new authorization.RoleAssignment(
        `${label}-lake`,
        {
          principalId: identity.principalId,
          principalType: 'ServicePrincipal',
          roleDefinitionId: lakeRoleId,
          scope: args.lakeContainerId,
          condition: lakeAccessCondition(access.lake),
          conditionVersion: LAKE_CONDITION_VERSION,
          description: `${args.prefix} ${access.key}: the lake, by prefix`,
        },
        child,
      );
    }
    return { identityId: identity.id, clientId: identity.clientId };
  }
}
