/**
 * Sizing: the one place where neutral sizes become cloud SKUs, so both stacks grow together.
 */

export const SIZE_TIERS = ['small', 'medium', 'large'] as const;
export type SizeTier = (typeof SIZE_TIERS)[number];

/**
 * CPU/memory pairs that both AWS Fargate and Azure Container Apps (consumption profile) accept:
 * Container Apps needs memory = 2 GiB per vCPU; Fargate allows that ratio at 0.25, 0.5, 1, 2 and 4 vCPU.
 */
const CONTAINER_SIZES = [0.25, 0.5, 1, 2, 4].map((cpu) => ({ cpu, memoryMiB: cpu * 2048 }));

export interface ContainerSize {
  cpu: number;
  memoryMiB: number;
}

/** The smallest size valid on both clouds that gives at least the requested CPU and memory. */
export function fitContainerSize(requested: ContainerSize): ContainerSize {
  const size = CONTAINER_SIZES.find((s) => s.cpu >= requested.cpu && s.memoryMiB >= requested.memoryMiB);
  if (size === undefined) {
    throw new Error(
      `no container size fits ${requested.cpu} vCPU / ${requested.memoryMiB} MiB (max 4 vCPU / 8192 MiB on both clouds)`,
    );
  }
  return { ...size };
}

/** Fargate's task-level cpu is in CPU units (1024 per vCPU). */
export function fargateCpuUnits(cpu: number): string {
  return String(Math.round(cpu * 1024));
}

/** Container Apps memory strings: `2Gi`, `0.5Gi`. */
export function containerAppsMemory(memoryMiB: number): string {
  return `${memoryMiB / 1024}Gi`;
}

export interface StreamSizing {
  /** MSK provisioned: brokers per availability zone and instance type. */
  msk: { brokersPerZone: number; instanceType: string; volumeGiB: number };
  /** Event Hubs Standard throughput units (1 MB/s or 1000 events/s ingress each) with auto-inflate cap. */
  eventHubs: { throughputUnits: number; maxThroughputUnits: number };
}

/**
 * Small absorbs the seeds' ~50k events/min spikes (~850 events/s, under 1 MB/s) with headroom.
 * MSK topic management needs provisioned brokers (not t3), hence m7g even at the small end.
 */
const STREAM_SIZES: Record<SizeTier, StreamSizing> = {
  small: {
    msk: { brokersPerZone: 1, instanceType: 'kafka.m7g.large', volumeGiB: 100 },
    eventHubs: { throughputUnits: 2, maxThroughputUnits: 4 },
  },
  medium: {
    msk: { brokersPerZone: 1, instanceType: 'kafka.m7g.xlarge', volumeGiB: 500 },
    eventHubs: { throughputUnits: 4, maxThroughputUnits: 10 },
  },
  large: {
    msk: { brokersPerZone: 2, instanceType: 'kafka.m7g.2xlarge', volumeGiB: 1000 },
    eventHubs: { throughputUnits: 8, maxThroughputUnits: 20 },
  },
};

export function streamSizing(tier: SizeTier): StreamSizing {
  return STREAM_SIZES[tier];
}

export interface WarehouseSizing {
  /** Redshift Serverless base and max capacity in RPUs. */
  redshift: { baseRpu: number; maxRpu: number };
  /** Azure Database for PostgreSQL Flexible Server SKU and storage. */
  postgres: { skuName: string; tier: 'Burstable' | 'GeneralPurpose' | 'MemoryOptimized'; storageGiB: number };
}

const WAREHOUSE_SIZES: Record<SizeTier, WarehouseSizing> = {
  small: {
    redshift: { baseRpu: 8, maxRpu: 32 },
    postgres: { skuName: 'Standard_D2ds_v5', tier: 'GeneralPurpose', storageGiB: 128 },
  },
  medium: {
    redshift: { baseRpu: 32, maxRpu: 128 },
    postgres: { skuName: 'Standard_D4ds_v5', tier: 'GeneralPurpose', storageGiB: 256 },
  },
  large: {
    redshift: { baseRpu: 64, maxRpu: 256 },
    postgres: { skuName: 'Standard_E8ds_v5', tier: 'MemoryOptimized', storageGiB: 512 },
  },
};

export function warehouseSizing(tier: SizeTier): WarehouseSizing {
  return WAREHOUSE_SIZES[tier];
}
