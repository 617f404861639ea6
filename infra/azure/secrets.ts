/**
 * Azure secrets: a Key Vault with RBAC authorization (no access policies), purge protection,
 * public network access disabled (jobs use its private endpoint; Pulumi writes secrets through
 * ARM), and one secret per platform secret. Key Vault names allow no `_`, so PII_HASH_KEY is
 * stored as PII-HASH-KEY (see keyVaultSecretName).
 */
import * as keyvault from '@pulumi/azure-native/keyvault/index.js';
import * as pulumi from '@pulumi/pulumi';
import { azureSecretsUrl } from '../adapter-urls.ts';
import type { SecretsArgs, SecretsOutputs } from '../components/secrets.ts';
import { keyVaultSecretName } from '../naming.ts';
import type { AzurePlacement } from './placement.ts';
import { addPrivateEndpoint } from './private-endpoint.ts';

export interface AzureSecretsArgs extends SecretsArgs, AzurePlacement {
  vaultName: string;
  tenantId: string;
  endpointsSubnetId: pulumi.Input<string>;
  vaultDnsZoneId: pulumi.Input<string>;
}

export class AzureSecrets extends pulumi.ComponentResource implements SecretsOutputs {
  readonly secretsUrl: pulumi.Output<string>;
  readonly secretRefs: Record<string, pulumi.Output<string>>;
  readonly vaultId: pulumi.Output<string>;
  readonly vaultUri: pulumi.Output<string>;

  constructor(name: string, args: AzureSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:Secrets', name, {}, opts);
    const child = { parent: this };
    const vault = new keyvault.Vault(
      `${name}-vault`,
      {
        vaultName: args.vaultName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        properties: {
          tenantId: args.tenantId,
          sku: { family: 'A', name: 'standard' },
          enableRbacAuthorization: true,
          enableSoftDelete: true,
          softDeleteRetentionInDays: 30,
          enablePurgeProtection: true,
          publicNetworkAccess: 'Disabled',
          networkAcls: { defaultAction: 'Deny', bypass: 'None' },
        },
        tags: args.tags,
      },
      child,
    );
    this.secretRefs = {};
    for (const entry of args.secrets) {
      const secret = new keyvault.Secret(
        `${name}-${entry.name}`,
        {
          vaultName: vault.name,
          resourceGroupName: args.resourceGroupName,
          secretName: keyVaultSecretName(entry.name),
          properties: { value: pulumi.secret(entry.value), contentType: 'text/plain' },
          tags: args.tags,
        },
        child,
      );
      this.secretRefs[entry.name] = secret.id;
    }
    addPrivateEndpoint(this, {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      name: `${args.prefix}-vault`,
      subnetId: args.endpointsSubnetId,
      resourceId: vault.id,
      groupId: 'vault',
      dnsZoneId: args.vaultDnsZoneId,
      tags: args.tags,
    });
    this.secretsUrl = vault.name.apply((vaultName) => azureSecretsUrl(vaultName));
    this.vaultId = vault.id;
    this.vaultUri = vault.properties.vaultUri;
    this.registerOutputs({ secretsUrl: this.secretsUrl });
  }
}
