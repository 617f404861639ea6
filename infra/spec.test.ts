import { describe, expect, it } from 'vitest';
import { JOB_CATALOG, type JobSpec, STREAM_TOPICS } from '../jobs/catalog.ts';
import { parseStackConfig } from './config.ts';
import { buildPlatformSpec, DEAD_LETTER_TOPIC, SLA } from './spec.ts';
import { AWS_CONFIG, AWS_STACK, SOURCES_CONFIG, withKey } from './testing/fixtures.ts';

const config = parseStackConfig(AWS_CONFIG, AWS_STACK);
const spec = buildPlatformSpec(config);

function catalogWith(name: string, change: Partial<JobSpec>): JobSpec[] {
  return JOB_CATALOG.map((job) => (job.name === name ? { ...job, ...change } : job));
}

describe('platform spec', () => {
  it('declares the raw, staging and quarantine zones with their retention', () => {
    expect(spec.lake.zones).toEqual([
      { name: 'raw', prefix: 'raw/', retentionDays: 365 },
      { name: 'staging', prefix: 'staging/', retentionDays: 30 },
      { name: 'quarantine', prefix: 'quarantine/', retentionDays: 90 },
    ]);
  });

  it('declares every event topic with its partitions, plus a dead-letter topic', () => {
    const names = spec.stream.topics.map((t) => t.name);
    expect(names).toEqual([...STREAM_TOPICS.map((t) => t.topic), DEAD_LETTER_TOPIC]);
    for (const topic of STREAM_TOPICS) {
      expect(spec.stream.topics.find((t) => t.name === topic.topic)).toMatchObject({
        partitions: topic.partitions,
        retentionHours: 168,
        consumerGroups: ['ecomm-stream-ingest'],
      });
    }
  });

  it('takes every non-service catalog job as a job and the service jobs as services; never the admin-only grants', () => {
    expect(spec.jobs.map((j) => j.name)).toEqual(
      JOB_CATALOG.filter((j) => j.kind !== 'service' && j.warehouseAdmin !== true).map((j) => j.name),
    );
    expect(spec.jobs.map((j) => j.name)).not.toContain('grants');
    expect(spec.services.map((s) => s.name)).toEqual(
      JOB_CATALOG.filter((j) => j.kind === 'service').map((j) => j.name),
    );
    expect(spec.services.map((s) => s.name)).toEqual(['stream-ingest', 'monitor']);
    const service = (name: string) => spec.services.find((s) => s.name === name);
    expect(service('stream-ingest')).toMatchObject({ replicas: 1, schedule: null });
    expect(service('stream-ingest')?.environment.STREAM_GROUP_ID).toBe('ecomm-stream-ingest');
    expect(service('stream-ingest')?.command).toEqual(['stream-ingest', '--follow']);
    expect(service('monitor')).toMatchObject({ replicas: 1, schedule: null });
    expect(service('monitor')?.command).toEqual(['monitor', '--host', '0.0.0.0']);
    expect(service('monitor')?.environment.STREAM_GROUP_ID).toBeUndefined();
    expect(spec.jobs.find((j) => j.name === 'extract')?.command).toEqual(['extract']);
  });

  it('keeps each job schedule, timeout, retries, backoff and settings from the catalog', () => {
    expect(spec.jobs.find((j) => j.name === 'run')).toMatchObject({
      kind: 'scheduled',
      schedule: '5 * * * *',
      timeoutMinutes: 6,
      retries: 1,
      retryBackoffSeconds: 30,
      cpu: 1,
      memoryMiB: 2048,
    });
    const extract = spec.jobs.find((j) => j.name === 'extract');
    // A step of the run, provisioned to be run by hand; the catalog's default backoff.
    expect(extract).toMatchObject({
      kind: 'manual',
      schedule: null,
      timeoutMinutes: 30,
      retries: 2,
      retryBackoffSeconds: 60,
      cpu: 0.5,
      memoryMiB: 1024,
    });
    expect(extract?.settings).toEqual(['LAKE_URL', 'SECRETS_URL', 'SOURCE_URL', 'WAREHOUSE_URL']);
  });

  it('gives each job only the secrets its settings need', () => {
    expect(spec.jobs.find((j) => j.name === 'generate')?.secrets).toEqual(['SOURCE_PASSWORD']);
    expect(spec.jobs.find((j) => j.name === 'load')?.secrets).toEqual([
      'ECOMM_LOAD_PASSWORD',
      'PII_HASH_KEY',
    ]);
    // The admin's password is for operators: no workload reads it.
    expect([...spec.jobs, ...spec.services].some((w) => w.secrets.includes('WAREHOUSE_PASSWORD'))).toBe(
      false,
    );
  });

  it('names the shared stream consumer group for every stream reader and no one else', () => {
    expect(spec.jobs.find((j) => j.name === 'run')?.environment.STREAM_GROUP_ID).toBe('ecomm-stream-ingest');
    expect(spec.jobs.find((j) => j.name === 'load')?.environment.STREAM_GROUP_ID).toBeUndefined();
  });

  it('records the requested size and the size both clouds can run', () => {
    const generate = spec.jobs.find((j) => j.name === 'generate');
    expect(generate?.requested).toEqual({ cpu: 1, memoryMiB: 1024 });
    expect(generate).toMatchObject({ cpu: 1, memoryMiB: 2048 });
    expect(generate?.environment.NODE_OPTIONS).toBe(
      '--max-old-space-size=1536 --max-semi-space-size=8 --expose-gc',
    );
    expect(generate?.environment.MALLOC_MMAP_THRESHOLD_).toBe('131072');
  });

  it('alerts on every job failure, gold freshness, stream lag of each stream reader and every stopped service', () => {
    const services = JOB_CATALOG.filter((j) => j.kind === 'service');
    expect(spec.alerts.map((a) => a.name)).toEqual([
      ...JOB_CATALOG.filter((j) => j.kind !== 'service' && j.warehouseAdmin !== true).map(
        (j) => `job-failed-${j.name}`,
      ),
      'batch-freshness',
      ...services.flatMap((s) => [
        ...(s.env.includes('STREAM_URL') ? [`stream-lag-${s.name}`] : []),
        `service-down-${s.name}`,
      ]),
    ]);
    expect(spec.alerts.find((a) => a.name === 'batch-freshness')).toMatchObject({
      target: 'run',
      windowMinutes: SLA.batchFreshnessMinutes,
    });
    // The current catalog: stream-ingest lags and stops, the monitor only stops.
    const names = spec.alerts.map((a) => a.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'stream-lag-stream-ingest',
        'service-down-stream-ingest',
        'service-down-monitor',
      ]),
    );
    expect(names).not.toContain('stream-lag-monitor');
    expect(spec.alerts.find((a) => a.name === 'service-down-monitor')).toMatchObject({
      signal: 'service-down',
      target: 'monitor',
      threshold: 1,
      severity: 'critical',
    });
  });

  it('gives each service its catalog port, a /healthz check, and ingress only when it is there to be called', () => {
    for (const job of JOB_CATALOG.filter((j) => j.kind === 'service')) {
      expect(spec.services.find((s) => s.name === job.name)?.port, job.name).toBe(job.port);
    }
    expect(spec.services.find((s) => s.name === 'stream-ingest')).toMatchObject({
      port: 8080,
      ingress: 'none',
      health: {
        path: '/healthz',
        intervalSeconds: 30,
        timeoutSeconds: 5,
        retries: 3,
        startPeriodSeconds: 30,
      },
    });
    expect(spec.services.find((s) => s.name === 'monitor')).toMatchObject({
      port: 8090,
      ingress: 'internal',
      replicas: 1,
      stopTimeoutSeconds: 120,
      health: { path: '/healthz' },
    });
  });

  it('keeps the monitor on one replica and off the stream when stream-ingest scales out', () => {
    const raw = withKey(AWS_CONFIG, 'stream', JSON.stringify({ serviceReplicas: 3 }));
    const scaled = buildPlatformSpec(parseStackConfig(raw, AWS_STACK));
    expect(scaled.services.find((s) => s.name === 'stream-ingest')?.replicas).toBe(3);
    const monitor = scaled.services.find((s) => s.name === 'monitor');
    expect(monitor?.replicas).toBe(1);
    expect(monitor?.settings).toEqual(['SECRETS_URL', 'WAREHOUSE_URL']);
    expect(monitor?.secrets).not.toContain('SOURCE_PASSWORD');
    expect(scaled.alerts.find((a) => a.name === 'service-down-monitor')?.threshold).toBe(1);
    expect(scaled.alerts.find((a) => a.name === 'service-down-stream-ingest')?.threshold).toBe(3);
  });

  it('states the SLAs: batch freshness within 75 minutes and stream to silver within 5', () => {
    expect(spec.sla).toEqual({ batchFreshnessMinutes: 75, streamToSilverMinutes: 5 });
  });

  it('tags with the stack, environment, owner and cost center', () => {
    expect(spec.tags).toMatchObject({
      stack: AWS_STACK,
      environment: 'test',
      owner: 'data-engineering',
      'cost-center': 'analytics-42',
    });
  });

  it('drops a job, its alert and nothing else when the catalog loses it', () => {
    const smaller = buildPlatformSpec(
      config,
      JOB_CATALOG.filter((j) => j.name !== 'validate'),
    );
    expect(smaller.jobs.map((j) => j.name)).not.toContain('validate');
    expect(smaller.alerts.map((a) => a.name)).not.toContain('job-failed-validate');
    expect(smaller.jobs).toHaveLength(spec.jobs.length - 1);
  });

  it('refuses a catalog that does not schedule the gold build job', () => {
    expect(() =>
      buildPlatformSpec(
        config,
        JOB_CATALOG.filter((j) => j.name !== 'run'),
      ),
    ).toThrow(/the catalog must schedule "run", the job that builds gold.*it has no such job/);
  });

  it('refuses catalog entries the platform cannot run', () => {
    expect(() => buildPlatformSpec(config, catalogWith('extract', { env: ['LAKE_URI'] }))).toThrow(
      /reads LAKE_URI/,
    );
    expect(() => buildPlatformSpec(config, catalogWith('watchdog', { schedule: null }))).toThrow(
      /"watchdog" is scheduled but has no schedule/,
    );
    expect(() => buildPlatformSpec(config, catalogWith('quality', { schedule: '0 * * * *' }))).toThrow(
      /manual but has a schedule/,
    );
    expect(() => buildPlatformSpec(config, catalogWith('watchdog', { schedule: '0 0 1 * 1' }))).toThrow(
      /job "watchdog": cron "0 0 1 \* 1": restricts both day-of-month and day-of-week/,
    );
    expect(() => buildPlatformSpec(config, [...JOB_CATALOG, JOB_CATALOG[0] as JobSpec])).toThrow(
      /duplicate job/,
    );
    expect(() => buildPlatformSpec(config, catalogWith('monitor', { port: undefined }))).toThrow(
      /service "monitor" needs a port/,
    );
    expect(() => buildPlatformSpec(config, catalogWith('monitor', { port: 80 }))).toThrow(/needs a port/);
    expect(() => buildPlatformSpec(config, catalogWith('watchdog', { port: 8091 }))).toThrow(
      /"watchdog" is scheduled but has a port/,
    );
    expect(() => buildPlatformSpec(config, catalogWith('load', { retryBackoffSeconds: 1.5 }))).toThrow(
      /job "load": retryBackoffSeconds must be a whole number of seconds, at least 10 .*got 1\.5/,
    );
  });

  it('refuses a further source required in env, a core setting in optionalEnv, a stray presenceOnly', () => {
    expect(() =>
      buildPlatformSpec(
        config,
        catalogWith('extract', { env: ['SOURCE_URL', 'CRM_SOURCE_URL', 'LAKE_URL'] }),
      ),
    ).toThrow(/requires CRM_SOURCE_URL in env; a further source is optional: list it in optionalEnv/);
    expect(() => buildPlatformSpec(config, catalogWith('extract', { optionalEnv: ['STREAM_URL'] }))).toThrow(
      /optionalEnv names STREAM_URL, not a further source/,
    );
    expect(() =>
      buildPlatformSpec(
        config,
        catalogWith('reconcile', { optionalEnv: [], presenceOnly: ['FX_SOURCE_URL'] }),
      ),
    ).toThrow(/presenceOnly FX_SOURCE_URL is not in its optionalEnv/);
  });

  it('gives a configured source its secret and its egress for the jobs that connect to it, and nothing when unset', () => {
    expect(spec.sources).toEqual([]);
    expect(spec.secrets.map((s) => s.name)).not.toContain('CRM_SOURCE_TOKEN');
    expect(spec.jobs.find((j) => j.name === 'extract')?.settings).not.toContain('CRM_SOURCE_URL');
    const withSources = buildPlatformSpec(parseStackConfig({ ...AWS_CONFIG, ...SOURCES_CONFIG }, AWS_STACK));
    expect(withSources.secrets.filter((s) => s.neededWith?.endsWith('_SOURCE_URL'))).toEqual([
      expect.objectContaining({ name: 'CRM_SOURCE_TOKEN', source: 'config', neededWith: 'CRM_SOURCE_URL' }),
      expect.objectContaining({ name: 'HISTORY_SOURCE_PASSWORD', neededWith: 'HISTORY_SOURCE_URL' }),
      expect.objectContaining({ name: 'FX_SOURCE_API_KEY', neededWith: 'FX_SOURCE_URL' }),
    ]);
    const job = (name: string) => withSources.jobs.find((j) => j.name === name);
    expect(job('extract')?.sources).toEqual(['CRM_SOURCE_URL', 'HISTORY_SOURCE_URL', 'FX_SOURCE_URL']);
    expect(job('extract')?.secrets).toEqual(
      expect.arrayContaining(['CRM_SOURCE_TOKEN', 'HISTORY_SOURCE_PASSWORD', 'FX_SOURCE_API_KEY']),
    );
    // Reconcile learns that fx_rates comes from the vendor; it never calls the vendor.
    expect(job('reconcile')?.settings).toContain('FX_SOURCE_URL');
    expect(job('reconcile')?.sources).toEqual([]);
    expect(job('reconcile')?.secrets).not.toContain('FX_SOURCE_API_KEY');
    expect(job('generate')?.settings).not.toContain('CRM_SOURCE_URL');
    expect(withSources.sources.map((s) => [s.name, s.egress, s.workloads])).toEqual([
      ['crm', { port: 443, cidrs: ['104.16.0.0/13', '172.64.0.0/13'] }, ['extract', 'run']],
      ['history', { port: 443, cidrs: ['52.19.0.0/16'] }, ['extract', 'run']],
      ['fx', { port: 443, cidrs: ['198.51.100.0/24'] }, ['extract', 'run']],
    ]);
  });

  it('names one warehouse login per warehouse workload, each with its own password secret', () => {
    expect(spec.warehouse.logins.map((l) => l.login)).toEqual(
      expect.arrayContaining(['ecomm_load', 'ecomm_transform', 'ecomm_stream_ingest', 'ecomm_monitor']),
    );
    for (const workload of [...spec.jobs, ...spec.services]) {
      const logins = spec.warehouse.logins.filter((l) => l.workload === workload.name);
      if (!workload.settings.includes('WAREHOUSE_URL')) {
        expect(logins, workload.name).toEqual([]);
        continue;
      }
      expect(logins, workload.name).toHaveLength(1);
      expect(workload.secrets, workload.name).toContain(logins[0]?.secret);
      // No other workload may read this login's secret.
      const readers = [...spec.jobs, ...spec.services].filter((w) =>
        w.secrets.includes(logins[0]?.secret ?? ''),
      );
      expect(readers.map((w) => w.name)).toEqual([workload.name]);
    }
    expect(spec.secrets.filter((s) => s.source === 'login')).toHaveLength(spec.warehouse.logins.length);
  });

  it("takes each lake job's prefixes from the catalog, and lets no job delete", () => {
    const lakeOf = (name: string) => [...spec.jobs, ...spec.services].find((w) => w.name === name)?.lake;
    expect(lakeOf('extract')).toEqual({ read: [], write: ['lineage/', 'raw/'], delete: [] });
    expect(lakeOf('validate')).toEqual({
      read: ['raw/'],
      write: ['decisions/', 'lineage/', 'quarantine/', 'staging/'],
      delete: [],
    });
    expect(lakeOf('monitor')).toBeNull();
    expect(lakeOf('generate')).toBeNull();
    const deleters = [...spec.jobs, ...spec.services].filter((w) => (w.lake?.delete.length ?? 0) > 0);
    expect(deleters.map((w) => w.name)).toEqual([]);
    expect(() => buildPlatformSpec(config, catalogWith('load', { lake: undefined }))).toThrow(
      'job "load" reads LAKE_URL but its catalog entry names no `lake` access',
    );
    expect(() =>
      buildPlatformSpec(config, catalogWith('monitor', { lake: { read: ['raw/'], write: [], delete: [] } })),
    ).toThrow('job "monitor" has `lake` access but does not read LAKE_URL');
  });

  it('leaves out the jobs that seed synthetic data unless the stack asks for them', () => {
    const production = buildPlatformSpec(
      parseStackConfig(withKey(AWS_CONFIG, 'deploySeedJobs', undefined), AWS_STACK),
    );
    expect(production.jobs.map((j) => j.name)).not.toContain('generate');
    expect(production.warehouse.logins.map((l) => l.workload)).not.toContain('generate');
    expect(spec.jobs.map((j) => j.name)).toContain('generate');
    expect(() => parseStackConfig(withKey(AWS_CONFIG, 'deploySeedJobs', 'maybe'), AWS_STACK)).toThrow(
      'ecomm-data-platform:deploySeedJobs: use true or false',
    );
  });

  it('gives the monitor the host names the stack reaches it by, and no one else; refuses a wildcard', () => {
    expect(
      spec.services.find((s) => s.name === 'monitor')?.environment.MONITOR_ALLOWED_HOSTS,
    ).toBeUndefined();
    const named = buildPlatformSpec(
      parseStackConfig(
        withKey(AWS_CONFIG, 'monitorHostNames', JSON.stringify(['monitor.data.internal', 'ops.example.com'])),
        AWS_STACK,
      ),
    );
    expect(named.services.find((s) => s.name === 'monitor')?.environment.MONITOR_ALLOWED_HOSTS).toBe(
      'monitor.data.internal,ops.example.com',
    );
    expect(
      named.services.find((s) => s.name === 'stream-ingest')?.environment.MONITOR_ALLOWED_HOSTS,
    ).toBeUndefined();
    expect(() =>
      parseStackConfig(withKey(AWS_CONFIG, 'monitorHostNames', JSON.stringify(['*.example.com'])), AWS_STACK),
    ).toThrow(/monitorHostNames.*a DNS name without port or wildcard/);
  });

  it('refuses more stream replicas than partitions', () => {
    const raw = withKey(AWS_CONFIG, 'stream', JSON.stringify({ serviceReplicas: 4 }));
    expect(() => buildPlatformSpec(parseStackConfig(raw, AWS_STACK))).toThrow(
      /4 replicas but a topic has only 3 partitions/,
    );
  });
});
