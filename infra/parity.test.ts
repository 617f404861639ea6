/**
 * Parity: the AWS and Azure programs, run on specs from the same config and catalog, provide the
 * same capabilities, and the job catalog alone decides which jobs both stacks run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { JOB_CATALOG, type JobSpec } from '../jobs/catalog.ts';
import { expectedEnvironment } from './testing/fixtures.ts';
import { startMockCloud } from './testing/mock-cloud.ts';

const cloud = await startMockCloud();
const { deploy, specFor } = await import('./testing/stacks.ts');
const { manifestFromAws, manifestFromAzure, manifestFromSpec } = await import('./testing/manifest.ts');

async function manifests(catalog?: JobSpec[]) {
  const aws = await deploy(cloud, specFor('aws', catalog));
  const azure = await deploy(cloud, specFor('azure', catalog));
  return {
    spec: manifestFromSpec(aws.spec),
    aws: manifestFromAws(aws.resources, aws.spec.prefix),
    azure: manifestFromAzure(azure.resources, azure.spec.prefix),
  };
}

describe('AWS and Azure parity', () => {
  let full: Awaited<ReturnType<typeof manifests>>;
  beforeAll(async () => {
    full = await manifests();
  });

  it('provides the same capabilities on both clouds', () => {
    expect(full.aws).toEqual(full.azure);
  });

  it('provides exactly what the spec declares', () => {
    expect(full.aws).toEqual(full.spec);
  });

  it('keeps the lake zones, their retention and versioning the same', () => {
    expect(full.aws.zones).toEqual(full.azure.zones);
    expect(full.aws.zones.map((z) => z.zone)).toEqual(['quarantine', 'raw', 'staging']);
    expect(full.azure.versionedLake).toBe(true);
  });

  it('gives every catalog job the same trigger, schedule, size, limits and environment keys', () => {
    for (const job of JOB_CATALOG) {
      const onAws = full.aws.workloads.find((w) => w.name === job.name);
      const onAzure = full.azure.workloads.find((w) => w.name === job.name);
      expect(onAws, job.name).toBeDefined();
      expect(onAws).toEqual(onAzure);
      expect(onAws?.environment).toEqual(expectedEnvironment(job.env));
    }
  });

  it('removes a job dropped from the catalog from both stacks, with its schedule and alert', async () => {
    const without = await manifests(JOB_CATALOG.filter((job) => job.name !== 'validate'));
    for (const manifest of [without.aws, without.azure]) {
      expect(manifest.workloads.map((w) => w.name)).not.toContain('validate');
      expect(manifest.alerts).not.toContain('job-failed-validate');
      expect(manifest.workloads).toHaveLength(full.aws.workloads.length - 1);
    }
    expect(without.aws).toEqual(without.azure);
  });

  it('adds a job added to the catalog to both stacks', async () => {
    const backfill: JobSpec = {
      name: 'backfill',
      summary: 'Replay a date range from raw',
      schedule: '0 3 * * 0',
      kind: 'scheduled',
      cpu: 2,
      memoryMiB: 4096,
      timeoutMinutes: 120,
      retries: 1,
      env: ['LAKE_URL', 'WAREHOUSE_URL', 'SECRETS_URL'],
    };
    const more = await manifests([...JOB_CATALOG, backfill]);
    const expected = {
      name: 'backfill',
      trigger: 'schedule',
      schedule: '0 3 * * 0',
      cpu: 2,
      memoryMiB: 4096,
      timeoutMinutes: 120,
      retries: 1,
    };
    expect(more.aws.workloads.find((w) => w.name === 'backfill')).toMatchObject(expected);
    expect(more.azure.workloads.find((w) => w.name === 'backfill')).toMatchObject(expected);
    expect(more.aws).toEqual(more.azure);
  });
});
