/** The committed Pulumi project and stack files are valid for the program as written. */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROJECT } from './config.ts';
import { buildPlatformSpec } from './spec.ts';
import { PROJECT_ROOT, readProjectYaml, readStackFileConfig } from './stack-files.ts';
import { CLOUDS, cloudDefaultsFileName, parseStackName, stackFileName } from './stack-name.ts';
import { committedConfig } from './testing/stacks.ts';

const SHARED_FILES = CLOUDS.map(cloudDefaultsFileName);
/** Every committed stack: each Pulumi.<stack>.yaml that is not a cloud's shared file. */
const STACKS = readdirSync(PROJECT_ROOT)
  .filter((file) => /^Pulumi\..+\.yaml$/.test(file) && !SHARED_FILES.includes(file))
  .map((file) => file.slice('Pulumi.'.length, -'.yaml'.length));

describe('Pulumi project and stack files', () => {
  it('runs infra/index.ts on Node without ts-node', () => {
    expect(readProjectYaml('Pulumi.yaml')).toMatchObject({
      name: PROJECT,
      main: 'infra/index.ts',
      runtime: { name: 'nodejs', options: { typescript: false } },
    });
  });

  it('commits a prod stack per cloud, named <cloud>-<environment>', () => {
    expect(STACKS.sort()).toEqual(expect.arrayContaining(['aws-prod', 'azure-prod']));
    for (const stack of STACKS) expect(() => parseStackName(stack), stack).not.toThrow();
  });

  it('gives every committed stack a valid config once its secrets are set', () => {
    for (const stack of STACKS) {
      const config = committedConfig(stack);
      expect(config, stack).toMatchObject(parseStackName(stack));
      expect(buildPlatformSpec(config).jobs.length, stack).toBeGreaterThan(0);
    }
    expect(committedConfig('aws-prod')).toMatchObject({ region: 'eu-west-1', environment: 'prod' });
    expect(committedConfig('azure-prod')).toMatchObject({ region: 'westeurope', environment: 'prod' });
  });

  it('keeps the shared files out of reach of Pulumi and of providers', () => {
    for (const file of SHARED_FILES) {
      // No stack can be named after a shared file, so Pulumi never deploys one as a stack.
      expect(() => parseStackName(file.slice('Pulumi.'.length, -'.yaml'.length)), file).toThrow();
      const keys = Object.keys(readStackFileConfig(file));
      expect(keys.length, file).toBeGreaterThan(0);
      expect(
        keys.filter((key) => !key.startsWith(`${PROJECT}:`)),
        file,
      ).toEqual([]);
    }
  });

  it('sizes and retains both prod stacks alike', () => {
    const aws = committedConfig('aws-prod');
    const azure = committedConfig('azure-prod');
    for (const key of [
      'lake',
      'stream',
      'warehouse',
      'source',
      'logRetentionDays',
      'imageTag',
      'alertEmails',
    ] as const) {
      expect(azure[key], key).toEqual(aws[key]);
    }
  });

  it('keeps secrets out of the committed stack and shared files', () => {
    for (const file of [...SHARED_FILES, ...STACKS.map(stackFileName)]) {
      const keys = Object.keys(readStackFileConfig(file));
      expect(
        keys.filter((k) => /password|hashkey|secret/i.test(k)),
        file,
      ).toEqual([]);
    }
  });
});
