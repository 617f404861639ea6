import { describe, expect, it } from 'vitest';
import { PROJECT, parseStackConfig, StackConfigError, type StackConfigSources } from './config.ts';
import {
  AWS_CONFIG,
  AWS_STACK,
  AZURE_CONFIG,
  AZURE_STACK,
  SOURCES_CONFIG,
  withKey,
} from './testing/fixtures.ts';

function problemsOf(
  raw: Record<string, string>,
  stack = AWS_STACK,
  sources: StackConfigSources = {},
): string[] {
  try {
    parseStackConfig(raw, stack, sources);
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('stack config', () => {
  it('reads the aws stack with defaults for sizes and retention', () => {
    const config = parseStackConfig(AWS_CONFIG, AWS_STACK);
    expect(config.cloud).toBe('aws');
    expect(config.environment).toBe('test');
    expect(config.region).toBe('eu-west-1');
    expect(config.lake.rawRetentionDays).toBe(365);
    expect(config.stream).toEqual({ size: 'small', retentionHours: 168, serviceReplicas: 1 });
    expect(config.source.port).toBe(5432);
    expect(config.logRetentionDays).toBe(30);
  });

  it('reads the azure stack with its location', () => {
    const config = parseStackConfig(AZURE_CONFIG, AZURE_STACK);
    expect(config.region).toBe('westeurope');
    expect(config.warehouseAdminPassword).toBeDefined();
  });

  it('takes each further source as optional, its credential required with it and refused without it', () => {
    expect(parseStackConfig(AWS_CONFIG, AWS_STACK).crmSource).toBeUndefined();
    const configured = parseStackConfig({ ...AWS_CONFIG, ...SOURCES_CONFIG }, AWS_STACK);
    expect(configured.crmSource).toEqual({
      host: 'api.hubapi.com',
      egress: { cidrs: ['104.16.0.0/13', '172.64.0.0/13'] },
    });
    expect(configured.fxSource).toMatchObject({
      host: 'openexchangerates.org',
      path: '/api',
      start: '2024-01-01',
    });
    expect(problemsOf(withKey({ ...AWS_CONFIG, ...SOURCES_CONFIG }, 'crmSourceToken', undefined))).toEqual([
      `${PROJECT}:crmSourceToken: required with crmSource (pulumi config set --secret ${PROJECT}:crmSourceToken …)`,
    ]);
    expect(problemsOf(withKey(AWS_CONFIG, 'fxSourceApiKey', 'key'))).toEqual([
      `${PROJECT}:fxSourceApiKey: set, but fxSource is not configured; remove it`,
    ]);
    expect(
      problemsOf(
        withKey(
          AWS_CONFIG,
          'crmSource',
          JSON.stringify({ host: 'https://api.hubapi.com', egress: { cidrs: [] } }),
        ),
      ),
    ).toEqual([
      `${PROJECT}:crmSource.host: a DNS name without scheme, port or path`,
      `${PROJECT}:crmSource.egress.cidrs: list the ranges the source answers from`,
    ]);
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

  it('requires a warehouse login key of at least 32 characters on both clouds', () => {
    expect(problemsOf(withKey(AWS_CONFIG, 'warehouseLoginKey', 'short'))[0]).toMatch(
      /warehouseLoginKey: use at least 32 characters/,
    );
    expect(problemsOf(withKey(AZURE_CONFIG, 'warehouseLoginKey', undefined), AZURE_STACK)).toContain(
      'ecomm-data-platform:warehouseLoginKey: required',
    );
  });

  it('takes the OLTP source range as a CIDR, naming the key when it is not one', () => {
    const source = (cidr: string) =>
      withKey(AWS_CONFIG, 'source', JSON.stringify({ host: 'h', database: 'd', user: 'u', cidr }));
    expect(parseStackConfig(source('192.168.10.0/24'), AWS_STACK).source.cidr).toBe('192.168.10.0/24');
    expect(problemsOf(source('oltp.internal'))[0]).toMatch(/^ecomm-data-platform:source\.cidr: /);
  });

  it('requires the provider region of the chosen cloud', () => {
    const { 'aws:region': _dropped, ...noRegion } = AWS_CONFIG;
    expect(problemsOf(noRegion)).toContain(
      'aws:region: required for the aws stack (in Pulumi.aws-test.yaml)',
    );
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
    expect(problemsOf(withKey(AZURE_CONFIG, 'warehouseAdminPassword', undefined), AZURE_STACK)[0]).toMatch(
      /warehouseAdminPassword: required on azure/,
    );
    expect(problemsOf(withKey(AWS_CONFIG, 'warehouseAdminPassword', 'x'.repeat(20)))[0]).toMatch(
      /not used on aws/,
    );
  });

  it('reports every problem at once', () => {
    const raw = withKey(withKey(AWS_CONFIG, 'owner', undefined), 'logRetentionDays', '45');
    expect(problemsOf(raw).length).toBeGreaterThanOrEqual(2);
  });

  describe('stack names', () => {
    it('takes the cloud and the environment from <cloud>-<environment>', () => {
      expect(parseStackConfig(AWS_CONFIG, 'aws-staging')).toMatchObject({
        cloud: 'aws',
        environment: 'staging',
        stack: 'aws-staging',
      });
      expect(parseStackConfig(AZURE_CONFIG, 'azure-prod')).toMatchObject({
        cloud: 'azure',
        environment: 'prod',
      });
    });

    it('refuses a stack name that fits neither cloud or has no valid environment, saying how to name it', () => {
      for (const stack of [
        'aws',
        'azure',
        'gcp-prod',
        'prod',
        'aws-Prod',
        'aws-p',
        'aws-production',
        'aws-pr-od',
      ]) {
        expect(problemsOf(AWS_CONFIG, stack), stack).toEqual([
          `stack "${stack}": name stacks <cloud>-<environment>, the cloud aws or azure and the environment 2-8 lowercase letters or digits starting with a letter (aws-prod, azure-staging); see docs/deploy.md`,
        ]);
      }
    });

    it('refuses cloud and environment settings, which the stack name decides', () => {
      expect(problemsOf(withKey(withKey(AWS_CONFIG, 'cloud', 'azure'), 'environment', 'prod'))).toEqual([
        `${PROJECT}:cloud: comes from the stack name (aws-test: cloud aws, environment test); remove it`,
        `${PROJECT}:environment: comes from the stack name (aws-test: cloud aws, environment test); remove it`,
      ]);
    });
  });

  describe("the cloud's shared settings", () => {
    const shared = (config: Record<string, string>): StackConfigSources => ({ cloudDefaults: () => config });
    const stream = (value: object) => ({ [`${PROJECT}:stream`]: JSON.stringify(value) });

    it('fills what the stack does not set, and the stack wins key by key inside objects', () => {
      const sources = shared({
        ...stream({ size: 'medium', retentionHours: 72 }),
        [`${PROJECT}:logRetentionDays`]: '90',
        [`${PROJECT}:owner`]: 'platform-team',
      });
      const raw = {
        ...withKey(AWS_CONFIG, 'logRetentionDays', undefined),
        ...stream({ retentionHours: 24 }),
      };
      expect(parseStackConfig(raw, AWS_STACK, sources)).toMatchObject({
        stream: { size: 'medium', retentionHours: 24, serviceReplicas: 1 },
        logRetentionDays: 90,
        owner: 'data-engineering',
      });
    });

    it('asks each stack for the shared settings of its own cloud', () => {
      const asked: string[] = [];
      const sources = {
        cloudDefaults: (cloud: string) => {
          asked.push(cloud);
          return {};
        },
      };
      parseStackConfig(AWS_CONFIG, 'aws-prod', sources);
      parseStackConfig(AZURE_CONFIG, 'azure-staging', sources);
      expect(asked).toEqual(['aws', 'azure']);
    });

    it('names the key of a bad shared value', () => {
      expect(problemsOf(AWS_CONFIG, AWS_STACK, shared(stream({ retentionHours: 720 })))).toEqual([
        `${PROJECT}:stream.retentionHours: Too big: expected number to be <=168`,
      ]);
      const raw = withKey(AWS_CONFIG, 'lake', undefined);
      const lake = { [`${PROJECT}:lake`]: JSON.stringify({ rawRetentionDays: 0 }) };
      expect(problemsOf(raw, AWS_STACK, shared(lake))[0]).toMatch(
        new RegExp(`^${PROJECT}:lake\\.rawRetentionDays: Too small`),
      );
      expect(problemsOf(raw, AWS_STACK, shared({ [`${PROJECT}:lake`]: '{"rawRetentionDay":1}' }))).toContain(
        `${PROJECT}:lake.rawRetentionDay: unknown key`,
      );
    });

    it('refuses provider settings and secrets in the shared file', () => {
      expect(problemsOf(AWS_CONFIG, 'aws-prod', shared({ 'aws:region': 'us-east-1' }))).toContain(
        'aws:region: set in Pulumi.aws.yaml, which providers never read; set it in Pulumi.aws-prod.yaml',
      );
      const secret = { [`${PROJECT}:piiHashKey`]: JSON.stringify({ secure: 'v1:abc' }) };
      expect(problemsOf(AWS_CONFIG, AWS_STACK, shared(secret))).toContain(
        `${PROJECT}:piiHashKey: a secret cannot be shared through Pulumi.aws.yaml; set it per stack with pulumi config set --secret`,
      );
    });
  });
});
