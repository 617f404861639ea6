import { describe, expect, it } from 'vitest';
import { checkTag, hasPlatformTags, platformTags } from './tags.ts';

const inputs = {
  project: 'ecomm-data-platform',
  stack: 'aws',
  environment: 'prod',
  owner: 'data-eng',
  costCenter: 'cc-42',
};

describe('tags', () => {
  it('labels resources with project, stack, environment, owner, cost center and the tool that manages them', () => {
    expect(platformTags(inputs)).toEqual({
      project: 'ecomm-data-platform',
      stack: 'aws',
      environment: 'prod',
      owner: 'data-eng',
      'cost-center': 'cc-42',
      'managed-by': 'pulumi',
    });
  });

  it('rejects keys Azure would refuse and empty values', () => {
    expect(() => checkTag('a/b', 'x')).toThrow(/not valid on both/);
    expect(() => checkTag('owner', '')).toThrow(/1-256 characters/);
  });

  it('accepts extra resource tags but not a missing or changed platform tag', () => {
    const tags = platformTags(inputs);
    expect(hasPlatformTags({ ...tags, Name: 'x' }, tags)).toBe(true);
    expect(hasPlatformTags({ ...tags, owner: 'someone-else' }, tags)).toBe(false);
    expect(hasPlatformTags(undefined, tags)).toBe(false);
  });
});
