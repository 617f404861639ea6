/**
 * The workloads' user-assigned managed identities, one per distinct access (azureAccessOf: workloads
 * reading the same settings share one), each with exactly the roles that access needs, each role on
 * one resource: pull from the registry; read/write blobs in the lake account (LAKE_URL); send and
 * receive on the Event Hubs namespace (STREAM_URL); read each Key Vault secret the workload reads,
 * granted on that secret, not the vault. A workload that does not read the stream (the monitor, the
 * batch jobs) can reach neither the namespace nor the Event Hubs connection string.
 */
import * as authorization from '@pulumi/azure-native/authorization/index.js';
import * as managedidentity from '@pulumi/azure-native/managedidentity/index.js';
import * as pulumi from '@pulumi/pulumi';
import { type AzureRole, roleDefinitionId } from '../azure-roles.ts';
import type { WorkloadSpec } from '../spec.ts';
import { type AzureAccess, azureAccessOf } from './access.ts';
import type { AzurePlacement } from './placement.ts';

export interface WorkloadIdentitiesArgs extends AzurePlacement {
  prefix: string;
  subscriptionId: string;
  workloads: WorkloadSpec[];
  lakeAccountId: pulumi.Input<string>;
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
    const created = new Map<string, WorkloadIdentity>();
    for (const workload of args.workloads) {
      const access = azureAccessOf(workload);
      let identity = created.get(access.key);
      if (identity === undefined) {
        identity = this.createIdentity(name, access, args);
        created.set(access.key, identity);
      }
      this.byWorkload[workload.name] = identity;
    }
    this.registerOutputs({});
  }

  private createIdentity(name: string, access: AzureAccess, args: WorkloadIdentitiesArgs): WorkloadIdentity {
    const child = { parent: this };
    const label = `${name}-${access.key}`;
    const identity = new managedidentity.UserAssignedIdentity(
      label,
      {
        resourceName: `${args.prefix}-reads-${access.key}`,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        tags: args.tags,
      },
      child,
    );
    const scopes: Record<AzureAccess['resourceRoles'][number]['on'], pulumi.Input<string>> = {
      lake: args.lakeAccountId,
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
          description: `${args.prefix} workloads reading ${access.key}: ${grant}`,
        },
        child,
      );
    }
    return { identityId: identity.id, clientId: identity.clientId };
  }
}
