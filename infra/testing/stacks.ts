/** Builds a spec and runs one cloud's program under the mock cloud, returning what it registered. */
import * as pulumi from '@pulumi/pulumi';
import type { JobSpec } from '../../jobs/catalog.ts';
import type { PlatformOutputs } from '../adapter-urls.ts';
import { parseStackConfig } from '../config.ts';
import { configSecretValues } from '../platform.ts';
import { buildPlatformSpec, type PlatformSpec } from '../spec.ts';
import { AWS_CONFIG, AZURE_CONFIG } from './fixtures.ts';
import { type MockCloud, type RecordedResource, resolved } from './mock-cloud.ts';

export interface DeployedStack {
  spec: PlatformSpec;
  resources: RecordedResource[];
  outputs: PlatformOutputs<string>;
  /** Each resource's parent's type, as the program constructed it. */
  parents: ParentRecord[];
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

export function specFor(cloud: 'aws' | 'azure', catalog?: JobSpec[]): PlatformSpec {
  const config = parseStackConfig(cloud === 'aws' ? AWS_CONFIG : AZURE_CONFIG, cloud);
  return catalog === undefined ? buildPlatformSpec(config) : buildPlatformSpec(config, catalog);
}

/** Runs the cloud's program on the spec; programs are imported only after the mocks are in place. */
export async function deploy(cloud: MockCloud, spec: PlatformSpec): Promise<DeployedStack> {
  cloud.reset();
  const program =
    spec.cloud === 'aws'
      ? (await import('../aws/program.ts')).deployAws
      : (await import('../azure/program.ts')).deployAzure;
  const config = parseStackConfig(spec.cloud === 'aws' ? AWS_CONFIG : AZURE_CONFIG, spec.cloud);
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
    imageRef: await resolved(outputs.imageRef),
  };
  await cloud.settle();
  return { spec, resources: [...cloud.resources], outputs: values, parents };
}
