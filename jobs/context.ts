import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { redactUrl } from '../adapters/redact.ts';
import { openSecretStore, SecretNotFoundError, type SecretStore } from '../adapters/secrets/index.ts';
import { openSourceConnector, type SourceConnector, type SourceSetting } from '../adapters/source/index.ts';
import { type ObjectStore, openObjectStore } from '../adapters/storage/index.ts';
import { type EventStream, openEventStream } from '../adapters/stream/index.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { openSqlDatabase, type SqlDatabase } from '../adapters/warehouse/index.ts';
import { type Config, ConfigError, isDemo, isEmbedded } from './config.ts';
import { jobLogger } from './logger.ts';
import { JobStoppedError } from './ops/job-stopped.ts';
import { ensureWarehouseSchema } from './ops/warehouse-schema.ts';

/** A well-known key, used only in the laptop demo: every backend embedded and ECOMM_DEMO on (config.ts isDemo). */
const EMBEDDED_PII_HASH_KEY = 'embedded-demo-pii-key';

/**
 * What a job runs with: its settings, the run id carried through logs and ops tables, and the adapters, each
 * opened on first use and closed once at the end.
 */
export interface JobContext {
  readonly config: Config;
  readonly runId: string;
  readonly log: Logger;
  /** The job's clock; tests pin it. */
  now(): Date;
  /** Aborted when the process is asked to stop (SIGTERM, SIGINT): jobs finish the unit in hand, then stop. */
  readonly signal: AbortSignal;
  /** Throws JobStoppedError between units of work once a stop was requested. */
  throwIfStopping(): void;
  lake(): ObjectStore;
  /** The lake was opened by the caller (SharedAdapters), not from LAKE_URL: another thread cannot open the same. */
  readonly sharedLake: boolean;
  stream(): EventStream;
  warehouse(): Promise<SqlDatabase>;
  /** The OLTP database (SOURCE_URL) as SQL: reconcile and backfill query it; extract reads it through its connector. */
  source(): Promise<SqlDatabase>;
  /** The connector of the source a setting names (extract's way to read any source), opened once per context. */
  sourceConnector(setting: SourceSetting): Promise<SourceConnector>;
  secrets(): SecretStore;
  /** The key of the HMAC-SHA256 that replaces personal data (validation derives it); never put in SQL text. */
  piiHashKey(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Where a job's entry (`run` in jobs/<job>/index.ts) prints the lines a person reads: the CLI writes them to stdout,
 * tests keep them.
 */
export type PrintLine = (line: string) => void;

/** Adapters opened by the caller (tests, the bench): the context uses them and leaves closing them to the caller. */
export interface SharedAdapters {
  lake?: ObjectStore;
  stream?: EventStream;
  warehouse?: SqlDatabase;
  source?: SqlDatabase;
}

export { JobStoppedError };

export interface ContextOptions {
  signal?: AbortSignal;
  runId?: string;
  now?: () => Date;
  log?: Logger;
  shared?: SharedAdapters;
}

/** The schema runs on each shared warehouse, one after the other. */
const schemaRuns = new WeakMap<SqlDatabase, Promise<unknown>>();

/**
 * A shared warehouse's schema ensured for one more context, after any other context's run on it has finished: two
 * `create table if not exists` of one table at once on two connections can fail (`type ... already exists`).
 */
function schemaEnsuredInTurn(db: SqlDatabase): Promise<SqlDatabase> {
  const run = (schemaRuns.get(db) ?? Promise.resolve()).catch(() => {}).then(() => ensureWarehouseSchema(db));
  schemaRuns.set(db, run);
  return run.then(() => db);
}

export function createJobContext(config: Config, options: ContextOptions = {}): JobContext {
  const runId = options.runId ?? randomUUID();
  const log = (options.log ?? jobLogger(config.LOG_LEVEL)).child({ runId });
  const shared = options.shared ?? {};
  let lake: ObjectStore | undefined = shared.lake;
  let stream: EventStream | undefined = shared.stream;
  // Started at once: callers may use the shared warehouse before asking the context for it. Its failure reaches
  // whoever calls warehouse(), and is no unhandled rejection when nobody does.
  let warehouse: Promise<SqlDatabase> | undefined = shared.warehouse
    ? schemaEnsuredInTurn(shared.warehouse)
    : undefined;
  warehouse?.catch(() => {});
  let source: Promise<SqlDatabase> | undefined = shared.source ? Promise.resolve(shared.source) : undefined;
  const connectors = new Map<SourceSetting, Promise<SourceConnector>>();
  let secrets: SecretStore | undefined;
  let piiHashKey: Promise<string> | undefined;
  const context: JobContext = {
    config,
    runId,
    log,
    now: options.now ?? (() => new Date()),
    signal: options.signal ?? new AbortController().signal,
    throwIfStopping() {
      if (context.signal.aborted) throw new JobStoppedError(String(context.signal.reason ?? 'signal'));
    },
    sharedLake: shared.lake !== undefined,
    lake: () => {
      lake ??= openObjectStore(config.LAKE_URL);
      return lake;
    },
    stream: () => {
      stream ??= withTopicPrefix(openEventStream(config.STREAM_URL), config.STREAM_TOPIC_PREFIX);
      return stream;
    },
    warehouse: () => {
      warehouse ??= openSqlDatabase('WAREHOUSE_URL', config.WAREHOUSE_URL, {
        secrets: context.secrets(),
      }).then(async (db) => {
        await ensureWarehouseSchema(db);
        return db;
      });
      return warehouse;
    },
    source: () => {
      source ??= openSqlDatabase('SOURCE_URL', config.SOURCE_URL, { secrets: context.secrets() });
      return source;
    },
    sourceConnector: (setting) => {
      let connector = connectors.get(setting);
      if (!connector) {
        connector = (async () => {
          const url = sourceUrl(config, setting);
          // SOURCE_URL reads through source(): an embedded PGlite cannot be opened twice, and a shared one is the caller's.
          const database = setting === 'SOURCE_URL' ? await context.source() : undefined;
          return openSourceConnector(setting, url, {
            secrets: context.secrets(),
            ...(database ? { database } : {}),
          });
        })();
        connectors.set(setting, connector);
      }
      return connector;
    },
    secrets: () => {
      secrets ??= openSecretStore(config.SECRETS_URL);
      return secrets;
    },
    piiHashKey() {
      // Read once per context: the stream service validates a round every few seconds.
      piiHashKey ??= context
        .secrets()
        .get('PII_HASH_KEY')
        .catch((error: unknown) => {
          if (error instanceof SecretNotFoundError && isDemo(config)) return EMBEDDED_PII_HASH_KEY;
          piiHashKey = undefined; // a store that was briefly unreachable is asked again next time
          if (error instanceof SecretNotFoundError) throw missingPiiKey(config);
          throw error;
        });
      return piiHashKey;
    },
    async close() {
      const closing: Promise<void>[] = [];
      if (lake && !shared.lake) closing.push(lake.close());
      if (stream && !shared.stream) closing.push(stream.close());
      if (warehouse && !shared.warehouse) closing.push(warehouse.then((db) => db.close()));
      // Connectors first: the SOURCE_URL one reads through source(), which closes after it.
      await Promise.allSettled([...connectors.values()].map((opened) => opened.then((c) => c.close())));
      if (source && !shared.source) closing.push(source.then((db) => db.close()));
      await Promise.allSettled(closing);
    },
  };
  return context;
}

/** The URL a source setting holds; a setting the configuration does not have is a configuration error. */
function sourceUrl(config: Config, setting: SourceSetting): string {
  const url = (config as unknown as Record<string, unknown>)[setting];
  if (typeof url !== 'string' || url === '') throw new ConfigError([`${setting}: not set`]);
  return url;
}

/** A missing PII hash key is a configuration error (exit 2) naming the secret, the store and the way out. */
function missingPiiKey(config: Config): ConfigError {
  const demo = isEmbedded(config)
    ? '; for the laptop demo (every backend embedded) set ECOMM_DEMO=1 to use the built-in demo key'
    : '; the built-in demo key is only for the laptop demo, with every backend embedded and ECOMM_DEMO=1';
  return new ConfigError([
    `PII_HASH_KEY: secret not found in the secret store ${redactUrl(config.SECRETS_URL)} (SECRETS_URL); ` +
      `store the key that hashes PII in gold there${demo}`,
  ]);
}
