/**
 * What a workload's managed identity may reach on Azure, derived from its spec the way the AWS task
 * roles are (aws/job-task.ts): the lake container under the prefixes its catalog `lake` names, the
 * Event Hubs namespace for STREAM_URL, and only the Key Vault secrets the workload reads (its own
 * warehouse login's among them). Every workload has an identity of its own.
 */
import type { LakeAccess } from '../../jobs/catalog.ts';
import type { AzureRole } from '../azure-roles.ts';
import { readsStream, type WorkloadSpec } from '../spec.ts';

export interface AzureAccess {
  /** Stable identity key: the workload's name. */
  key: string;
  /** Roles on whole resources (Key Vault secrets are granted one by one, see `secrets`; the lake by prefix, `lake`). */
  resourceRoles: { role: AzureRole; on: 'stream' | 'registry' }[];
  /** Platform secret names the identity may read (Key Vault Secrets User on each secret only). */
  secrets: string[];
  /** The lake prefixes it reads, writes and deletes under; null for none. */
  lake: LakeAccess | null;
}

export function azureAccessOf(workload: WorkloadSpec): AzureAccess {
  const resourceRoles: AzureAccess['resourceRoles'] = [{ role: 'acrPull', on: 'registry' }];
  if (readsStream(workload)) {
    resourceRoles.push({ role: 'eventHubsDataSender', on: 'stream' });
    resourceRoles.push({ role: 'eventHubsDataReceiver', on: 'stream' });
  } else if (workload.stream === 'describe') {
    // Event Hubs has no describe-only data role: Receiver is the least that reads offsets and settings, and sends nothing.
    resourceRoles.push({ role: 'eventHubsDataReceiver', on: 'stream' });
  }
  const secrets = [...workload.secrets].sort();
  return { key: workload.name, resourceRoles, secrets, lake: workload.lake };
}
