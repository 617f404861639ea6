import { z } from 'zod';
import { redactUrl } from '../adapters/redact.ts';
import { SECRETS_SCHEMES } from '../adapters/secrets/index.ts';
import { SOURCE_SCHEMES } from '../adapters/source/index.ts';
import { STORAGE_SCHEMES } from '../adapters/storage/index.ts';
import { STREAM_SCHEMES } from '../adapters/stream/index.ts';
import { schemeOf } from '../adapters/url.ts';
import { WAREHOUSE_SCHEMES } from '../adapters/warehouse/index.ts';
import { ALERT_CONFIG_SHAPE } from './alerts/settings.ts';
import { CONTRACT_CONFIG_SHAPE } from './contracts/settings.ts';
import { KPI_CONFIG_SHAPE } from './kpis/settings.ts';
import { LINEAGE_CONFIG_SHAPE } from './lineage/settings.ts';

/**
 * A host name MONITOR_ALLOWED_HOSTS may hold (jobs/monitor/allowed-hosts.ts): a DNS name or an IP address, without a
 * port or a wildcard.
 */
export const ALLOWED_HOST_PATTERN =
  /^(\[[0-9a-f:.]+\]|[0-9a-f]*:[0-9a-f:.]+|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?)$/i;

/** Settings every job reads: 12-factor, from the environment, overridable by CLI flags. */
export const EMBEDDED_DEFAULTS = {
  LAKE_URL: 'file://./data/lake',
  STREAM_URL: 'memory://./data/stream',
  WAREHOUSE_URL: 'pglite://./data/warehouse',
  SOURCE_URL: 'pglite://./data/source',
  SECRETS_URL: 'env://',
} as const;

/** Backends each setting can name: the keys of the adapter factories. */
export const SUPPORTED_SCHEMES: Record<keyof typeof EMBEDDED_DEFAULTS, string[]> = {
  LAKE_URL: STORAGE_SCHEMES,
  STREAM_URL: STREAM_SCHEMES,
  WAREHOUSE_URL: WAREHOUSE_SCHEMES,
  // Extract reads it through a source connector, reconcile and backfill query it as a database: it must be both.
  SOURCE_URL: WAREHOUSE_SCHEMES.filter((scheme) => SOURCE_SCHEMES.includes(scheme)),
  SECRETS_URL: SECRETS_SCHEMES,
};

/** Ports and address the services listen on unless told otherwise; the CLI's help shows them as the defaults. */
export const SERVICE_DEFAULTS = {
  ECOMM_HEALTH_PORT: 8080,
  /** Loopback: outside a container nothing else needs the health port; the image sets 0.0.0.0 (Dockerfile). */
  ECOMM_HEALTH_HOST: '127.0.0.1',
  MONITOR_PORT: 8090,
  MONITOR_HOST: '127.0.0.1',
} as const;

const tcpPort = z.coerce.number().int().min(0).max(65_535);

const adapterUrl = (setting: keyof typeof EMBEDDED_DEFAULTS) =>
  z
    .string()
    .default(EMBEDDED_DEFAULTS[setting])
    .refine((url) => SUPPORTED_SCHEMES[setting].includes(schemeOf(url) ?? ''), {
      message: `must be a URL starting with ${SUPPORTED_SCHEMES[setting].map((s) => `${s}://`).join(' or ')}`,
    });

/**
 * A further source extract reads when it is set, `<NAME>_SOURCE_URL: optionalSourceUrl()` in the schema below (its
 * streams go in jobs/extract/sources.ts): any scheme a source connector serves.
 */
export const optionalSourceUrl = () =>
  z
    .string()
    .optional()
    .refine((url) => url === undefined || SOURCE_SCHEMES.includes(schemeOf(url) ?? ''), {
      message: `must be a URL starting with ${SOURCE_SCHEMES.map((s) => `${s}://`).join(' or ')}`,
    });

const configSchema = z.object({
  LAKE_URL: adapterUrl('LAKE_URL'),
  STREAM_URL: adapterUrl('STREAM_URL'),
  WAREHOUSE_URL: adapterUrl('WAREHOUSE_URL'),
  SOURCE_URL: adapterUrl('SOURCE_URL'),
  /** The CRM (HubSpot, `hubspot://…?tokenSecret=<name>`): its contacts, companies and their association. */
  CRM_SOURCE_URL: optionalSourceUrl(),
  /**
   * The historical analytics warehouse (Snowflake, `snowflake://<account>/<db>/<schema>?…&passwordSecret=<name>`):
   * daily sales from before the OLTP database, in gold.agg_daily_sales_history.
   */
  HISTORY_SOURCE_URL: optionalSourceUrl(),
  /**
   * The FX rates vendor (`fxrates://…?keySecret=<name>&start=<day>`): when set, fx_rates is read from it instead of
   * SOURCE_URL's fx_rates table (and reconcile leaves that table alone).
   */
  FX_SOURCE_URL: optionalSourceUrl(),
  SECRETS_URL: adapterUrl('SECRETS_URL'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  /** Rows younger than this are left for the next extract, so a transaction still in flight is not skipped. */
  EXTRACT_SAFETY_LAG_SECONDS: z.coerce.number().int().min(0).max(86_400).default(0),
  /**
   * Each extract re-reads this far behind the watermark: a transaction that commits after an extract with an
   * updated_at older than the watermark (stamped when it began) is picked up by the next one. Silver keeps one row
   * per (key, updated_at), so a re-read row is never doubled. Later commits are left to the reconciliation.
   */
  EXTRACT_LOOKBACK_SECONDS: z.coerce.number().int().min(0).max(604_800).default(900),
  /**
   * The reconciliation refuses (fails, writing nothing) when more than this percent of a table's keys would be
   * marked deleted at once: a source emptied or pointed at the wrong database must not delete the warehouse.
   */
  RECONCILE_MAX_DELETE_PERCENT: z.coerce.number().min(0).max(100).default(20),
  /**
   * The batch pipeline's lease (ops.run_leases) expires this long after its holder's last heartbeat; the holder
   * renews it every third of it. A run that died (kill -9, a lost node) holds the warehouse at most this long, and
   * its run row is then marked abandoned.
   */
  RUN_LEASE_SECONDS: z.coerce.number().int().min(3).max(86_400).default(300),
  /** How long `ecomm run` (and each batch job) waits for the lease another run holds before it gives up (exit 75). */
  RUN_LOCK_WAIT_SECONDS: z.coerce.number().int().min(0).max(86_400).default(0),
  /**
   * The scheduled execution this process is an attempt of (the cloud retries a failed run as a new process in the
   * same execution): an attempt resumes after the last completed step of the previous failed or abandoned one.
   * Falls back to CONTAINER_APP_JOB_EXECUTION_NAME (Azure Container Apps jobs); unset: every run starts afresh.
   */
  RUN_EXECUTION_ID: z
    .string()
    .max(128)
    .regex(/^[A-Za-z0-9._:/-]+$/, 'may hold only letters, digits, ".", "_", ":", "/" and "-"')
    .optional(),
  /**
   * Worker threads `validate` checks raw batches on (one batch per thread at a time), when a run has at least two
   * batches and 50,000 raw rows. Unset: the machine's cores, at most 4; 1 validates on the job's own thread.
   */
  VALIDATE_WORKERS: z.coerce.number().int().min(1).max(16).optional(),
  /**
   * Bronze tables `load` COPYs into at once: one COPY keeps one of the warehouse's cores busy. A table's batches
   * always load one after the other, in ledger order. 1 loads every batch one after the other; so does Redshift
   * (jobs/load/index.ts loadLanes).
   */
  LOAD_CONCURRENCY: z.coerce.number().int().min(1).max(8).default(2),
  /**
   * Models `transform` builds at once (each once the models it reads are built), and their checks after: one CTAS
   * keeps one of the warehouse's cores busy. What must run in the publishing transaction (the incremental models,
   * what reads them) runs in turn. 1 builds every model one after the other.
   */
  TRANSFORM_CONCURRENCY: z.coerce.number().int().min(1).max(8).default(2),
  STREAM_GROUP_ID: z.string().min(1).default('ecomm-stream-ingest'),
  /**
   * Where a consumer group with no committed offset starts: the oldest event the broker keeps (earliest; events
   * already deleted by retention are reported as a gap), the end of the log (latest: earlier events are skipped on
   * purpose, and not reported), or where the ledger says the pipeline stopped reading each partition (ledger: the
   * offset after its last recorded batch; a partition it never read starts at the oldest event kept).
   */
  STREAM_START_POSITION: z.enum(['earliest', 'latest', 'ledger']).default('earliest'),
  /** Prepended to every topic name, so environments (or test runs) can share one broker. */
  STREAM_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, ".", "_" and "-"')
    .default(''),
  STREAM_BATCH_MAX_EVENTS: z.coerce.number().int().min(1).max(1_000_000).default(50_000),
  /** A micro-batch also closes at this many value bytes (uncompressed), and a fetch returns once it has them. */
  STREAM_BATCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(256 * 1024 * 1024)
    .default(8 * 1024 * 1024),
  /** ...or once this many milliseconds passed since its fetch began (the broker's fetch wait). */
  STREAM_BATCH_MAX_AGE_MS: z.coerce.number().int().min(10).max(300_000).default(5_000),
  /**
   * Consumer-group members the stream service runs in one process (Kafka only; the embedded log has one). Each
   * member fetches and writes in turn, so while one member's fetch is decoded the others' micro-batches are
   * encoded and written. Three, the partition count of each event topic: every partition of a busy topic gets a
   * member of its own (with two, one member carries two of the three).
   */
  STREAM_CONSUMERS: z.coerce.number().int().min(1).max(16).default(3),
  /**
   * The watchdog opens an incident when the oldest event the consumer group has not read is older than this share of
   * the topic's retention: the broker would delete it unread if ingestion does not catch up (jobs/watchdog/stream-retention.ts).
   */
  STREAM_RETENTION_ALERT_SHARE: z.coerce.number().gt(0).lt(1).default(0.5),
  /** The stream service retries an unavailable lake or warehouse with backoff doubling up to this delay. */
  STREAM_BACKOFF_MAX_MS: z.coerce.number().int().min(10).max(600_000).default(30_000),
  /**
   * `on`: the stream service also validates, dead-letters, loads and applies to silver (stage 2). `off`: this
   * replica only ingests (stage 1), for deployments that scale the two stages apart; another replica with `on`
   * (or `ecomm stream-ingest --follow` with it on) must then run, or service batches wait in the ledger.
   */
  STREAM_APPLY: z.enum(['on', 'off']).default('on'),
  /**
   * How long a stop request (SIGTERM, SIGINT) may take before the process exits anyway: the unit in hand is
   * finished within it. ECS and Container Apps wait 30 s before they kill, so the default leaves a margin.
   */
  ECOMM_SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).max(3_600).default(25),
  /**
   * The laptop demo: with every backend embedded (and only then) a built-in PII hash key stands in for a missing
   * PII_HASH_KEY. Off by default, so a real deployment missing its key fails (exit 2) instead of hashing with a
   * key anyone can read in this repository. `npm start` and the README quick start turn it on.
   */
  ECOMM_DEMO: z
    .string()
    .regex(/^(1|true|yes|0|false|no)$/i, 'must be 1, true or yes (on), or 0, false or no (off)')
    .default('0')
    .transform((value) => /^(1|true|yes)$/i.test(value)),
  /** The stream service's /healthz, /readyz and /status port: `--health-port` overrides it. */
  ECOMM_HEALTH_PORT: tcpPort.default(SERVICE_DEFAULTS.ECOMM_HEALTH_PORT),
  /**
   * The address the stream service's health server binds: loopback unless told otherwise, so a laptop's service
   * does not show its lag and offsets to the network. The image binds every interface: Azure's liveness probe
   * comes from outside the container.
   */
  ECOMM_HEALTH_HOST: z.string().min(1).default(SERVICE_DEFAULTS.ECOMM_HEALTH_HOST),
  /** The monitor's port and address: `--port` and `--host` override them. */
  MONITOR_PORT: tcpPort.default(SERVICE_DEFAULTS.MONITOR_PORT),
  MONITOR_HOST: z.string().min(1).default(SERVICE_DEFAULTS.MONITOR_HOST),
  /**
   * Host names (comma-separated, no port) the monitor answers to besides localhost, 127.0.0.1, [::1] and the
   * address it is bound to: the names people reach it by (the stacks pass theirs). Any other Host gets 421, so a
   * rebound DNS name cannot read /api/*.
   */
  MONITOR_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((text) =>
      text
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== ''),
    )
    .refine((names) => names.every((name) => ALLOWED_HOST_PATTERN.test(name)), {
      message: 'must be host names or IP addresses separated by commas, without ports or wildcards',
    }),
  ...CONTRACT_CONFIG_SHAPE,
  ...LINEAGE_CONFIG_SHAPE,
  ...ALERT_CONFIG_SHAPE,
  ...KPI_CONFIG_SHAPE,
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads and validates every setting at once, so one message lists every bad variable. */
export function loadConfig(
  environment: Record<string, string | undefined> = process.env,
  options: { required?: readonly string[] } = {},
): Config {
  const known = Object.fromEntries(
    Object.keys(configSchema.shape).map((key) => [key, blankToUndefined(environment[key])]),
  );
  // Azure Container Apps names each job execution (its retries share it); the stacks may also set it explicitly.
  known.RUN_EXECUTION_ID ??= blankToUndefined(environment.CONTAINER_APP_JOB_EXECUTION_NAME);
  const missing = (options.required ?? [])
    .filter((key) => known[key] === undefined && key in configSchema.shape)
    .map((key) => `${key}: required here (no embedded default when ECOMM_REQUIRE_SETTINGS is on)`);
  const parsed = configSchema.safeParse(known);
  if (parsed.success && missing.length === 0) return parsed.data;
  const invalid = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? 'config');
        const shown = environment[key] === undefined ? '' : ` (got "${redactUrl(environment[key] ?? '')}")`;
        return `${key}${shown}: ${issue.message}`;
      });
  throw new ConfigError([...missing, ...invalid]);
}

/**
 * In a deployed container (ECOMM_REQUIRE_SETTINGS=true, set by the image) a job must be told where everything is:
 * falling back to a laptop default would silently write to the container's disk.
 */
export function requiresExplicitSettings(
  environment: Record<string, string | undefined> = process.env,
): boolean {
  return /^(1|true|yes)$/i.test(environment.ECOMM_REQUIRE_SETTINGS ?? '');
}

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** True when every backend (source, lake, warehouse, stream, secrets) is the embedded one: nothing leaves the laptop. */
export function isEmbedded(config: Config): boolean {
  return (Object.keys(EMBEDDED_DEFAULTS) as (keyof typeof EMBEDDED_DEFAULTS)[]).every(
    (setting) => schemeOf(config[setting]) === schemeOf(EMBEDDED_DEFAULTS[setting]),
  );
}

/** The laptop demo, where a built-in PII key is acceptable: every backend embedded and ECOMM_DEMO on. */
export function isDemo(config: Config): boolean {
  return config.ECOMM_DEMO && isEmbedded(config);
}
