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
    for (const job of JOB_CATALOG.filter((j) => j.warehouseAdmin !== true)) {
      const onAws = full.aws.workloads.find((w) => w.name === job.name);
      const onAzure = full.azure.workloads.find((w) => w.name === job.name);
      expect(onAws, job.name).toBeDefined();
      expect(onAws).toEqual(onAzure);
      // The fixture stacks configure no further source: a job's optional settings are absent on both.
      expect(onAws?.environment).toEqual(expectedEnvironment(job.env, job.optionalEnv));
    }
  });

  it("schedules the hourly run and the watchdog alone, alike on both clouds; the run's steps are manual on both", () => {
    for (const manifest of [full.aws, full.azure]) {
      const scheduled = manifest.workloads.filter((w) => w.trigger === 'schedule');
      expect(scheduled.map((w) => [w.name, w.schedule, w.timeoutMinutes, w.retries])).toEqual([
        ['run', '5 * * * *', 6, 1],
        ['watchdog', '50 * * * *', 20, 1],
      ]);
      for (const step of ['extract', 'validate', 'load', 'reconcile', 'transform']) {
        expect(manifest.workloads.find((w) => w.name === step)?.trigger, step).toBe('manual');
      }
      expect(manifest.alerts).toContain('batch-freshness');
    }
  });

  it('carries every service with its port, health check, ingress and replicas to both clouds', () => {
    const services = JOB_CATALOG.filter((j) => j.kind === 'service');
    for (const manifest of [full.aws, full.azure]) {
      expect(manifest.workloads.filter((w) => w.trigger === 'service').map((w) => w.name)).toEqual(
        services.map((j) => j.name).sort(),
      );
      for (const job of services) {
        expect(
          manifest.workloads.find((w) => w.name === job.name),
          job.name,
        ).toMatchObject({
          port: job.port,
          healthCheck: `:${job.port}/healthz`,
          replicas: 1,
        });
      }
      expect(manifest.workloads.find((w) => w.name === 'stream-ingest')).toMatchObject({
        port: 8080,
        ingress: 'none',
      });
      expect(manifest.workloads.find((w) => w.name === 'monitor')).toMatchObject({
        port: 8090,
        ingress: 'internal',
      });
      expect(manifest.workloads.filter((w) => w.trigger !== 'service').every((w) => w.port === null)).toBe(
        true,
      );
      expect(manifest.alerts).toEqual(
        expect.arrayContaining(['service-down-monitor', 'service-down-stream-ingest']),
      );
      expect(manifest.alerts).not.toContain('stream-lag-monitor');
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
    const compaction: JobSpec = {
      name: 'compaction',
      summary: 'Compact small lake objects',
      schedule: '0 3 * * 0',
      kind: 'scheduled',
      cpu: 2,
      memoryMiB: 4096,
      timeoutMinutes: 120,
      retries: 1,
      env: ['LAKE_URL', 'WAREHOUSE_URL', 'SECRETS_URL'],
      lake: { read: ['raw/'], write: ['raw/'], delete: ['raw/'] },
    };
    const more = await manifests([...JOB_CATALOG, compaction]);
    const expected = {
      name: 'compaction',
      trigger: 'schedule',
      schedule: '0 3 * * 0',
      cpu: 2,
      memoryMiB: 4096,
      timeoutMinutes: 120,
      retries: 1,
    };
    expect(more.aws.workloads.find((w) => w.name === 'compaction')).toMatchObject(expected);
    expect(more.azure.workloads.find((w) => w.name === 'compaction')).toMatchObject(expected);
    // Its own login and exactly its lake prefixes, on both clouds.
    for (const manifest of [more.aws, more.azure]) {
      expect(manifest.workloads.find((w) => w.name === 'compaction')).toMatchObject({
        warehouseLogin: { user: 'ecomm_compaction', passwordSecret: 'ECOMM_COMPACTION_PASSWORD' },
        lake: { read: ['raw/'], write: ['raw/'], delete: ['raw/'] },
      });
    }
    expect(more.aws).toEqual(more.azure);
  });

  it('adds a service added to the catalog to both stacks, with its port, probe, ingress and alert', async () => {
    const api: JobSpec = {
      name: 'kpi-api',
      summary: 'Serve gold KPIs as JSON',
      schedule: null,
      kind: 'service',
      cpu: 0.5,
      memoryMiB: 1024,
      timeoutMinutes: 0,
      retries: 0,
      env: ['WAREHOUSE_URL', 'SECRETS_URL'],
      args: ['--host', '0.0.0.0'],
      port: 8095,
    };
    const more = await manifests([...JOB_CATALOG, api]);
    const expected = {
      name: 'kpi-api',
      trigger: 'service',
      command: ['kpi-api', '--host', '0.0.0.0'],
      replicas: 1,
      port: 8095,
      healthCheck: ':8095/healthz',
      ingress: 'internal',
    };
    expect(more.aws.workloads.find((w) => w.name === 'kpi-api')).toMatchObject(expected);
    expect(more.azure.workloads.find((w) => w.name === 'kpi-api')).toMatchObject(expected);
    expect(more.aws.alerts).toContain('service-down-kpi-api');
    expect(more.aws.alerts).not.toContain('stream-lag-kpi-api');
    expect(more.aws).toEqual(more.azure);
    expect(more.aws).toEqual(more.spec);
  });
});
