/** Image registry capability: where the one image holding every job is pushed (ECR or ACR). */
import type * as pulumi from '@pulumi/pulumi';
import type { PlatformSpec } from '../spec.ts';

export interface ImageRegistryArgs {
  prefix: string;
  image: PlatformSpec['image'];
  tags: Record<string, string>;
}

export interface ImageRegistryOutputs {
  /** `<registry>/<repository>:<tag>`: the image every job and service runs. */
  readonly imageRef: pulumi.Output<string>;
  /** The resource pull rights are granted on: ECR repository ARN or ACR ID. */
  readonly registryId: pulumi.Output<string>;
}
