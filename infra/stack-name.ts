/**
 * Stack names say where and what a stack deploys: `<cloud>-<environment>` (aws-prod, azure-staging).
 * The program takes the cloud and the environment from the name rather than from settings, so a
 * stack cannot say one cloud in its name and deploy another, and each environment of a cloud gets
 * its own resource names and tags.
 */

export const CLOUDS = ['aws', 'azure'] as const;
export type Cloud = (typeof CLOUDS)[number];

/** Short enough for the tightest name limits the environment ends up in (Azure storage accounts, action groups). */
const ENVIRONMENT = /^[a-z][a-z0-9]{1,7}$/;

export interface StackName {
  cloud: Cloud;
  environment: string;
}

export class StackNameError extends Error {
  constructor(stack: string) {
    super(
      `stack "${stack}": name stacks <cloud>-<environment>, the cloud aws or azure and the environment 2-8 ` +
        'lowercase letters or digits starting with a letter (aws-prod, azure-staging); see docs/deploy.md',
    );
    this.name = 'StackNameError';
  }
}

export function parseStackName(stack: string): StackName {
  const [cloud = '', ...rest] = stack.split('-');
  const environment = rest.join('-');
  if (!isCloud(cloud) || !ENVIRONMENT.test(environment)) throw new StackNameError(stack);
  return { cloud, environment };
}

function isCloud(name: string): name is Cloud {
  return (CLOUDS as readonly string[]).includes(name);
}

/** The file Pulumi reads a stack's own config from. */
export function stackFileName(stack: string): string {
  return `Pulumi.${stack}.yaml`;
}

/**
 * The file with the settings every stack of a cloud shares. No stack can be named after it (a stack
 * name needs an environment), so Pulumi never reads it; the program merges each stack's own settings
 * over it.
 */
export function cloudDefaultsFileName(cloud: Cloud): string {
  return `Pulumi.${cloud}.yaml`;
}
