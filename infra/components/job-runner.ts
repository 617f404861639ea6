/** Job runner capability: every catalog job as a scheduled or on-demand run, and the services. */
import type * as pulumi from '@pulumi/pulumi';
import type { PlatformSetting } from '../adapter-urls.ts';
import type { ServiceSpec, WorkloadSpec } from '../spec.ts';
import { loginSecretName } from '../warehouse-logins.ts';

export interface JobRunnerArgs {
  prefix: string;
  jobs: WorkloadSpec[];
  services: ServiceSpec[];
  imageRef: pulumi.Output<string>;
  /** Values of the platform settings; each workload gets the ones its catalog entry names. */
  settings: Record<PlatformSetting, pulumi.Output<string>>;
  /** A workload's own WAREHOUSE_URL: its login, and the secret holding that login's password. */
  warehouseUrlFor: WarehouseUrlFor;
  logRetentionDays: number;
  tags: Record<string, string>;
}

export interface JobRunnerOutputs {
  /** Per job: what starts a run (Step Functions state machine ARN or Container Apps Job ID). */
  readonly jobRefs: Record<string, pulumi.Output<string>>;
  /** Per service: ECS service name or Container App ID. */
  readonly serviceRefs: Record<string, pulumi.Output<string>>;
}

export type WarehouseUrlFor = (login: string, passwordSecret: string) => pulumi.Output<string>;

/**
 * The environment a workload gets: its platform settings plus its job-specific variables. Its WAREHOUSE_URL names
 * its own login (never the admin) and that login's password secret.
 */
export function workloadEnvironment(
  workload: WorkloadSpec,
  settings: Record<PlatformSetting, pulumi.Output<string>>,
  warehouseUrlFor: WarehouseUrlFor,
): { name: string; value: pulumi.Input<string> }[] {
  const settingValue = (name: PlatformSetting): pulumi.Input<string> =>
    name === 'WAREHOUSE_URL' && workload.warehouseLogin !== null
      ? warehouseUrlFor(workload.warehouseLogin, loginSecretName(workload.warehouseLogin))
      : settings[name];
  return [
    ...workload.settings.map((name) => ({ name, value: settingValue(name) })),
    ...Object.entries(workload.environment).map(([name, value]) => ({ name, value })),
  ];
}
