/**
 * The job catalog: every job the container image runs, with how the platform schedules and sizes it.
 * The CLI's help and both clouds' job runners (infra/) are generated from this list, so a job is declared once.
 */
import { EVENT_TOPICS } from './contracts/event-topics.ts';

/** The flags every job starts with, in the image and on both stacks (why: jobs/memory-limits.ts). */
export { MAIN_THREAD_NODE_FLAGS, MALLOC_ENVIRONMENT } from './memory-limits.ts';

export interface JobSpec {
  /** CLI verb: `ecomm <name>`. */
  name: string;
  summary: string;
  /** Cron (UTC, 5 fields) for scheduled jobs; null for jobs run on demand or as a service. */
  schedule: string | null;
  /** Scheduled batch job, long-running service, or a manual tool. */
  kind: 'scheduled' | 'service' | 'manual';
  cpu: number;
  memoryMiB: number;
  /** Per attempt: the cloud stops an attempt still running after this and counts it failed (0 for services). */
  timeoutMinutes: number;
  /**
   * Attempts the cloud makes after a failed or timed-out one, in the same scheduled execution (Step Functions'
   * Retry on AWS, replicaRetryLimit on Azure); `ecomm run` resumes after its last completed step.
   */
  retries: number;
  /**
   * The cloud's wait before the first retry, doubling before each next one; DEFAULT_RETRY_BACKOFF_SECONDS when
   * unset. Step Functions waits exactly this; Container Apps applies its own shorter back-off (infra/batch-freshness.ts).
   */
  retryBackoffSeconds?: number;
  /** Environment variables the job reads (see jobs/config.ts); a deployed container requires every one. */
  env: string[];
  /**
   * Optional settings the job reads when they are set (a further source's URL: jobs/extract/sources.ts): the stacks
   * give each one only where it is configured, with its source's secret and the way out to it; a container never
   * requires one.
   */
  optionalEnv?: string[];
  /**
   * Those of `optionalEnv` the job reads only to learn that the source is configured, never connecting to it
   * (FX_SOURCE_URL tells reconcile and backfill that fx_rates no longer comes from SOURCE_URL): the stacks give it
   * the URL but neither the source's secret nor a way out to it.
   */
  presenceOnly?: string[];
  /** Arguments after the job name when the platform runs it, e.g. a service's `--follow`. */
  args?: string[];
  /** Services only: the TCP port the service listens on (its `/healthz`, and for the monitor its UI). */
  port?: number;
  /**
   * Takes the warehouse's batch lease (ops.run_leases, jobs/ops/run-lease.ts) for its whole run: two such jobs never
   * work on one warehouse at once (a manual load cannot overlap a scheduled run); the second waits up to
   * RUN_LOCK_WAIT_SECONDS, then exits 75.
   */
  runLease?: boolean;
  /**
   * Runs as the warehouse's admin (`ecomm grants`, the one such job: it creates the other logins). Every other job
   * with a WAREHOUSE_URL logs in as its own login, `ecomm_<job>` (jobs/grants/policy.ts, docs/access.md).
   */
  warehouseAdmin?: boolean;
  /**
   * What the job does in the lake, by top-level prefix (docs/architecture.md, "Data flow"; jobs/lake/layout.ts):
   * each cloud lets the job's own identity read, write and delete there and nowhere else. Every job that reads
   * LAKE_URL names it; one that does not must not have it.
   */
  lake?: LakeAccess;
  /**
   * Writes synthetic data into the source database and the production topics (`generate`): the stacks deploy it
   * only when their `deploySeedJobs` setting asks for it.
   */
  seedsData?: boolean;
  /**
   * Reads STREAM_URL only to describe the topics (retention, offsets by time) and the consumer group's committed
   * offsets (`watchdog`): the stacks let it read and write no message. A job with STREAM_URL and no such mark
   * consumes and produces.
   */
  streamAccess?: 'describe';
}

/** The lake's top-level prefixes: the zones, the ledger copies (`tombstones/`, `decisions/`) and `lineage/`. */
export const LAKE_PREFIXES = [
  'raw/',
  'staging/',
  'quarantine/',
  'tombstones/',
  'decisions/',
  'lineage/',
] as const;
export type LakePrefix = (typeof LAKE_PREFIXES)[number];

/** Prefixes a job reads (get, head, list), writes (put) and deletes under. */
export interface LakeAccess {
  read: LakePrefix[];
  write: LakePrefix[];
  delete: LakePrefix[];
}

/** The union of what several steps do in the lake, each list sorted and without repeats. */
export function lakeAccess(...steps: Partial<LakeAccess>[]): LakeAccess {
  const union = (pick: (step: Partial<LakeAccess>) => LakePrefix[] | undefined) =>
    [...new Set(steps.flatMap((step) => pick(step) ?? []))].sort();
  return { read: union((s) => s.read), write: union((s) => s.write), delete: union((s) => s.delete) };
}

/*
 * What each step does in the lake, from its code: the shared pieces every caller inherits (a batch failure's
 * copy in `decisions/`, the lineage events in `lineage/`), then the step's own keys.
 */
/** OpenLineage events of every run go to `lineage/run_id=<id>/` (jobs/lineage/sink.ts, the default sink). */
const LINEAGE_LAKE: Partial<LakeAccess> = { write: ['lineage/'] };
const EXTRACT_LAKE: Partial<LakeAccess> = { write: ['raw/'] };
/** Micro-batches to raw/; a batch that fails on its own data leaves its decision (jobs/ops/batch-decisions.ts). */
const STREAM_INGEST_LAKE: Partial<LakeAccess> = { write: ['raw/', 'decisions/'] };
/** raw/ in, staging/ and quarantine/ out; a replay that quarantines nothing now empties its old quarantine file. */
const VALIDATE_LAKE: Partial<LakeAccess> = {
  read: ['raw/'],
  write: ['staging/', 'quarantine/', 'decisions/'],
};
/** Reads a staged batch's rejected lines and its quarantine file to report them. */
const LOAD_LAKE: Partial<LakeAccess> = { read: ['staging/', 'quarantine/'], write: ['decisions/'] };
/** Tombstones, and repair batches re-extracted to raw/ (an empty one writes no object). */
const RECONCILE_LAKE: Partial<LakeAccess> = { write: ['raw/', 'tombstones/'] };
const TRANSFORM_LAKE: Partial<LakeAccess> = { write: ['decisions/'] };
/** Retry supersedes a batch's decision with a cleared one (and re-validates and loads it); skip writes one. */
const BATCHES_LAKE: Partial<LakeAccess> = { read: ['staging/'], write: ['decisions/'] };
/** Re-validates quarantined rows from raw/ and their quarantine file into a new staged batch. */
const QUARANTINE_LAKE: Partial<LakeAccess> = { read: ['raw/', 'quarantine/'], write: ['staging/'] };
/** A window re-extracted to raw/ (no object when empty), its decision cleared, then validated and loaded. */
const BACKFILL_LAKE: Partial<LakeAccess> = { write: ['raw/', 'decisions/'] };
/** Reads every batch, tombstone and decision the lake keeps (jobs/rebuild/inventory.ts). */
const REBUILD_LAKE: Partial<LakeAccess> = {
  read: ['raw/', 'staging/', 'quarantine/', 'tombstones/', 'decisions/'],
};

/**
 * The warehouse login a job connects as: `ecomm_` and its name, dashes as underscores (`ecomm_stream_ingest`).
 * Both stacks create each login's password secret; `ecomm grants` creates the logins with what each may do.
 */
export function warehouseLoginOf(jobName: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(jobName))
    throw new Error(`job name "${jobName}": expected lowercase letters, digits and dashes`);
  return `ecomm_${jobName.replace(/-/g, '_')}`;
}

const LAKE_WAREHOUSE = ['LAKE_URL', 'WAREHOUSE_URL', 'SECRETS_URL'];
/**
 * The further sources extract reads when set (jobs/extract/sources.ts): the CRM, Snowflake's history and the FX
 * vendor, each with a credential in the secret store.
 */
const FURTHER_SOURCES = ['CRM_SOURCE_URL', 'HISTORY_SOURCE_URL', 'FX_SOURCE_URL'];
/** Set, it means fx_rates comes from the vendor: reconcile and backfill then leave SOURCE_URL's table alone. */
const REPLACING_SOURCES = ['FX_SOURCE_URL'];

/** The cloud's wait before a job's first retry when its entry names none. */
export const DEFAULT_RETRY_BACKOFF_SECONDS = 60;

/**
 * The variable the clouds set, in every attempt of a scheduled (or manually started) execution, to that
 * execution's name, the same for each retry of it: so a retried `ecomm run` can tell it continues the same
 * execution and resume. AWS passes the Step Functions execution name as RUN_EXECUTION_ID; Container Apps sets
 * CONTAINER_APP_JOB_EXECUTION_NAME in every job replica itself, which the run reads when RUN_EXECUTION_ID is unset.
 */
export const RUN_EXECUTION_ID_ENV = 'RUN_EXECUTION_ID';
export const AZURE_JOB_EXECUTION_ENV = 'CONTAINER_APP_JOB_EXECUTION_NAME';

/** Keeps each job's name as a literal type: the CLI's map of job entries must then name every job, and only those. */
function catalogOf<Name extends string>(jobs: (JobSpec & { name: Name })[]): (JobSpec & { name: Name })[] {
  return jobs;
}

export const JOB_CATALOG = catalogOf([
  {
    name: 'generate',
    summary: 'Seed the source database and event stream with deterministic synthetic store data',
    schedule: null,
    kind: 'manual',
    cpu: 1,
    memoryMiB: 1024,
    timeoutMinutes: 30,
    retries: 0,
    // Not CRM_SOURCE_URL or HISTORY_SOURCE_URL, though `generate` seeds those sources when they are set: the stacks'
    // credentials are extract's, read-only, and synthetic data belongs in a test portal or schema seeded from
    // outside the stack (`--crm-url`, `--history-url`: docs/generator.md).
    env: ['SOURCE_URL', 'STREAM_URL', 'SECRETS_URL'],
    seedsData: true,
  },
  {
    name: 'extract',
    summary: 'Copy changed OLTP rows (updated_at watermark) into lake raw/ as CSV',
    schedule: null,
    kind: 'manual',
    cpu: 0.5,
    memoryMiB: 1024,
    timeoutMinutes: 30,
    retries: 2,
    runLease: true,
    env: ['SOURCE_URL', ...LAKE_WAREHOUSE],
    optionalEnv: FURTHER_SOURCES,
    lake: lakeAccess(EXTRACT_LAKE, LINEAGE_LAKE),
  },
  {
    name: 'stream-ingest',
    summary:
      'Move the event topics into lake raw/ as Zstandard NDJSON micro-batches, committing offsets after writes (--follow: the service)',
    schedule: null,
    kind: 'service',
    cpu: 1,
    memoryMiB: 2048,
    timeoutMinutes: 0,
    retries: 0,
    env: ['STREAM_URL', ...LAKE_WAREHOUSE],
    args: ['--follow'],
    // /healthz, /readyz and /status: --health-port's default, ECOMM_HEALTH_PORT in the image.
    port: 8080,
    lake: lakeAccess(STREAM_INGEST_LAKE, LINEAGE_LAKE),
  },
  {
    name: 'validate',
    summary: 'Check raw batches against the data contracts: valid rows to staging/, invalid to quarantine/',
    schedule: null,
    kind: 'manual',
    cpu: 1,
    memoryMiB: 2048,
    timeoutMinutes: 30,
    retries: 2,
    runLease: true,
    env: LAKE_WAREHOUSE,
    lake: lakeAccess(VALIDATE_LAKE, LINEAGE_LAKE),
  },
  {
    name: 'load',
    summary: 'Bulk-load staged batches into warehouse bronze, idempotent by batch id',
    schedule: null,
    kind: 'manual',
    cpu: 0.5,
    memoryMiB: 1024,
    timeoutMinutes: 30,
    retries: 2,
    runLease: true,
    env: LAKE_WAREHOUSE,
    lake: lakeAccess(LOAD_LAKE, LINEAGE_LAKE),
  },
  {
    name: 'reconcile',
    summary:
      'Compare source keys with the warehouse: tombstone hard deletes, re-extract late commits beyond the lookback',
    schedule: null,
    kind: 'manual',
    cpu: 0.5,
    memoryMiB: 1024,
    timeoutMinutes: 30,
    retries: 1,
    runLease: true,
    env: ['SOURCE_URL', ...LAKE_WAREHOUSE],
    optionalEnv: REPLACING_SOURCES,
    presenceOnly: REPLACING_SOURCES,
    lake: lakeAccess(RECONCILE_LAKE, LINEAGE_LAKE),
  },
  {
    name: 'transform',
    summary: 'Build the sql/ models bronze -> silver -> gold in dependency order, gated by quality checks',
    schedule: null,
    kind: 'manual',
    cpu: 0.5,
    memoryMiB: 1024,
    timeoutMinutes: 45,
    retries: 1,
    runLease: true,
    env: LAKE_WAREHOUSE,
    lake: lakeAccess(TRANSFORM_LAKE, LINEAGE_LAKE),
  },
  {
    name: 'quality',
    summary: 'Run the data-quality checks of a layer into dq_findings; exit 1 when a blocking check fails',
    schedule: null,
    kind: 'manual',
    cpu: 0.5,
    memoryMiB: 1024,
    timeoutMinutes: 30,
    retries: 0,
    env: LAKE_WAREHOUSE,
    lake: lakeAccess(LINEAGE_LAKE),
  },
  {
    name: 'run',
    summary:
      'Run the whole batch DAG once (extract, stream-ingest, validate, load, reconcile, transform, quality)',
    // The one scheduled batch unit; its steps are the jobs above, run by hand when needed. Hourly, with limits that
    // keep a source change's worst case to gold at 60 + 1 (start) + 2 x 6 + 0.5 = 73.5 minutes, inside the
    // 75-minute SLA; the platform spec refuses limits that would not (infra/batch-freshness.ts).
    schedule: '5 * * * *',
    kind: 'scheduled',
    cpu: 1,
    memoryMiB: 2048,
    timeoutMinutes: 6,
    retries: 1,
    retryBackoffSeconds: 30,
    runLease: true,
    env: ['SOURCE_URL', 'STREAM_URL', ...LAKE_WAREHOUSE],
    // Its extract step reads every further source; its reconcile step only learns of FX_SOURCE_URL.
    optionalEnv: FURTHER_SOURCES,
    lake: lakeAccess(
      EXTRACT_LAKE,
      STREAM_INGEST_LAKE,
      VALIDATE_LAKE,
      LOAD_LAKE,
      RECONCILE_LAKE,
      TRANSFORM_LAKE,
      LINEAGE_LAKE,
    ),
  },
  {
    name: 'monitor',
    summary: 'Serve the monitoring UI (runs, freshness, data quality, quarantine, lineage, KPIs), read-only',
    schedule: null,
    kind: 'service',
    cpu: 0.25,
    memoryMiB: 512,
    timeoutMinutes: 0,
    retries: 0,
    // Reads the warehouse only (its password through the secret store): no lake, no stream.
    env: ['WAREHOUSE_URL', 'SECRETS_URL'],
    // Listens on every interface of its container, on the default port 8090 (or MONITOR_PORT).
    args: ['--host', '0.0.0.0'],
    port: 8090,
  },
  {
    name: 'grants',
    summary:
      'Create the warehouse roles of the access policy (jobs/grants/policy.ts) and bring their privileges in step with it, as the admin; --dry-run prints the statements',
    schedule: null,
    kind: 'manual',
    cpu: 0.25,
    memoryMiB: 512,
    timeoutMinutes: 10,
    retries: 1,
    // It reads every job login's password secret (docs/access.md).
    env: ['WAREHOUSE_URL', 'SECRETS_URL'],
    warehouseAdmin: true,
  },
  {
    name: 'watchdog',
    summary:
      'Hourly data-quality watchdog: freshness, volume anomalies, nulls, references, business rules; incidents and alerts',
    schedule: '50 * * * *',
    kind: 'scheduled',
    cpu: 0.25,
    memoryMiB: 512,
    timeoutMinutes: 20,
    retries: 1,
    env: ['STREAM_URL', ...LAKE_WAREHOUSE],
    streamAccess: 'describe',
    lake: lakeAccess(LINEAGE_LAKE),
  },
  {
    name: 'quarantine',
    summary:
      "Quarantine tools: 'replay --batch <id>' re-validates quarantined rows with the current contracts",
    schedule: null,
    kind: 'manual',
    cpu: 0.5,
    memoryMiB: 1024,
    timeoutMinutes: 30,
    retries: 0,
    env: LAKE_WAREHOUSE,
    lake: lakeAccess(QUARANTINE_LAKE, LINEAGE_LAKE),
  },
  {
    name: 'batches',
    summary:
      "Batches held back by their own bad data: 'list [--status failed|skipped|pending|all]', 'retry --batch <id>', 'skip --batch <id> --reason <text>', 'reload --batch <id> --reason <text>'; retention gaps: 'gaps', 'acknowledge-gap --gap <id> --reason <text>' (audited)",
    schedule: null,
    kind: 'manual',
    cpu: 0.5,
    memoryMiB: 1024,
    timeoutMinutes: 30,
    retries: 0,
    env: LAKE_WAREHOUSE,
    lake: lakeAccess(BATCHES_LAKE, VALIDATE_LAKE, LOAD_LAKE, LINEAGE_LAKE),
  },
  {
    name: 'backfill',
    summary:
      "Re-extract one source table's rows changed in a window into a backfill batch, then validate and load it; the watermark stays: '--source <table> --from <ts> --to <ts>' (audited)",
    schedule: null,
    kind: 'manual',
    cpu: 0.5,
    memoryMiB: 1024,
    timeoutMinutes: 60,
    retries: 0,
    env: ['SOURCE_URL', ...LAKE_WAREHOUSE],
    optionalEnv: REPLACING_SOURCES,
    presenceOnly: REPLACING_SOURCES,
    runLease: true,
    lake: lakeAccess(BACKFILL_LAKE, VALIDATE_LAKE, LOAD_LAKE, LINEAGE_LAKE),
  },
  {
    name: 'rebuild',
    summary:
      'Disaster recovery: rebuild bronze, silver and gold in an empty warehouse from the lake alone (batches, decisions, tombstones, watermarks); --force to empty a used one (audited)',
    schedule: null,
    kind: 'manual',
    cpu: 1,
    memoryMiB: 2048,
    timeoutMinutes: 180,
    retries: 0,
    env: LAKE_WAREHOUSE,
    runLease: true,
    lake: lakeAccess(REBUILD_LAKE, VALIDATE_LAKE, LOAD_LAKE, TRANSFORM_LAKE, LINEAGE_LAKE),
  },
]);

/**
 * One step of `ecomm run`'s DAG, in the order the run takes them. A step that fails on an outage (a server down, a
 * timeout; not bad data, which is isolated per batch) is retried in the same run after `backoffSeconds`, doubling
 * each time, at most `retries` times; the run as a whole is retried by the cloud's scheduler per its catalog entry,
 * and a retried run resumes after its last completed step.
 */
export interface RunStepSpec {
  step: 'extract' | 'stream-ingest' | 'validate' | 'load' | 'reconcile' | 'quality bronze' | 'transform';
  retries: number;
  backoffSeconds: number;
}

export const RUN_STEPS: readonly RunStepSpec[] = [
  { step: 'extract', retries: 2, backoffSeconds: 10 },
  { step: 'stream-ingest', retries: 2, backoffSeconds: 10 },
  { step: 'validate', retries: 2, backoffSeconds: 10 },
  { step: 'load', retries: 2, backoffSeconds: 10 },
  { step: 'reconcile', retries: 1, backoffSeconds: 10 },
  { step: 'quality bronze', retries: 1, backoffSeconds: 10 },
  { step: 'transform', retries: 1, backoffSeconds: 10 },
];

/** `ecomm <name>` for every job of the catalog. */
export type JobName = (typeof JOB_CATALOG)[number]['name'];

export function findJob(name: string): JobSpec | undefined {
  return JOB_CATALOG.find((job) => job.name === name);
}

/** The cloud's wait before a job's first retry. */
export function retryBackoffSecondsOf(job: JobSpec): number {
  return job.retryBackoffSeconds ?? DEFAULT_RETRY_BACKOFF_SECONDS;
}

/** A topic of the event stream as the platform provisions it. */
export interface StreamTopicSpec {
  /** Kafka topic (Event Hubs event hub) name. */
  topic: string;
  partitions: number;
}

/**
 * The topics the jobs read and write, with their partitions: what infra/ provisions on MSK and Event
 * Hubs. Derived from the event contracts so infra/ needs nothing from jobs/ but this file.
 */
export const STREAM_TOPICS: readonly StreamTopicSpec[] = EVENT_TOPICS.map(({ topic, partitions }) => ({
  topic,
  partitions,
}));
