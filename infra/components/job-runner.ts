/** Job runner capability: every catalog job as a scheduled or on-demand run, and the services. */
import type * as pulumi from '@pulumi/pulumi';
import type { PlatformSetting } from '../adapter-urls.ts';
import type { ServiceSpec, WorkloadSpec } from '../spec.ts';

export interface JobRunnerArgs {
  prefix: string;
  jobs: WorkloadSpec[];
  services: ServiceSpec[];
  imageRef: pulumi.Output<string>;
  /** Values of the platform settings; each workload gets the ones its catalog entry names. */
  settings: Record<PlatformSetting, pulumi.Output<string>>;
  logRetentionDays: number;
  tags: Record<string, string>;
}

export interface JobRunnerOutputs {
  /** Per job: what starts a run (Step Functions state machine ARN or Container Apps Job ID). */
  readonly jobRefs: Record<string, pulumi.Output<string>>;
  /** Per service: ECS service name or Container App ID. */
  readonly serviceRefs: Record<string, pulumi.Output<string>>;
}

/** The environment a workload gets: its platform settings plus its job-specific variables. */
export function workloadEnvironment(
  workload: WorkloadSpec,
  settings: Record<PlatformSetting, pulumi.Output<string>>,
): { name: string; value: pulumi.Input<string> }[] {
  return [
    ...workload.settings.map((name) => ({ name, value: settings[name] })),
    ...Object.entries(workload.environment).map(([name, value]) => ({ name, value })),
  ];
}
