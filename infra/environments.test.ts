/**
 * Environments side by side: the committed prod stacks and a staging stack of each cloud (its own
 * file a copy of prod's) build under the mocks with names and tags of their own, so two environments
 * can share an account or subscription without one stack's resources taking the other's names.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type RecordedResource, startMockCloud } from './testing/mock-cloud.ts';
import type { DeployedStack } from './testing/stacks.ts';

const cloud = await startMockCloud();
const { committedConfig, deploy } = await import('./testing/stacks.ts');
const { buildPlatformSpec } = await import('./spec.ts');
const { azureNameKey } = await import('./testing/mock-cloud.ts');

/** Each stack, and the stack file its settings come from. */
const STACKS = {
  'aws-prod': 'Pulumi.aws-prod.yaml',
  'aws-staging': 'Pulumi.aws-prod.yaml',
  'azure-prod': 'Pulumi.azure-prod.yaml',
  'azure-staging': 'Pulumi.azure-prod.yaml',
} as const;
type StackName = keyof typeof STACKS;

/** Resource names that live inside a resource named after the environment, so they may repeat across environments. */
const SCOPED_NAMES: Record<string, string> = {
  'aws:ecs/service:Service': 'the ECS cluster ecomm-<env>',
  'aws:msk/topic:Topic': 'the MSK cluster ecomm-<env>',
  'aws:scheduler/schedule:Schedule': 'the schedule group ecomm-<env>',
  'azure-native:dbforpostgresql:Configuration': 'the PostgreSQL server',
  'azure-native:dbforpostgresql:Database': 'the PostgreSQL server',
  'azure-native:eventhub:EventHub': 'the Event Hubs namespace',
  'azure-native:eventhub:ConsumerGroup': 'the event hub',
  'azure-native:keyvault:Secret': 'the Key Vault',
  'azure-native:network:PrivateDnsZoneGroup': 'the private endpoint',
  'azure-native:privatedns:PrivateZone': 'the resource group ecomm-<env>-rg',
  'azure-native:privatedns:VirtualNetworkLink': 'the private DNS zone',
  'azure-native:storage:BlobContainer': 'the storage account',
  'azure-native:storage:BlobServiceProperties': 'the storage account',
  'azure-native:storage:ManagementPolicy': 'the storage account',
};

/** The input an AWS resource's own name is in, where it is not `name`. */
const AWS_NAME_KEYS: Record<string, string> = {
  'aws:msk/cluster:Cluster': 'clusterName',
  'aws:redshiftserverless/namespace:Namespace': 'namespaceName',
  'aws:redshiftserverless/workgroup:Workgroup': 'workgroupName',
  'aws:ecs/taskDefinition:TaskDefinition': 'family',
  'aws:s3/bucket:Bucket': 'bucketPrefix',
};

/** The name the resource gets in the cloud, where the program sets one (others are named by Pulumi after the logical name). */
function cloudName(resource: RecordedResource): string | undefined {
  const [provider, module = '', kind = ''] = resource.type.split(':');
  const key = provider === 'azure-native' ? azureNameKey(kind) : (AWS_NAME_KEYS[resource.type] ?? 'name');
  const value = resource.inputs[key];
  return module !== '' && typeof value === 'string' ? value : undefined;
}

/** `ecomm-prod-lake`, `alias/ecomm-prod-lake`, `/ecomm/ecomm-prod/msk`, `ecommprodlake…` (no dashes allowed). */
function carriesEnvironment(name: string, environment: string): boolean {
  return new RegExp(`(^|/)ecomm-${environment}([-/]|$)`).test(name) || name.startsWith(`ecomm${environment}`);
}

const environmentOf = (stack: StackName) => stack.split('-')[1] as string;

describe('environments', () => {
  const deployed = {} as Record<StackName, DeployedStack>;
  beforeAll(async () => {
    for (const [stack, file] of Object.entries(STACKS) as [StackName, string][])
      deployed[stack] = await deploy(cloud, buildPlatformSpec(committedConfig(stack, file)));
  });

  it('names every resource of a stack after its environment', () => {
    for (const stack of Object.keys(STACKS) as StackName[]) {
      const prefix = `ecomm-${environmentOf(stack)}`;
      expect(deployed[stack].spec).toMatchObject({ stack, environment: environmentOf(stack), prefix });
      const strays = deployed[stack].resources
        .filter((r) => r.type !== 'pulumi:pulumi:Stack')
        .filter((r) => r.name !== prefix && !r.name.startsWith(`${prefix}-`));
      expect(
        strays.map((r) => `${r.type} ${r.name}`),
        stack,
      ).toEqual([]);
    }
  });

  it('tags every tagged resource with its stack and environment', () => {
    for (const stack of Object.keys(STACKS) as StackName[]) {
      const tagged = deployed[stack].resources.filter((r) => r.inputs.tags !== undefined);
      expect(tagged.length, stack).toBeGreaterThan(50);
      for (const resource of tagged) {
        expect(resource.inputs.tags, `${stack} ${resource.name}`).toMatchObject({
          stack,
          environment: environmentOf(stack),
        });
      }
    }
  });

  it('gives cloud names the environment, unless they live inside a resource that carries it', () => {
    for (const stack of Object.keys(STACKS) as StackName[]) {
      const unscoped = deployed[stack].resources.filter((r) => {
        const name = cloudName(r);
        return name !== undefined && !carriesEnvironment(name, environmentOf(stack));
      });
      const types = [...new Set(unscoped.map((r) => r.type))];
      expect(
        types.filter((type) => SCOPED_NAMES[type] === undefined),
        stack,
      ).toEqual([]);
    }
    const built = new Set(Object.values(deployed).flatMap((d) => d.resources.map((r) => r.type)));
    expect(Object.keys(SCOPED_NAMES).filter((type) => !built.has(type))).toEqual([]);
  });

  it('shares no account-wide name between prod and staging of a cloud, so both fit in one account and region', () => {
    const accountWideNames = (stack: StackName) =>
      deployed[stack].resources
        .filter((r) => SCOPED_NAMES[r.type] === undefined)
        .flatMap((r) => {
          const name = cloudName(r);
          return name === undefined ? [] : [`${r.type} ${name}`];
        });
    const shared = (a: StackName, b: StackName) => {
      const names = new Set(accountWideNames(b));
      return accountWideNames(a).filter((name) => names.has(name));
    };
    expect(shared('aws-prod', 'aws-staging')).toEqual([]);
    expect(accountWideNames('aws-staging')).toContain(
      'aws:secretsmanager/secret:Secret ecomm-staging/PII_HASH_KEY',
    );
    expect(shared('azure-prod', 'azure-staging')).toEqual([]);
    expect(accountWideNames('azure-staging').length).toBeGreaterThan(20);
  });
});
