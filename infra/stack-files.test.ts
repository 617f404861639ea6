/** The committed Pulumi project and stack files are valid for the program as written. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { PROJECT, parseStackConfig } from './config.ts';
import { buildPlatformSpec } from './spec.ts';

// js-yaml ships with @pulumi/pulumi (its own config loader); no extra dependency needed.
const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };
const root = new URL('../', import.meta.url);

function load(file: string): Record<string, unknown> {
  return yaml.load(readFileSync(new URL(file, root), 'utf8')) as Record<string, unknown>;
}

/** The config map Pulumi hands the program: objects and arrays as JSON, scalars as strings. */
function asPulumiConfig(file: string, secrets: Record<string, string>): Record<string, string> {
  const config = (load(file).config ?? {}) as Record<string, unknown>;
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(config))
    raw[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  for (const [key, value] of Object.entries(secrets)) raw[`${PROJECT}:${key}`] = value;
  return raw;
}

const secrets = { piiHashKey: 'x'.repeat(48), sourcePassword: 'pw' };

describe('Pulumi project and stack files', () => {
  it('runs infra/index.ts on Node without ts-node', () => {
    const project = load('Pulumi.yaml');
    expect(project).toMatchObject({
      name: PROJECT,
      main: 'infra/index.ts',
      runtime: { name: 'nodejs', options: { typescript: false } },
    });
  });

  it('gives the aws stack a valid config once its secrets are set', () => {
    const config = parseStackConfig(asPulumiConfig('Pulumi.aws.yaml', secrets), 'aws');
    expect(config).toMatchObject({ cloud: 'aws', region: 'eu-west-1' });
    expect(buildPlatformSpec(config).jobs.length).toBeGreaterThan(0);
  });

  it('gives the azure stack a valid config once its secrets are set', () => {
    const config = parseStackConfig(
      asPulumiConfig('Pulumi.azure.yaml', { ...secrets, warehouseAdminPassword: 'y'.repeat(24) }),
      'azure',
    );
    expect(config).toMatchObject({ cloud: 'azure', region: 'westeurope' });
  });

  it('sizes and retains both stacks alike', () => {
    const aws = load('Pulumi.aws.yaml').config as Record<string, unknown>;
    const azure = load('Pulumi.azure.yaml').config as Record<string, unknown>;
    for (const key of [
      'lake',
      'stream',
      'warehouse',
      'source',
      'logRetentionDays',
      'imageTag',
      'alertEmails',
    ]) {
      expect(azure[`${PROJECT}:${key}`], key).toEqual(aws[`${PROJECT}:${key}`]);
    }
  });

  it('keeps secrets out of the committed stack files', () => {
    for (const file of ['Pulumi.aws.yaml', 'Pulumi.azure.yaml']) {
      const keys = Object.keys((load(file).config ?? {}) as Record<string, unknown>);
      expect(
        keys.filter((k) => /password|hashkey|secret/i.test(k)),
        file,
      ).toEqual([]);
    }
  });
});
