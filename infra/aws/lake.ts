/**
 * AWS lake: one S3 bucket, SSE-KMS with a dedicated rotating key, versioned (replays overwrite
 * deterministic keys, so old versions are the undo), all public access blocked, TLS-only by bucket
 * policy, and a lifecycle rule per zone that expires objects after the zone's retention.
 */
import * as kms from '@pulumi/aws/kms/index.js';
import * as s3 from '@pulumi/aws/s3/index.js';
import * as pulumi from '@pulumi/pulumi';
import { s3LakeUrl } from '../adapter-urls.ts';
import type { LakeArgs, LakeOutputs } from '../components/lake.ts';

export class AwsLake extends pulumi.ComponentResource implements LakeOutputs {
  readonly lakeUrl: pulumi.Output<string>;
  readonly storeId: pulumi.Output<string>;
  readonly kmsKeyArn: pulumi.Output<string>;

  constructor(name: string, args: LakeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:aws:Lake', name, {}, opts);
    const child = { parent: this };

    const key = new kms.Key(
      `${name}-key`,
      {
        description: `${args.prefix} lake encryption`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        tags: args.tags,
      },
      child,
    );
    new kms.Alias(`${name}-key`, { name: `alias/${args.prefix}-lake`, targetKeyId: key.keyId }, child);

    const bucket = new s3.Bucket(
      `${name}-bucket`,
      { bucketPrefix: `${args.prefix}-lake-`, forceDestroy: false, tags: args.tags },
      child,
    );
    const block = new s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      child,
    );
    new s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucket.id,
        rules: [
          {
            applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: key.arn },
            bucketKeyEnabled: true,
          },
        ],
      },
      child,
    );
    const versioning = new s3.BucketVersioning(
      `${name}-versioning`,
      {
        bucket: bucket.id,
        versioningConfiguration: { status: 'Enabled' },
      },
      child,
    );
    new s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket: bucket.id,
        rules: [
          ...args.lake.zones.map((zone) => ({
            id: `expire-${zone.name}`,
            status: 'Enabled',
            filter: { prefix: zone.prefix },
            expiration: { days: zone.retentionDays },
            noncurrentVersionExpiration: { noncurrentDays: args.lake.noncurrentVersionDays },
            abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
          })),
        ],
      },
      { parent: this, dependsOn: [versioning] },
    );
    new s3.BucketPolicy(
      `${name}-tls-only`,
      {
        bucket: bucket.id,
        policy: pulumi.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'DenyInsecureTransport',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:*',
              Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        }),
      },
      { parent: this, dependsOn: [block] },
    );

    this.lakeUrl = bucket.bucket.apply((b) => s3LakeUrl(b));
    this.storeId = bucket.arn;
    this.kmsKeyArn = key.arn;
    this.registerOutputs({ lakeUrl: this.lakeUrl });
  }
}
