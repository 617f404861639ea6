/** Builds a spec and runs one cloud's program under the mock cloud, returning what it registered. */
import * as pulumi from '@pulumi/pulumi';
import type { JobSpec } from '../../jobs/catalog.ts';
import { type PlatformOutputs, SOURCE_SETTINGS, type SourceSetting } from '../adapter-urls.ts';
import { PROJECT, parseStackConfig, type StackConfig } from '../config.ts';
import { configSecretValues } from '../platform.ts';
import { buildPlatformSpec, type PlatformSpec } from '../spec.ts';
import { asPulumiConfig, readCloudDefaults, readStackFileConfig } from '../stack-files.ts';
import { parseStackName, stackFileName } from '../stack-name.ts';
import { AWS_CONFIG, AWS_STACK, AZURE_CONFIG, AZURE_STACK } from './fixtures.ts';
import { type MockCloud, type RecordedResource, type Registration, resolved } from './mock-cloud.ts';

export interface DeployedStack {
  spec: PlatformSpec;
  resources: RecordedResource[];
  outputs: PlatformOutputs<string>;
  /** Each resource's parent's type, as the program constructed it. */
  parents: ParentRecord[];
  /** Every registration with its parent and dependencies, as the engine receives them. */
  registrations: Registration[];
}

export interface ParentRecord {
  type: string;
  name: string;
  custom: boolean;
  parentType: string | undefined;
}

function parentTypeOf(parent: pulumi.Resource | undefined): string | undefined {
  // Resource types are internal fields of the SDK's Resource class.
  return (parent as unknown as { __pulumiType?: string } | undefined)?.__pulumiType;
}

/** The fixture config of the cloud's test stack, and the stack's name. */
function fixtureOf(cloud: 'aws' | 'azure'): [Record<string, string>, string] {
  return cloud === 'aws' ? [AWS_CONFIG, AWS_STACK] : [AZURE_CONFIG, AZURE_STACK];
}

/** The cloud's test stack config, with `extra` (config keys, as allConfig gives them) over the fixture's. */
export function configFor(cloud: 'aws' | 'azure', extra: Record<string, string> = {}): StackConfig {
  const [raw, stack] = fixtureOf(cloud);
  return parseStackConfig({ ...raw, ...extra }, stack);
}

export function specFor(
  cloud: 'aws' | 'azure',
  catalog?: JobSpec[],
  extra: Record<string, string> = {},
): PlatformSpec {
  const config = configFor(cloud, extra);
  return catalog === undefined ? buildPlatformSpec(config) : buildPlatformSpec(config, catalog);
}

/** What `pulumi config set --secret` adds to a stack of the cloud. */
const STACK_SECRETS = {
  aws: {
    piiHashKey: 'x'.repeat(48),
    warehouseLoginKey: 'w'.repeat(48),
    sourcePassword: 'source-password-value',
  },
  azure: {
    piiHashKey: 'x'.repeat(48),
    warehouseLoginKey: 'w'.repeat(48),
    sourcePassword: 'source-password-value',
    warehouseAdminPassword: 'warehouse-admin-password-value',
  },
};

/**
 * The config `pulumi up` hands the program on the stack once its secrets are set: the stack's own
 * file (its committed Pulumi.<stack>.yaml unless told otherwise) merged over its cloud's shared file.
 */
export function committedConfig(stack: string, stackFile = stackFileName(stack)): StackConfig {
  const raw = asPulumiConfig(readStackFileConfig(stackFile));
  for (const [key, value] of Object.entries(STACK_SECRETS[parseStackName(stack).cloud]))
    raw[`${PROJECT}:${key}`] = value;
  return parseStackConfig(raw, stack, { cloudDefaults: readCloudDefaults });
}

/**
 * Runs the cloud's program on the spec, the secrets from the fixture config with `extra` over it (the keys the spec
 * was built with); programs are imported only after the mocks are in place.
 */
export async function deploy(
  cloud: MockCloud,
  spec: PlatformSpec,
  extra: Record<string, string> = {},
): Promise<DeployedStack> {
  cloud.reset();
  const program =
    spec.cloud === 'aws'
      ? (await import('../aws/program.ts')).deployAws
      : (await import('../azure/program.ts')).deployAzure;
  const config = configFor(spec.cloud, extra);
  const parents: ParentRecord[] = [];
  let deployed: Awaited<ReturnType<typeof program>> | undefined;
  // Run inside a stack, as `pulumi up` does, so a stack transformation can see every resource's parent.
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      parents.push({
        type: args.type,
        name: args.name,
        custom: args.resource instanceof pulumi.CustomResource,
        parentType: parentTypeOf(args.opts.parent),
      });
      return undefined;
    });
    deployed = await program(spec, configSecretValues(config));
    return {};
  });
  const outputs = deployed as NonNullable<typeof deployed>;
  const values: PlatformOutputs<string> = {
    LAKE_URL: await resolved(outputs.LAKE_URL),
    STREAM_URL: await resolved(outputs.STREAM_URL),
    WAREHOUSE_URL: await resolved(outputs.WAREHOUSE_URL),
    SOURCE_URL: await resolved(outputs.SOURCE_URL),
    SECRETS_URL: await resolved(outputs.SECRETS_URL),
    ...(await resolvedSources(outputs)),
    imageRef: await resolved(outputs.imageRef),
  };
  await cloud.settle();
  return {
    spec,
    resources: [...cloud.resources],
    outputs: values,
    parents,
    registrations: [...cloud.registrations],
  };
}

/** The further sources' outputs the program returned, resolved. */
async function resolvedSources(
  outputs: PlatformOutputs<pulumi.Output<string>>,
): Promise<Partial<Record<SourceSetting, string>>> {
  const values: Partial<Record<SourceSetting, string>> = {};
  for (const setting of SOURCE_SETTINGS) {
    const output = outputs[setting];
    if (output !== undefined) values[setting] = await resolved(output);
  }
  return values;
}
