import { describe, expect, it } from 'vitest';
import { carveSubnets, parseCidr } from './network-plan.ts';

describe('subnet planning', () => {
  it('carves aligned subnets in order', () => {
    expect(
      carveSubnets('10.40.0.0/16', [
        { name: 'a', prefixLength: 24 },
        { name: 'b', prefixLength: 23 },
        { name: 'c', prefixLength: 24 },
      ]).map((s) => s.cidr),
    ).toEqual(['10.40.0.0/24', '10.40.2.0/23', '10.40.4.0/24']);
  });

  it('refuses a range that is too small', () => {
    expect(() => carveSubnets('10.0.0.0/24', [{ name: 'big', prefixLength: 23 }])).toThrow(/larger than/);
    expect(() =>
      carveSubnets('10.0.0.0/24', [
        { name: 'a', prefixLength: 25 },
        { name: 'b', prefixLength: 25 },
        { name: 'c', prefixLength: 25 },
      ]),
    ).toThrow(/no room left for subnet c/);
  });

  it('refuses CIDRs with host bits set', () => {
    expect(() => parseCidr('10.40.1.0/16')).toThrow(/host bits/);
  });
});
