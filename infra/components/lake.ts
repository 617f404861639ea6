/** Lake capability: one bucket/container whose top-level prefixes are the zones (raw/, staging/, quarantine/). */
import type * as pulumi from '@pulumi/pulumi';
import type { PlatformSpec } from '../spec.ts';

export interface LakeArgs {
  prefix: string;
  lake: PlatformSpec['lake'];
  tags: Record<string, string>;
}

export interface LakeOutputs {
  /** LAKE_URL: `s3://bucket` or `az://account/container`. */
  readonly lakeUrl: pulumi.Output<string>;
  /** The resource jobs are granted access to: bucket ARN or storage account ID. */
  readonly storeId: pulumi.Output<string>;
}
