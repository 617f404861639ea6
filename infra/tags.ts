/**
 * Tags every taggable resource carries on both clouds: who owns it, what it costs, which stack made it.
 * Keys and values stay inside what both AWS (128/256 chars) and Azure (512/256 chars, no `<>%&\?/` in
 * keys) accept, so one tag set works everywhere.
 */

export interface TagInputs {
  project: string;
  stack: string;
  environment: string;
  owner: string;
  costCenter: string;
}

const FORBIDDEN_KEY_CHARACTERS = /[<>%&\\?/]/;

export function platformTags(inputs: TagInputs): Record<string, string> {
  const tags: Record<string, string> = {
    project: inputs.project,
    stack: inputs.stack,
    environment: inputs.environment,
    owner: inputs.owner,
    'cost-center': inputs.costCenter,
    'managed-by': 'pulumi',
  };
  for (const [key, value] of Object.entries(tags)) checkTag(key, value);
  return tags;
}

export function checkTag(key: string, value: string): void {
  if (key.length === 0 || key.length > 128 || FORBIDDEN_KEY_CHARACTERS.test(key)) {
    throw new Error(`tag key "${key}" is not valid on both AWS and Azure`);
  }
  if (value.length === 0 || value.length > 256) {
    throw new Error(`tag "${key}" needs a value of 1-256 characters`);
  }
}

/** True when every platform tag is present with its value (resources may add their own tags). */
export function hasPlatformTags(resourceTags: unknown, expected: Record<string, string>): boolean {
  if (resourceTags === null || typeof resourceTags !== 'object') return false;
  const actual = resourceTags as Record<string, unknown>;
  return Object.entries(expected).every(([key, value]) => actual[key] === value);
}
