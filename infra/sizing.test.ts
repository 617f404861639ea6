import { describe, expect, it } from 'vitest';
import {
  containerAppsMemory,
  fargateCpuUnits,
  fitContainerSize,
  SIZE_TIERS,
  streamSizing,
  warehouseSizing,
} from './sizing.ts';

describe('sizing', () => {
  it('rounds 1 vCPU / 1 GiB up to 1 vCPU / 2 GiB, the smallest size both Fargate and Container Apps accept', () => {
    expect(fitContainerSize({ cpu: 1, memoryMiB: 1024 })).toEqual({ cpu: 1, memoryMiB: 2048 });
  });

  it('keeps sizes that are already valid on both clouds', () => {
    expect(fitContainerSize({ cpu: 0.5, memoryMiB: 1024 })).toEqual({ cpu: 0.5, memoryMiB: 1024 });
    expect(fitContainerSize({ cpu: 1, memoryMiB: 2048 })).toEqual({ cpu: 1, memoryMiB: 2048 });
  });

  it('grows CPU when memory needs it', () => {
    expect(fitContainerSize({ cpu: 0.5, memoryMiB: 3000 })).toEqual({ cpu: 2, memoryMiB: 4096 });
  });

  it('refuses sizes beyond what both clouds offer', () => {
    expect(() => fitContainerSize({ cpu: 8, memoryMiB: 16384 })).toThrow(/no container size fits/);
  });

  it('formats CPU units and memory the way each platform expects', () => {
    expect(fargateCpuUnits(0.5)).toBe('512');
    expect(containerAppsMemory(1024)).toBe('1Gi');
    expect(containerAppsMemory(512)).toBe('0.5Gi');
  });

  it('grows every tier monotonically on both clouds', () => {
    const rpus = SIZE_TIERS.map((tier) => warehouseSizing(tier).redshift.baseRpu);
    const units = SIZE_TIERS.map((tier) => streamSizing(tier).eventHubs.throughputUnits);
    expect([...rpus].sort((a, b) => a - b)).toEqual(rpus);
    expect([...units].sort((a, b) => a - b)).toEqual(units);
  });
});
