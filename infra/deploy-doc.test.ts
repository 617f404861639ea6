/**
 * docs/deploy.md against the program. The `pulumi up --target` commands of the first deployment
 * must name resources the mocked stack has, together with every parent and dependency the engine
 * would otherwise refuse to create on a fresh stack ("depends on '…' which was not specified in
 * --target list"), for prod as written and for another environment as the doc says to adapt them;
 * the counts the doc states must be what the program builds.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT } from './config.ts';
import { startMockCloud } from './testing/mock-cloud.ts';
import type { DeployedStack } from './testing/stacks.ts';
import { engineResources, targetingProblems, withDependents } from './testing/targets.ts';

const cloud = await startMockCloud();
const { committedConfig, deploy } = await import('./testing/stacks.ts');
const { buildPlatformSpec } = await import('./spec.ts');

const doc = readFileSync(new URL('../docs/deploy.md', import.meta.url), 'utf8');

interface TargetedUp {
  command: string;
  targets: string[];
  targetDependents: boolean;
}

/** The lines of the doc's shell blocks, continuation lines joined. */
function shellLines(markdown: string): string[] {
  return [...markdown.matchAll(/```(?:sh|bash)?\n([\s\S]*?)```/g)]
    .flatMap((block) => (block[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n'))
    .map((line) => line.trim());
}

/** Every documented `pulumi up` that names targets. */
function targetedUps(markdown: string): TargetedUp[] {
  return shellLines(markdown)
    .filter((line) => /^pulumi up\b/.test(line) && /--target[= ]/.test(line))
    .map((command) => ({
      command,
      targets: [...command.matchAll(/--target[= ]+(?:'([^']*)'|"([^"]*)"|(\S+))/g)].map(
        (match) => match[1] ?? match[2] ?? match[3] ?? '',
      ),
      targetDependents: /--target-dependents\b/.test(command),
    }));
}

function stackOf(urn: string): string {
  const stack = /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
  if (stack === undefined) throw new Error(`not a URN: ${urn}`);
  return stack;
}

/** A prod command's URN for another environment, as the doc says to adapt it: `prod` replaced in the stack and the names. */
function inEnvironment(urn: string, environment: string): string {
  return urn
    .replace(/^urn:pulumi:(aws|azure)-prod::/, `urn:pulumi:$1-${environment}::`)
    .replaceAll('::ecomm-prod-', `::ecomm-${environment}-`);
}

/** What the engine would refuse of the command on a fresh copy of the stack. */
function problemsOf(up: TargetedUp, stack: DeployedStack, targets: string[]): string[] {
  const resources = engineResources(stack.registrations, PROJECT, stack.spec.stack);
  const targeted = up.targetDependents ? withDependents(resources, targets) : new Set(targets);
  return targetingProblems(resources, targeted);
}

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

describe('docs/deploy.md', () => {
  const ups = targetedUps(doc);
  const stacks = new Map<string, DeployedStack>();
  /** The stack under the mocks; a stack without its own committed file copies prod's. */
  const stackNamed = async (name: string): Promise<DeployedStack> => {
    let stack = stacks.get(name);
    if (stack === undefined) {
      const file = `Pulumi.${name.replace(/-.*$/, '-prod')}.yaml`;
      stack = await deploy(cloud, buildPlatformSpec(committedConfig(name, file)));
      stacks.set(name, stack);
    }
    return stack;
  };
  beforeAll(async () => {
    for (const name of ['aws-prod', 'azure-prod', 'aws-staging', 'azure-staging']) await stackNamed(name);
  });

  it('documents a targeted first deployment for each cloud, each command on one stack', () => {
    expect(ups.map((up) => up.targets.map(stackOf))).toEqual([
      expect.arrayContaining(['aws-prod']),
      expect.arrayContaining(['azure-prod']),
    ]);
    for (const up of ups) expect(new Set(up.targets.map(stackOf)).size, up.command).toBe(1);
  });

  it('targets resources the stacks have, with every parent and dependency the engine needs', async () => {
    for (const up of ups) {
      const stack = await stackNamed(stackOf(up.targets[0] ?? ''));
      expect(problemsOf(up, stack, up.targets), up.command).toEqual([]);
    }
  });

  it('targets the same resources in another environment once prod is replaced as the doc says', async () => {
    expect(doc).toMatch(/replace `prod` with the environment/);
    for (const up of ups) {
      const targets = up.targets.map((urn) => inEnvironment(urn, 'staging'));
      const stack = await stackNamed(stackOf(targets[0] ?? ''));
      expect(problemsOf(up, stack, targets), up.command).toEqual([]);
    }
  });

  it('catches what the engine refuses: a child targeted without its parent component', async () => {
    const stack = await stackNamed('aws-prod');
    const child = engineResources(stack.registrations, PROJECT, 'aws-prod');
    const repository = [...child.values()].find((r) => r.type === 'aws:ecr/repository:Repository');
    expect(repository?.parent).toBeDefined();
    const up = { command: '', targets: [repository?.urn ?? ''], targetDependents: false };
    expect(problemsOf(up, stack, up.targets)).toEqual([
      `Resource '${repository?.urn}' depends on '${repository?.parent}' which was not specified in --target list.`,
    ]);
  });

  it('counts the Azure workload identities the program creates', async () => {
    const stated = /managed identities[^.]*?\b(\w+) with the current catalog/.exec(doc)?.[1];
    const identities = (await stackNamed('azure-prod')).resources.filter(
      (r) => r.type === 'azure-native:managedidentity:UserAssignedIdentity',
    );
    expect(stated).toBe(NUMBER_WORDS[identities.length] ?? String(identities.length));
  });

  it('states each stack’s resource count to within a tenth', async () => {
    for (const [heading, stack] of [
      ['AWS', 'aws-prod'],
      ['Azure', 'azure-prod'],
    ] as const) {
      const stated = Number(new RegExp(`\\*\\*${heading}\\*\\* \\(about (\\d+) resources`).exec(doc)?.[1]);
      const built = (await stackNamed(stack)).registrations.length;
      expect(
        Math.abs(stated - built) / built,
        `${heading}: about ${stated}, built ${built}`,
      ).toBeLessThanOrEqual(0.1);
    }
  });
});
