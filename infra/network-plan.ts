/**
 * Subnet planning: carve a VNet/VPC range into named, aligned, non-overlapping subnets, so both
 * clouds' networks come from one tested calculation instead of hand-typed CIDRs.
 */

export interface SubnetRequest {
  name: string;
  prefixLength: number;
}

export interface PlannedSubnet extends SubnetRequest {
  cidr: string;
}

function toNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new Error(`bad IPv4 address ${ip}`);
  return parts.reduce((acc, part) => acc * 256 + part, 0);
}

function toIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function parseCidr(cidr: string): { base: number; prefixLength: number } {
  const [ip, length] = cidr.split('/');
  const prefixLength = Number(length);
  if (ip === undefined || !Number.isInteger(prefixLength) || prefixLength < 8 || prefixLength > 30) {
    throw new Error(`bad CIDR ${cidr}`);
  }
  const base = toNumber(ip);
  if (base % 2 ** (32 - prefixLength) !== 0) throw new Error(`${cidr} has host bits set`);
  return { base, prefixLength };
}

/** Allocates the requests in order, each aligned to its own size; throws when the range is too small. */
export function carveSubnets(cidr: string, requests: SubnetRequest[]): PlannedSubnet[] {
  const range = parseCidr(cidr);
  const end = range.base + 2 ** (32 - range.prefixLength);
  let next = range.base;
  return requests.map((request) => {
    if (request.prefixLength < range.prefixLength)
      throw new Error(`subnet ${request.name} /${request.prefixLength} is larger than ${cidr}`);
    const size = 2 ** (32 - request.prefixLength);
    const start = Math.ceil(next / size) * size;
    if (start + size > end)
      throw new Error(`${cidr} has no room left for subnet ${request.name} /${request.prefixLength}`);
    next = start + size;
    return { ...request, cidr: `${toIp(start)}/${request.prefixLength}` };
  });
}
