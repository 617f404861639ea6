import { describe, expect, it } from 'vitest';
import { PROJECT, parseStackConfig, StackConfigError } from './config.ts';
import { AWS_CONFIG, AZURE_CONFIG, withKey } from './testing/fixtures.ts';

function problemsOf(raw: Record<string, string>): string[] {
  try {
    parseStackConfig(raw, 'test');
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('stack config', () => {
  it('reads the aws stack with defaults for sizes and retention', () => {
    const config = parseStackConfig(AWS_CONFIG, 'aws');
    expect(config.cloud).toBe('aws');
    expect(config.region).toBe('eu-west-1');
    expect(config.lake.rawRetentionDays).toBe(365);
    expect(config.stream).toEqual({ size: 'small', retentionHours: 168, serviceReplicas: 1 });
    expect(config.source.port).toBe(5432);
    expect(config.logRetentionDays).toBe(30);
  });

  it('reads the azure stack with its location', () => {
    const config = parseStackConfig(AZURE_CONFIG, 'azure');
    expect(config.region).toBe('westeurope');
    expect(config.warehouseAdminPassword).toBeDefined();
  });

  it('names a missing required key', () => {
    expect(problemsOf(withKey(AWS_CONFIG, 'owner', undefined))).toContain(`${PROJECT}:owner: required`);
  });

  it('names a misspelt key as unknown', () => {
    expect(problemsOf(withKey(AWS_CONFIG, 'alertEmail', '["a@example.com"]'))).toContain(
      `${PROJECT}:alertEmail: unknown key`,
    );
    const lake = JSON.stringify({ rawRetentionDay: 10 });
    expect(problemsOf(withKey(AWS_CONFIG, 'lake', lake))).toContain(
      `${PROJECT}:lake.rawRetentionDay: unknown key`,
    );
  });

  it('names the nested key of an out-of-range value', () => {
    const stream = JSON.stringify({ retentionHours: 720 });
    const [problem] = problemsOf(withKey(AWS_CONFIG, 'stream', stream));
    expect(problem).toMatch(new RegExp(`^${PROJECT}:stream\\.retentionHours: Too big`));
  });

  it('rejects a mutable image tag', () => {
    expect(problemsOf(withKey(AWS_CONFIG, 'imageTag', 'latest'))[0]).toMatch(/imageTag: .*immutable tags/);
  });

  it('rejects a log retention that one of the clouds cannot keep', () => {
    expect(problemsOf(withKey(AWS_CONFIG, 'logRetentionDays', '45'))[0]).toMatch(
      /logRetentionDays: use one of 30, 60/,
    );
  });

  it('rejects a bad alert contact', () => {
    expect(problemsOf(withKey(AWS_CONFIG, 'alertEmails', '["not-an-email"]'))[0]).toMatch(/alertEmails\.0: /);
  });

  it('rejects a short PII hash key', () => {
    expect(problemsOf(withKey(AWS_CONFIG, 'piiHashKey', 'short'))[0]).toMatch(
      /piiHashKey: use at least 32 characters/,
    );
  });

  it('requires the provider region of the chosen cloud', () => {
    const { 'aws:region': _dropped, ...noRegion } = AWS_CONFIG;
    expect(problemsOf(noRegion)).toContain('aws:region: required for the aws stack');
  });

  it('requires three availability zones in the region on aws', () => {
    const network = JSON.stringify({ availabilityZones: ['us-east-1a', 'us-east-1b'] });
    const threeZones = JSON.stringify({ availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'] });
    expect(problemsOf(withKey(AWS_CONFIG, 'network', threeZones))).toContain(
      `${PROJECT}:network.availabilityZones: every zone must be in eu-west-1`,
    );
    expect(problemsOf(withKey(AWS_CONFIG, 'network', '{}'))[0]).toMatch(
      /availabilityZones: name 3 zones on aws/,
    );
    expect(problemsOf(withKey(AWS_CONFIG, 'network', network))[0]).toMatch(/name 3 zones/);
  });

  it('requires the warehouse admin password on azure and refuses it on aws', () => {
    expect(problemsOf(withKey(AZURE_CONFIG, 'warehouseAdminPassword', undefined))[0]).toMatch(
      /warehouseAdminPassword: required on azure/,
    );
    expect(problemsOf(withKey(AWS_CONFIG, 'warehouseAdminPassword', 'x'.repeat(20)))[0]).toMatch(
      /not used on aws/,
    );
  });

  it('reports every problem at once', () => {
    const raw = withKey(withKey(AWS_CONFIG, 'owner', undefined), 'cloud', 'gcp');
    expect(problemsOf(raw).length).toBeGreaterThanOrEqual(2);
  });
});
