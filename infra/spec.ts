/**
 * The ONE cloud-neutral platform spec. Both programs (aws/, azure/) build exactly what this says;
 * they take jobs and stream topics only from the job catalog (which derives the topics from the
 * event contracts), so adding or removing a job or topic there changes both stacks the same way.
 */
import {
  JOB_CATALOG,
  type JobSpec,
  type LakeAccess,
  MAIN_THREAD_NODE_FLAGS,
  MALLOC_ENVIRONMENT,
  RUN_STEPS,
  type RunStepSpec,
  retryBackoffSecondsOf,
  STREAM_TOPICS,
  type StreamTopicSpec,
  warehouseLoginOf,
} from '../jobs/catalog.ts';
import {
  fxSourceUrl,
  hubspotSourceUrl,
  isPlatformSetting,
  isSourceSetting,
  type PlatformSetting,
  SOURCE_SETTINGS,
  type SourceSetting,
  snowflakeSourceUrl,
} from './adapter-urls.ts';
import {
  type BatchFreshnessBound,
  batchFreshnessBound,
  batchFreshnessProblem,
  PLATFORM_MIN_RETRY_BACKOFF_SECONDS,
} from './batch-freshness.ts';
import type { StackConfig } from './config.ts';
import { CronError, parseCron, toContainerAppsCron } from './cron.ts';
import { namePrefix } from './naming.ts';
import { type AlertRuleSpec, buildAlerts, GOLD_BUILD_JOB, SLA } from './service-levels.ts';
import { fitContainerSize, type SizeTier } from './sizing.ts';
import { platformTags } from './tags.ts';
import { loginSecretName } from './warehouse-logins.ts';

export type { BatchFreshnessBound } from './batch-freshness.ts';
export type { AlertRuleSpec, AlertSignal } from './service-levels.ts';
export { GOLD_BUILD_JOB, SLA, STREAM_LAG_ALERT_SECONDS } from './service-levels.ts';

export const DEAD_LETTER_TOPIC = 'dead-letter';
/** The Kafka consumer group of the stream readers (the job's own default for STREAM_GROUP_ID). */
export const STREAM_CONSUMER_GROUP = 'ecomm-stream-ingest';
/** The lake is one container/bucket; zones are top-level key prefixes (docs/architecture.md, "Data flow"). */
export const LAKE_CONTAINER = 'lake';
/** Image repository name in ECR and ACR. */
export const IMAGE_REPOSITORY = 'ecomm-data-platform';

export type LakeZoneName = 'raw' | 'staging' | 'quarantine';
export interface LakeZoneSpec {
  name: LakeZoneName;
  prefix: string;
  retentionDays: number;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  retentionHours: number;
  /** Kafka consumer groups that read the topic. */
  consumerGroups: string[];
}

export interface SecretSpec {
  /** The name jobs ask the secret store for. */
  name: string;
  description: string;
  /**
   * Who supplies the value: stack config, the warehouse (Redshift manages its admin password), or the stack
   * itself (a warehouse login's password, derived from warehouseLoginKey: warehouse-logins.ts).
   */
  source: 'config' | 'warehouse' | 'login';
  /** Jobs that read this platform setting need the secret; null: no job reads it (the admin's, for operators). */
  neededWith: PlatformSetting | null;
  /** A login's password secret: the login, read only by the workload that connects as it. */
  login?: string;
}

/** A warehouse login and the one workload that connects as it. */
export interface WarehouseLoginSpec {
  login: string;
  /** The platform secret holding its password. */
  secret: string;
  workload: string;
}

export interface WorkloadSpec {
  name: string;
  summary: string;
  kind: JobSpec['kind'];
  /** 5-field UTC cron for scheduled jobs, else null. */
  schedule: string | null;
  /** Sized to the smallest pair both clouds accept (see sizing.ts). */
  cpu: number;
  memoryMiB: number;
  requested: { cpu: number; memoryMiB: number };
  /** Per attempt. */
  timeoutMinutes: number;
  /** Attempts after a failed or timed-out one, in the same execution. */
  retries: number;
  /** The wait before the first retry, doubling before each next one (the catalog's, or its default). */
  retryBackoffSeconds: number;
  /**
   * Platform settings from the catalog's env list, and those of its optionalEnv the stack configures, injected as
   * environment variables.
   */
  settings: PlatformSetting[];
  /** The further sources it connects to (configured, and not presenceOnly): their secrets and egress are its. */
  sources: SourceSetting[];
  /** Job-specific environment, the same on both clouds. */
  environment: Record<string, string>;
  /** Secrets the job reads through SECRETS_URL (its database URLs name theirs with `passwordSecret`). */
  secrets: string[];
  /** The warehouse login its WAREHOUSE_URL names (warehouseLoginOf), null when it reads no warehouse. */
  warehouseLogin: string | null;
  /** What it may do in the lake, by prefix (the catalog's `lake`), null when it reads no lake. */
  lake: LakeAccess | null;
  /**
   * What it may do on the event stream: consume and produce, only describe topics and the group's offsets (the
   * catalog's `streamAccess`), or nothing (no STREAM_URL).
   */
  stream: 'readWrite' | 'describe' | null;
  /** Arguments to the image's `ecomm` entrypoint: the job name, then the catalog's args (a service's --follow). */
  command: string[];
}

/** How both clouds check a service is alive: an HTTP GET of `path` on the service's port. */
export interface ServiceHealthSpec {
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  /** Consecutive failures before the replica is replaced. */
  retries: number;
  /** Failures during this time after start do not count. */
  startPeriodSeconds: number;
}

/**
 * Who may open a connection to a service's port: `none` (only its own health checks, from inside
 * the task or replica) or `internal` (the private network; never the internet).
 */
export type ServiceIngress = 'none' | 'internal';

export interface ServiceSpec extends WorkloadSpec {
  replicas: number;
  /** Time between SIGTERM and kill, so in-flight batches are written and offsets committed. */
  stopTimeoutSeconds: number;
  /** The catalog's `port`: where the service answers its health check (and, with ingress, its callers). */
  port: number;
  health: ServiceHealthSpec;
  ingress: ServiceIngress;
}

/** The image's HEALTHCHECK timings (Dockerfile), used by both clouds' own checks of every service. */
export const SERVICE_HEALTH: ServiceHealthSpec = {
  path: '/healthz',
  intervalSeconds: 30,
  timeoutSeconds: 5,
  retries: 3,
  startPeriodSeconds: 30,
};

/** A further source the stack configures: a SaaS or cloud service outside the network, reached over HTTPS. */
export interface ExternalSourceSpec {
  setting: SourceSetting;
  /** Short name in resource and rule names (`crm`, `history`, `fx`). */
  name: string;
  /** The setting's value: built from stack config, naming its secret and holding no credential. */
  url: string;
  /** The platform secret with its credential. */
  secret: string;
  /** The only way out to it: TCP `port` to these ranges (through the NAT on AWS). */
  egress: { port: number; cidrs: string[] };
  /** The workloads that connect to it, the only ones that read its secret and get its egress. */
  workloads: string[];
}

export interface PlatformSpec {
  cloud: 'aws' | 'azure';
  project: string;
  stack: string;
  environment: string;
  prefix: string;
  region: string;
  tags: Record<string, string>;
  network: { cidr: string; availabilityZones: string[] };
  lake: { container: string; zones: LakeZoneSpec[]; noncurrentVersionDays: number };
  stream: { size: SizeTier; topics: TopicSpec[] };
  warehouse: { size: SizeTier; database: string; adminUser: string; logins: WarehouseLoginSpec[] };
  source: { host: string; port: number; database: string; user: string; cidr?: string };
  secrets: SecretSpec[];
  /** The further sources configured, none when the stack configures none. */
  sources: ExternalSourceSpec[];
  image: { repository: string; tag: string };
  jobs: WorkloadSpec[];
  services: ServiceSpec[];
  alerts: AlertRuleSpec[];
  alertContacts: string[];
  sla: typeof SLA;
  /** The scheduled run's worst case from a source change to gold, within sla.batchFreshnessMinutes. */
  batchFreshness: BatchFreshnessBound;
  logRetentionDays: number;
}

export class PlatformSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformSpecError';
  }
}

const SECRETS: SecretSpec[] = [
  {
    name: 'PII_HASH_KEY',
    description: 'Key of the HMAC-SHA256 hashes that replace PII (computed during validation)',
    source: 'config',
    neededWith: 'WAREHOUSE_URL',
  },
  {
    name: 'SOURCE_PASSWORD',
    description: 'Password of the OLTP source database user',
    source: 'config',
    neededWith: 'SOURCE_URL',
  },
  {
    name: 'WAREHOUSE_PASSWORD',
    description: 'Password of the warehouse admin: for operators (ecomm grants), never for a job',
    source: 'warehouse',
    neededWith: null,
  },
];

/** Each further source's credential: stored only when the stack configures the source. */
const SOURCE_SECRETS: (SecretSpec & { neededWith: SourceSetting })[] = [
  {
    name: 'CRM_SOURCE_TOKEN',
    description: 'HubSpot private-app token of the CRM source (read scopes)',
    source: 'config',
    neededWith: 'CRM_SOURCE_URL',
  },
  {
    name: 'HISTORY_SOURCE_PASSWORD',
    description: 'Password of the Snowflake user of the history source',
    source: 'config',
    neededWith: 'HISTORY_SOURCE_URL',
  },
  {
    name: 'FX_SOURCE_API_KEY',
    description: 'API key of the FX rates vendor',
    source: 'config',
    neededWith: 'FX_SOURCE_URL',
  },
];

/** The secret holding a further source's credential, as its URL names it. */
export function sourceSecretName(setting: SourceSetting): string {
  const secret = SOURCE_SECRETS.find((s) => s.neededWith === setting);
  if (secret === undefined) throw new PlatformSpecError(`no secret declared for ${setting}`);
  return secret.name;
}

/** HTTPS: every further source is an API or Snowflake's endpoint, both on 443. */
const SOURCE_PORT = 443;

/** The further sources the stack config names, each URL holding only the name of its secret. */
function configuredSources(config: StackConfig): Omit<ExternalSourceSpec, 'workloads'>[] {
  const sources: Omit<ExternalSourceSpec, 'workloads'>[] = [];
  const add = (setting: SourceSetting, name: string, url: string, cidrs: string[]) =>
    sources.push({
      setting,
      name,
      url,
      secret: sourceSecretName(setting),
      egress: { port: SOURCE_PORT, cidrs: [...cidrs] },
    });
  const { crmSource: crm, historySource: history, fxSource: fx } = config;
  if (crm !== undefined)
    add(
      'CRM_SOURCE_URL',
      'crm',
      hubspotSourceUrl({ host: crm.host, tokenSecret: sourceSecretName('CRM_SOURCE_URL') }),
      crm.egress.cidrs,
    );
  if (history !== undefined)
    add(
      'HISTORY_SOURCE_URL',
      'history',
      snowflakeSourceUrl({ ...history, passwordSecret: sourceSecretName('HISTORY_SOURCE_URL') }),
      history.egress.cidrs,
    );
  if (fx !== undefined)
    add(
      'FX_SOURCE_URL',
      'fx',
      fxSourceUrl({ ...fx, keySecret: sourceSecretName('FX_SOURCE_URL') }),
      fx.egress.cidrs,
    );
  return sources;
}

/** The secret WAREHOUSE_URL of the workload names: its own login's password. */
function loginSecretOf(login: string): SecretSpec {
  return {
    name: loginSecretName(login),
    description: `Password of the warehouse login ${login}`,
    source: 'login',
    neededWith: 'WAREHOUSE_URL',
    login,
  };
}

export function buildPlatformSpec(
  config: StackConfig,
  catalog: readonly JobSpec[] = JOB_CATALOG,
  streamTopics: readonly StreamTopicSpec[] = STREAM_TOPICS,
  runSteps: readonly RunStepSpec[] = RUN_STEPS,
): PlatformSpec {
  const prefix = namePrefix(config.environment);
  checkUniqueNames(
    catalog.map((job) => job.name),
    'job',
  );
  // A job that writes synthetic data into the production source and topics exists only where asked for. The one job
  // that runs as the warehouse's admin (`ecomm grants`) is not deployed at all: no workload holds the admin
  // credential; an operator runs it from inside the network with the stack's admin WAREHOUSE_URL (docs/access.md).
  const deployed = catalog.filter(
    (job) => (job.seedsData !== true || config.deploySeedJobs) && job.warehouseAdmin !== true,
  );
  const configured = configuredSources(config);
  const workloads = deployed.map((job) =>
    toWorkload(
      job,
      configured.map((source) => source.setting),
    ),
  );
  const services = deployed.flatMap((job, index) =>
    job.kind === 'service' ? [toService(job, workloads[index] as WorkloadSpec, config)] : [],
  );
  const jobs = workloads.filter((w) => w.kind !== 'service');
  const batchFreshness = checkBatchFreshness(jobs, runSteps);
  const topics = buildTopics(config, streamTopics, services);
  const logins = workloads.flatMap((w): WarehouseLoginSpec[] =>
    w.warehouseLogin === null
      ? []
      : [{ login: w.warehouseLogin, secret: loginSecretName(w.warehouseLogin), workload: w.name }],
  );
  const spec: PlatformSpec = {
    cloud: config.cloud,
    project: config.project,
    stack: config.stack,
    environment: config.environment,
    prefix,
    region: config.region,
    tags: platformTags({
      project: config.project,
      stack: config.stack,
      environment: config.environment,
      owner: config.owner,
      costCenter: config.costCenter,
    }),
    network: { cidr: config.network.cidr, availabilityZones: config.network.availabilityZones ?? [] },
    lake: {
      container: LAKE_CONTAINER,
      zones: [
        { name: 'raw', prefix: 'raw/', retentionDays: config.lake.rawRetentionDays },
        { name: 'staging', prefix: 'staging/', retentionDays: config.lake.stagingRetentionDays },
        { name: 'quarantine', prefix: 'quarantine/', retentionDays: config.lake.quarantineRetentionDays },
      ],
      noncurrentVersionDays: config.lake.noncurrentVersionDays,
    },
    stream: { size: config.stream.size, topics },
    warehouse: {
      size: config.warehouse.size,
      database: config.warehouse.database,
      adminUser: 'ecomm_admin',
      logins,
    },
    source: { ...config.source },
    secrets: [
      ...SECRETS.map((s) => ({ ...s })),
      ...SOURCE_SECRETS.filter((s) => configured.some((c) => c.setting === s.neededWith)).map((s) => ({
        ...s,
      })),
      ...logins.map((l) => loginSecretOf(l.login)),
    ],
    sources: configured.map((source) => ({
      ...source,
      workloads: [...jobs, ...services]
        .filter((w) => w.sources.includes(source.setting))
        .map((w) => w.name)
        .sort(),
    })),
    image: { repository: IMAGE_REPOSITORY, tag: config.imageTag },
    jobs,
    services,
    alerts: buildAlerts(jobs, services),
    alertContacts: [...config.alertEmails],
    sla: SLA,
    batchFreshness,
    logRetentionDays: config.logRetentionDays,
  };
  return spec;
}

function toWorkload(job: JobSpec, configuredSources: readonly SourceSetting[] = []): WorkloadSpec {
  if (!/^[a-z][a-z0-9-]{0,16}$/.test(job.name)) {
    throw new PlatformSpecError(
      `job "${job.name}": names must be 1-17 lowercase letters, digits or dashes (Container Apps limits)`,
    );
  }
  const unknown = job.env.filter((name) => !isPlatformSetting(name));
  if (unknown.length > 0) {
    throw new PlatformSpecError(
      `job "${job.name}" reads ${unknown.join(', ')}, which the platform does not provide`,
    );
  }
  if (job.kind === 'scheduled') {
    if (job.schedule === null)
      throw new PlatformSpecError(`job "${job.name}" is scheduled but has no schedule`);
    checkSchedule(job.name, job.schedule);
  } else if (job.schedule !== null) {
    throw new PlatformSpecError(`job "${job.name}" is ${job.kind} but has a schedule`);
  }
  if (job.kind === 'service') {
    if (job.port === undefined || !Number.isInteger(job.port) || job.port < 1024 || job.port > 65535) {
      throw new PlatformSpecError(
        `service "${job.name}" needs a port from 1024 to 65535 (the image runs as a non-root user) for its health check`,
      );
    }
  } else if (job.port !== undefined) {
    throw new PlatformSpecError(`job "${job.name}" is ${job.kind} but has a port; only services listen`);
  }
  const retryBackoffSeconds = retryBackoffSecondsOf(job);
  if (!Number.isInteger(retryBackoffSeconds) || retryBackoffSeconds < PLATFORM_MIN_RETRY_BACKOFF_SECONDS) {
    throw new PlatformSpecError(
      `job "${job.name}": retryBackoffSeconds must be a whole number of seconds, at least ${PLATFORM_MIN_RETRY_BACKOFF_SECONDS} (Container Apps' own retry back-off, which no setting shortens or lengthens), got ${retryBackoffSeconds}`,
    );
  }
  const optional = optionalSourcesOf(job);
  const settings = [
    ...new Set([...job.env, ...optional.filter((setting) => configuredSources.includes(setting))]),
  ]
    .filter(isPlatformSetting)
    .sort();
  const presenceOnly = new Set(job.presenceOnly ?? []);
  const sources = optional.filter(
    (setting) => configuredSources.includes(setting) && !presenceOnly.has(setting),
  );
  // What it connects to decides its secrets: a setting it reads only for its presence brings none.
  const connected = settings.filter((setting) => !presenceOnly.has(setting));
  const lake = lakeAccessOf(job, settings);
  const warehouseLogin = settings.includes('WAREHOUSE_URL') ? warehouseLoginOf(job.name) : null;
  const size = fitContainerSize({ cpu: job.cpu, memoryMiB: job.memoryMiB });
  return {
    name: job.name,
    summary: job.summary,
    kind: job.kind,
    schedule: job.schedule === null ? null : toContainerAppsCron(job.schedule),
    cpu: size.cpu,
    memoryMiB: size.memoryMiB,
    requested: { cpu: job.cpu, memoryMiB: job.memoryMiB },
    timeoutMinutes: job.timeoutMinutes,
    retries: job.retries,
    retryBackoffSeconds,
    settings,
    environment: {
      // Cap the V8 heap below the container limit so Node fails with a stack trace, not an OOM kill; and the young
      // generation, which V8 otherwise grows by ~100 MB under the jobs' allocation rate (jobs/memory-limits.ts).
      NODE_OPTIONS: `--max-old-space-size=${Math.floor(size.memoryMiB * 0.75)} ${MAIN_THREAD_NODE_FLAGS}`,
      // Large buffers handed back to the system when freed (glibc keeps them otherwise: jobs/memory-limits.ts).
      ...MALLOC_ENVIRONMENT,
      // Every stream reader shares the one group, named here so offsets, grants and lag alerts agree.
      ...(settings.includes('STREAM_URL') ? { STREAM_GROUP_ID: STREAM_CONSUMER_GROUP } : {}),
    },
    sources,
    secrets: [
      ...[...SECRETS, ...SOURCE_SECRETS]
        .filter((s) => s.neededWith !== null && connected.includes(s.neededWith))
        .map((s) => s.name),
      ...(warehouseLogin === null ? [] : [loginSecretName(warehouseLogin)]),
    ].sort(),
    warehouseLogin,
    lake,
    stream: settings.includes('STREAM_URL')
      ? job.streamAccess === 'describe'
        ? 'describe'
        : 'readWrite'
      : null,
    command: [job.name, ...(job.args ?? [])],
  };
}

/**
 * The job's optionalEnv: further sources only, none of them also required in env; its presenceOnly among them.
 */
function optionalSourcesOf(job: JobSpec): SourceSetting[] {
  const optional = job.optionalEnv ?? [];
  const required = job.env.filter(isSourceSetting);
  if (required.length > 0)
    throw new PlatformSpecError(
      `job "${job.name}" requires ${required.join(', ')} in env; a further source is optional: list it in optionalEnv`,
    );
  const notSources = optional.filter((name) => !isSourceSetting(name));
  if (notSources.length > 0)
    throw new PlatformSpecError(
      `job "${job.name}": optionalEnv names ${notSources.join(', ')}, not a further source (${SOURCE_SETTINGS.join(', ')}); a core setting belongs in env`,
    );
  const stray = (job.presenceOnly ?? []).filter((name) => !optional.includes(name));
  if (stray.length > 0)
    throw new PlatformSpecError(
      `job "${job.name}": presenceOnly ${stray.join(', ')} is not in its optionalEnv`,
    );
  return optional.filter(isSourceSetting);
}

/** The catalog's lake access of a job that reads LAKE_URL; refuses one without it, or with it but no lake. */
function lakeAccessOf(job: JobSpec, settings: PlatformSetting[]): LakeAccess | null {
  const readsLake = settings.includes('LAKE_URL');
  if (readsLake && job.lake === undefined)
    throw new PlatformSpecError(
      `job "${job.name}" reads LAKE_URL but its catalog entry names no \`lake\` access (the prefixes it reads, writes and deletes)`,
    );
  if (!readsLake && job.lake !== undefined)
    throw new PlatformSpecError(`job "${job.name}" has \`lake\` access but does not read LAKE_URL`);
  if (job.lake === undefined) return null;
  const { read, write, delete: remove } = job.lake;
  if (read.length + write.length + remove.length === 0)
    throw new PlatformSpecError(`job "${job.name}" reads LAKE_URL but its \`lake\` access names no prefix`);
  return { read: [...read], write: [...write], delete: [...remove] };
}

/**
 * The job that builds gold must be scheduled, and its worst case from a source change to gold within the batch
 * freshness SLA, whatever its runs meet short of failing outright (see batch-freshness.ts).
 */
function checkBatchFreshness(jobs: WorkloadSpec[], runSteps: readonly RunStepSpec[]): BatchFreshnessBound {
  const goldBuild = jobs.find((job) => job.name === GOLD_BUILD_JOB);
  if (goldBuild?.kind !== 'scheduled' || goldBuild.schedule === null) {
    throw new PlatformSpecError(
      `batch freshness: the catalog must schedule "${GOLD_BUILD_JOB}", the job that builds gold, to hold the ${SLA.batchFreshnessMinutes}-minute SLA; ${goldBuild === undefined ? 'it has no such job' : `it is ${goldBuild.kind}`}`,
    );
  }
  const bound = batchFreshnessBound({ ...goldBuild, schedule: goldBuild.schedule }, runSteps);
  const problem = batchFreshnessProblem(bound, SLA.batchFreshnessMinutes);
  if (problem !== null) throw new PlatformSpecError(`batch freshness: ${problem}`);
  return bound;
}

/** A schedule both clouds can run, or an error naming the job as well as the cron problem. */
function checkSchedule(jobName: string, schedule: string): void {
  try {
    parseCron(schedule);
  } catch (error) {
    if (error instanceof CronError) throw new PlatformSpecError(`job "${jobName}": ${error.message}`);
    throw error;
  }
}

/** A service job: its workload plus replicas, stop timeout, port, health check and ingress. */
function toService(job: JobSpec, workload: WorkloadSpec, config: StackConfig): ServiceSpec {
  const consumer = readsStream(workload);
  // A called service (the monitor) answers only the names it is reached by (DNS rebinding): the stack names them.
  const hostNames: Record<string, string> =
    !consumer && config.monitorHostNames.length > 0
      ? { MONITOR_ALLOWED_HOSTS: config.monitorHostNames.join(',') }
      : {};
  return {
    ...workload,
    environment: { ...workload.environment, ...hostNames },
    // Stream consumers scale with partitions; other services (the monitor) run one replica.
    replicas: consumer ? config.stream.serviceReplicas : 1,
    stopTimeoutSeconds: 120,
    // toWorkload refuses a service without a port.
    port: job.port as number,
    health: { ...SERVICE_HEALTH },
    // A stream consumer's port only answers its own health checks; any other service is there to be
    // called (the monitor's UI), so its port is open to the private network, never to the internet.
    ingress: consumer ? 'none' : 'internal',
  };
}

/** Workloads that consume the event stream: they share the consumer group; as services they scale with partitions. */
export function readsStream(workload: WorkloadSpec): boolean {
  return workload.stream === 'readWrite';
}

function buildTopics(
  config: StackConfig,
  streamTopics: readonly StreamTopicSpec[],
  services: ServiceSpec[],
): TopicSpec[] {
  checkUniqueNames([...streamTopics.map((t) => t.topic), DEAD_LETTER_TOPIC], 'topic');
  const consumers = services.some(readsStream) ? [STREAM_CONSUMER_GROUP] : [];
  const topics: TopicSpec[] = streamTopics.map((t) => ({
    name: t.topic,
    partitions: t.partitions,
    retentionHours: config.stream.retentionHours,
    consumerGroups: consumers,
  }));
  for (const service of services.filter(readsStream)) {
    const narrowest = Math.min(...topics.map((t) => t.partitions));
    if (service.replicas > narrowest) {
      throw new PlatformSpecError(
        `service "${service.name}" has ${service.replicas} replicas but a topic has only ${narrowest} partitions`,
      );
    }
  }
  // Poison events go here with their reasons instead of blocking a partition; kept the longest allowed.
  const partitions = Math.max(1, ...streamTopics.map((t) => t.partitions));
  topics.push({ name: DEAD_LETTER_TOPIC, partitions, retentionHours: 168, consumerGroups: [] });
  return topics;
}

function checkUniqueNames(names: string[], what: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new PlatformSpecError(`duplicate ${what} name "${name}"`);
    seen.add(name);
  }
}
