/** Job runner capability: every catalog job as a scheduled or on-demand run, and the services. */
import * as pulumi from '@pulumi/pulumi';
import type { PlatformSetting, PlatformSettingValues, SourceSetting } from '../adapter-urls.ts';
import type { ExternalSourceSpec, ServiceSpec, WorkloadSpec } from '../spec.ts';
import { loginSecretName } from '../warehouse-logins.ts';

export interface JobRunnerArgs {
  prefix: string;
  jobs: WorkloadSpec[];
  services: ServiceSpec[];
  imageRef: pulumi.Output<string>;
  /** Values of the platform settings; each workload gets the ones its catalog entry names. */
  settings: PlatformSettingValues<pulumi.Output<string>>;
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
  settings: PlatformSettingValues<pulumi.Output<string>>,
  warehouseUrlFor: WarehouseUrlFor,
): { name: string; value: pulumi.Input<string> }[] {
  const settingValue = (name: PlatformSetting): pulumi.Input<string> => {
    if (name === 'WAREHOUSE_URL' && workload.warehouseLogin !== null)
      return warehouseUrlFor(workload.warehouseLogin, loginSecretName(workload.warehouseLogin));
    const value = settings[name];
    // The spec hands a workload a source's setting only when the stack configures the source.
    if (value === undefined)
      throw new Error(`${workload.name} reads ${name}, which the stack does not configure`);
    return value;
  };
  return [
    ...workload.settings.map((name) => ({ name, value: settingValue(name) })),
    ...Object.entries(workload.environment).map(([name, value]) => ({ name, value })),
  ];
}

/** The configured further sources' settings: URLs from stack config alone, naming their secrets. */
export function sourceSettings(
  sources: readonly ExternalSourceSpec[],
): Partial<Record<SourceSetting, pulumi.Output<string>>> {
  return Object.fromEntries(sources.map((source) => [source.setting, pulumi.output(source.url)]));
}
