/** The program as Pulumi enters it: index.ts reads the stack config and picks the cloud. */
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { AWS_CONFIG, AZURE_CONFIG, withKey } from './testing/fixtures.ts';
import { resolved, startMockCloud } from './testing/mock-cloud.ts';

const cloud = await startMockCloud();
pulumi.runtime.setAllConfig(AWS_CONFIG);
const entry = await import('./index.ts');
const { runPlatform } = await import('./platform.ts');

describe('program entry', () => {
  it('exports the adapter settings and the image from index.ts for the cloud the stack config names', async () => {
    expect(await resolved(entry.LAKE_URL)).toMatch(/^s3:\/\//);
    expect(await resolved(entry.STREAM_URL)).toMatch(/^kafka:\/\/.*auth=msk-iam/);
    expect(await resolved(entry.WAREHOUSE_URL)).toMatch(/^redshift:\/\//);
    expect(await resolved(entry.SOURCE_URL)).toMatch(/^postgres:\/\//);
    expect(await resolved(entry.SECRETS_URL)).toBe('aws-secretsmanager://eu-west-1');
    expect(await resolved(entry.imageRef)).toMatch(/ecomm-data-platform:2025\.01\.0$/);
  });

  it('runs the Azure program when the stack config says azure', async () => {
    const outputs = await runPlatform(AZURE_CONFIG, 'azure');
    expect(await resolved(outputs.SECRETS_URL)).toMatch(/^azure-keyvault:\/\//);
    expect(await resolved(outputs.LAKE_URL)).toMatch(/^az:\/\//);
  });

  it('stops on invalid config before creating anything', async () => {
    await cloud.settle();
    cloud.reset();
    await expect(runPlatform(withKey(AWS_CONFIG, 'owner', undefined), 'aws')).rejects.toThrow(
      /ecomm-data-platform:owner: required/,
    );
    expect(cloud.resources).toEqual([]);
  });
});
