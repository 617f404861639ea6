/** The program as Pulumi enters it: index.ts reads the stack config and the stack name picks the cloud. */
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { AWS_CONFIG, AWS_STACK, AZURE_CONFIG, AZURE_STACK, withKey } from './testing/fixtures.ts';
import { resolved, startMockCloud } from './testing/mock-cloud.ts';

const cloud = await startMockCloud(AWS_STACK);
pulumi.runtime.setAllConfig(AWS_CONFIG);
const entry = await import('./index.ts');
const { runPlatform } = await import('./platform.ts');

describe('program entry', () => {
  it('exports the adapter settings and the image from index.ts for the cloud the stack name names', async () => {
    expect(await resolved(entry.LAKE_URL)).toMatch(/^s3:\/\/ecomm-test-/);
    expect(await resolved(entry.STREAM_URL)).toMatch(/^kafka:\/\/.*auth=msk-iam/);
    expect(await resolved(entry.WAREHOUSE_URL)).toMatch(/^redshift:\/\//);
    expect(await resolved(entry.SOURCE_URL)).toMatch(/^postgres:\/\//);
    expect(await resolved(entry.SECRETS_URL)).toBe('aws-secretsmanager://eu-west-1?prefix=ecomm-test/');
    expect(await resolved(entry.imageRef)).toMatch(/ecomm-data-platform:2025\.01\.0$/);
  });

  it('runs the Azure program for an azure-<environment> stack', async () => {
    const outputs = await runPlatform(AZURE_CONFIG, AZURE_STACK);
    expect(await resolved(outputs.SECRETS_URL)).toMatch(/^azure-keyvault:\/\/ecomm-test-/);
    expect(await resolved(outputs.LAKE_URL)).toMatch(/^az:\/\//);
  });

  it('fills what the stack leaves out from its cloud’s shared file (Pulumi.aws.yaml)', async () => {
    await cloud.settle();
    cloud.reset();
    expect(AWS_CONFIG['ecomm-data-platform:costCenter']).not.toBe('analytics');
    await runPlatform(withKey(AWS_CONFIG, 'costCenter', undefined), AWS_STACK);
    await cloud.settle();
    const [bucket] = cloud.ofType('aws:s3/bucket:Bucket');
    expect(bucket?.inputs.tags).toMatchObject({ 'cost-center': 'analytics' });
  });

  it('stops on invalid config before creating anything', async () => {
    await cloud.settle();
    cloud.reset();
    await expect(runPlatform(withKey(AWS_CONFIG, 'imageTag', undefined), AWS_STACK)).rejects.toThrow(
      /ecomm-data-platform:imageTag: required/,
    );
    await expect(runPlatform(AWS_CONFIG, 'aws')).rejects.toThrow(
      /stack "aws": name stacks <cloud>-<environment>/,
    );
    expect(cloud.resources).toEqual([]);
  });
});
