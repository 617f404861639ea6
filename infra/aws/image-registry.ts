/** AWS image registry: an ECR repository with immutable tags, scan on push and a cap on old images. */
import * as ecr from '@pulumi/aws/ecr/index.js';
import * as pulumi from '@pulumi/pulumi';
import type { ImageRegistryArgs, ImageRegistryOutputs } from '../components/image-registry.ts';

export class AwsImageRegistry extends pulumi.ComponentResource implements ImageRegistryOutputs {
  readonly imageRef: pulumi.Output<string>;
  readonly registryId: pulumi.Output<string>;

  constructor(name: string, args: ImageRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:aws:ImageRegistry', name, {}, opts);
    const repository = new ecr.Repository(
      `${name}-repository`,
      {
        name: `${args.prefix}/${args.image.repository}`,
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: 'AES256' }],
        tags: args.tags,
      },
      { parent: this },
    );
    new ecr.LifecyclePolicy(
      `${name}-keep-recent`,
      {
        repository: repository.name,
        policy: JSON.stringify({
          rules: [
            {
              rulePriority: 1,
              description: 'Keep the 30 most recent images (rollbacks), expire older ones',
              selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 30 },
              action: { type: 'expire' },
            },
          ],
        }),
      },
      { parent: this },
    );
    this.imageRef = pulumi.interpolate`${repository.repositoryUrl}:${args.image.tag}`;
    this.registryId = repository.arn;
    this.registerOutputs({ imageRef: this.imageRef });
  }
}
