/**
 * What a workload's managed identity may reach on Azure, derived from its platform settings the way
 * the AWS task roles are (aws/job-task.ts): the lake account for LAKE_URL, the Event Hubs namespace
 * and the Event Hubs connection-string secret for STREAM_URL, and only the Key Vault secrets the
 * workload reads. Workloads that read the same settings share one identity.
 */
import { EVENTHUBS_CONNECTION_ENV } from '../adapter-urls.ts';
import type { AzureRole } from '../azure-roles.ts';
import { readsStream, type WorkloadSpec } from '../spec.ts';

export interface AzureAccess {
  /** Stable identity key: the settings its workloads read (`lake-secrets-warehouse`). */
  key: string;
  /** Roles on whole resources (Key Vault secrets are granted one by one, see `secrets`). */
  resourceRoles: { role: AzureRole; on: 'lake' | 'stream' | 'registry' }[];
  /** Platform secret names the identity may read (Key Vault Secrets User on each secret only). */
  secrets: string[];
}

/**
 * Secrets a workload gets as environment variables: the Event Hubs connection string, which the
 * Kafka adapter reads for auth=eventhubs, as a Container Apps Key Vault reference read with the
 * workload's identity (never a plain value). Everything else is read through SECRETS_URL.
 */
export function injectedSecrets(workload: WorkloadSpec): string[] {
  return readsStream(workload) ? [EVENTHUBS_CONNECTION_ENV] : [];
}

export function azureAccessOf(workload: WorkloadSpec): AzureAccess {
  const settings = [...workload.settings].sort();
  const key =
    settings.length === 0
      ? 'nothing'
      : settings.map((setting) => setting.replace(/_URL$/, '').toLowerCase()).join('-');
  const resourceRoles: AzureAccess['resourceRoles'] = [{ role: 'acrPull', on: 'registry' }];
  if (settings.includes('LAKE_URL')) resourceRoles.push({ role: 'storageBlobDataContributor', on: 'lake' });
  if (readsStream(workload)) {
    resourceRoles.push({ role: 'eventHubsDataSender', on: 'stream' });
    resourceRoles.push({ role: 'eventHubsDataReceiver', on: 'stream' });
  }
  const secrets = [...new Set([...workload.secrets, ...injectedSecrets(workload)])].sort();
  return { key, resourceRoles, secrets };
}
