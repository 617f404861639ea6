/**
 * PostgreSQL over the wire (`postgres://`, `postgresql://`): the OLTP source and the Azure warehouse (Flexible
 * Server). Redshift speaks the same protocol, so redshift.ts reuses everything here and swaps only the bulk paths
 * (an `EngineProfile`).
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { redactSecrets, redactUrl } from '../redact.ts';
import { networkErrorCode, withRetry } from '../retry.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
import { quoteIdent } from './pglite.ts';
import {
  type BulkLoadError,
  type CsvObject,
  type EngineConcurrency,
  postgresCopyError,
  refusedRowIn,
  type SqlDatabase,
  type SqlDialect,
  type SqlParam,
} from './sql-database.ts';

export interface PgWireOptions {
  /** The setting the URL came from (`WAREHOUSE_URL`, `SOURCE_URL`): every connection error names it. */
  setting?: string;
  /** Resolves `?passwordSecret=<name>` (infra never puts a password in a URL). */
  secrets?: SecretStore;
  /** Connection attempts before giving up (default 4) and the first backoff delay (default 500 ms). */
  connectAttempts?: number;
  connectBaseDelayMs?: number;
  /** Connections kept open at most (default 4: jobs are sequential, a few parallel COPYs at most). */
  poolSize?: number;
}

/** What one engine does differently on the same wire protocol: locking, bulk load and bulk unload. */
export interface EngineProfile {
  dialect: SqlDialect;
  /** Its locks and isolation (EngineConcurrency); the connections are the pool's. */
  locking: Omit<EngineConcurrency, 'connections'>;
  defaultPort: number;
  /** TLS when the URL has no sslmode (Redshift endpoints require it; a loopback PostgreSQL has none). */
  defaultTls: boolean;
  /** URL query parameters the engine reads itself; they are not handed to the driver. */
  params: string[];
  /** Statements every new connection runs after the time zone, from the URL's parameters (checked first). */
  sessionSettings?(params: URLSearchParams, setting: string): string[];
  copyFromCsv(client: pg.ClientBase, table: string, columns: string[], source: CsvObject): Promise<number>;
  /** CSV bytes of a SELECT, header first. `inTransaction` says whether the client is inside BEGIN already. */
  copyToCsv(client: pg.ClientBase, selectSql: string, inTransaction: boolean): AsyncIterable<Buffer | string>;
  /**
   * Fills in where a refused bulk load failed when the engine could not say so in the error itself (Redshift:
   * stl_load_errors). Runs on the same connection once the load's transaction has ended.
   */
  locateRefusedRow?(client: pg.ClientBase, refused: BulkLoadError): Promise<void>;
}

/**
 * `work_mem=64MB`: memory per sort or hash of a query before it spills to disk. PostgreSQL's default (4 MB) spills the
 * models' aggregates over sessions and order lines: at scale 20, `transform --full-refresh` took 18.8-18.9 s at
 * 64 MB against 20.5-23.3 s at 4 MB, gold.product_performance 1.1 s against 2.1-2.2 s. Each sort of each of the
 * pool's connections may take that much on the server, so it is the operator's choice (docs/deploy.md).
 */
const WORK_MEM = /^[1-9]\d{0,6}(kB|MB|GB)$/;

/**
 * JIT compilation is off unless the URL says `jit=on`. The models' CREATE TABLE AS SELECTs read tables built moments
 * before, with no statistics yet, so the planner's cost estimates run into the millions and cross PostgreSQL's JIT
 * thresholds: compiling then took longer than running. At scale 10, gold.marketing_attribution ran 4.3 s with JIT
 * (4.1 s of it compiling) against 1.7 s without; `transform --full-refresh` 19.9-21.0 s against 15.8-16.0 s.
 */
const JIT = /^(on|off)$/;

const POSTGRES: EngineProfile = {
  dialect: 'postgres',
  locking: { locksBlockReaders: false, writersConflict: false },
  defaultPort: 5432,
  defaultTls: false,
  params: ['work_mem', 'jit'],
  sessionSettings(params, setting) {
    const jit = params.get('jit') ?? 'off';
    if (!JIT.test(jit)) throw new Error(`${setting}: jit=${jit} must be on or off`);
    const workMem = params.get('work_mem');
    if (workMem !== null && !WORK_MEM.test(workMem))
      throw new Error(
        `${setting}: work_mem=${workMem} is not a size such as 64MB (a number, then kB, MB or GB)`,
      );
    return [`SET jit TO ${jit}`, ...(workMem === null ? [] : [`SET work_mem TO '${workMem}'`])];
  },
  async copyFromCsv(client, table, columns, source) {
    const body = await source.store.get(source.key);
    const columnList = columns.map(quoteIdent).join(', ');
    const copy = client.query(
      copyFrom(`COPY ${table} (${columnList}) FROM STDIN WITH (FORMAT csv, HEADER true)`),
    );
    // Streamed end to end: the object is never held in memory; rowCount comes from the COPY command tag.
    await pipeline(body, copy).catch((error: unknown) => {
      throw postgresCopyError(error, table, source);
    });
    return copy.rowCount;
  },
  copyToCsv(client, selectSql) {
    return client.query(copyTo(`COPY (${selectSql}) TO STDOUT WITH (FORMAT csv, HEADER true)`));
  },
};

/** `postgres://user:pass@host:5432/db?sslmode=require&passwordSecret=<name>` (also `postgresql://`). */
export function openPostgres(url: string, options: PgWireOptions = {}): Promise<SqlDatabase> {
  return openPgWire(url, options, POSTGRES);
}

type PgWireUrl = { display: string; params: URLSearchParams; config: pg.PoolConfig };

/** Driver settings of a Postgres-wire URL, and its `display` form (password masked); errors name the setting. */
export function parsePgWireUrl(url: string, setting: string, engine: EngineProfile): PgWireUrl {
  const display = redactUrl(url);
  if (!URL.canParse(url)) throw new Error(`${setting}: cannot parse "${display}" as a URL`);
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (parsed.hostname === '' || database === '')
    throw new Error(`${setting}: "${display}" must name a host and a database (…@host:port/database)`);
  const params = parsed.searchParams;
  const known = ['sslmode', 'sslrootcert', 'passwordSecret', 'application_name', ...engine.params];
  const unknown = [...params.keys()].filter((key) => !known.includes(key));
  if (unknown.length > 0)
    throw new Error(`${setting}: unknown URL parameter(s) ${unknown.join(', ')} in "${display}"`);
  return {
    display,
    params,
    config: {
      host: parsed.hostname.replace(/^\[|\]$/g, ''),
      port: parsed.port === '' ? engine.defaultPort : Number(parsed.port),
      database,
      user: decodeURIComponent(parsed.username),
      password: parsed.password === '' ? undefined : decodeURIComponent(parsed.password),
      ssl: tlsSettings(params, engine.defaultTls, setting),
      application_name: params.get('application_name') ?? 'ecomm',
    },
  };
}

/**
 * sslmode as users expect it to be safe: `disable` turns TLS off; `require`, `verify-ca` and `verify-full` all
 * verify the server certificate and host name (both clouds serve publicly trusted certificates); `no-verify`
 * encrypts without verifying and must be asked for by name. `sslrootcert` adds a CA file.
 */
function tlsSettings(params: URLSearchParams, defaultTls: boolean, setting: string): pg.PoolConfig['ssl'] {
  const mode = params.get('sslmode') ?? (defaultTls ? 'verify-full' : 'disable');
  if (mode === 'disable') return false;
  if (mode === 'no-verify') return { rejectUnauthorized: false };
  if (!['require', 'verify-ca', 'verify-full'].includes(mode))
    throw new Error(`${setting}: unsupported sslmode=${mode} (disable, require, verify-full, no-verify)`);
  const ca = params.get('sslrootcert');
  return ca ? { rejectUnauthorized: true, ca: readFileSync(ca, 'utf8') } : { rejectUnauthorized: true };
}

/**
 * Row shapes identical to PGlite's, so jobs never see which engine they run on: int8 (count(*)) as a number
 * (a bigint beyond 2^53), numeric as a string, timestamptz as a Date, timestamp and date as Dates read as UTC.
 */
const TIMESTAMPTZ = pg.types.getTypeParser(1184);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/;
const PARSERS: Record<number, (value: string) => unknown> = {
  20: (value) => (Number.isSafeInteger(Number(value)) ? Number(value) : BigInt(value)),
  1082: (value) => (ISO_DATE.test(value) ? new Date(`${value}T00:00:00Z`) : value),
  1114: (value) => (ISO_TIMESTAMP.test(value) ? TIMESTAMPTZ(`${value}+00`) : value),
};
export const PGLITE_COMPATIBLE_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    (format !== 'binary' && PARSERS[oid]) || pg.types.getTypeParser(oid, format as 'text')) as never,
};

// 57P03: the server is starting up; 53300: too many connections; 08xxx: connection exceptions.
const RETRYABLE_SQLSTATES = /^(57P03|53300|08\w{3})$/;

function isRetryableConnectError(error: unknown): boolean {
  if (networkErrorCode(error)) return true;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && RETRYABLE_SQLSTATES.test(code)) return true;
  return /timeout|terminated unexpectedly/i.test(String(message ?? ''));
}

/** `WAREHOUSE_URL postgres://u:***@host/db: cannot connect after 4 attempts (ECONNREFUSED)`; never a password. */
function connectError(prefix: string, error: unknown, attempts: number): Error {
  const network = networkErrorCode(error);
  const message = redactSecrets(
    error instanceof Error && error.message !== '' ? error.message : String(error),
  );
  const text = isRetryableConnectError(error)
    ? `${prefix}: cannot connect after ${attempts} attempt${attempts === 1 ? '' : 's'} (${network ?? message})`
    : `${prefix}: ${message}`;
  return Object.assign(new Error(text, { cause: error }), { code: (error as { code?: unknown }).code });
}

/** Opens a pool on any Postgres-wire engine and proves one connection works before returning. */
export async function openPgWire(url: string, options: PgWireOptions, engine: EngineProfile) {
  const setting = options.setting ?? 'database URL';
  const { display, params, config } = parsePgWireUrl(url, setting, engine);
  const session = ["SET timezone TO 'UTC'", ...(engine.sessionSettings?.(params, setting) ?? [])].join('; ');
  const secretName = params.get('passwordSecret');
  if (secretName !== null) {
    if (config.password !== undefined)
      throw new Error(`${setting}: give a password or passwordSecret, not both`);
    const secrets = options.secrets;
    if (!secrets)
      throw new Error(`${setting}: passwordSecret=${secretName} needs a secret store (SECRETS_URL)`);
    // Asked on each new connection; the secret store caches the value.
    config.password = () => secrets.get(secretName).then(passwordOf);
  }
  const connections = options.poolSize ?? 4;
  const pool = new pg.Pool({
    ...config,
    max: connections,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 15_000,
    types: PGLITE_COMPATIBLE_TYPES,
  });
  // An idle connection dropped by the server must not crash the job; the pool replaces it on next use.
  pool.on('error', () => {});
  const configured = new WeakSet<pg.PoolClient>();

  async function acquire(): Promise<pg.PoolClient> {
    return withRetry(
      async () => {
        const client = await pool.connect();
        if (configured.has(client)) return client;
        // A connection dropped while a job holds it (between the statements of a transaction) is reported by its
        // next query; without a listener the 'error' event would crash the process instead.
        client.on('error', () => {});
        // Every connection computes dates in UTC: the models' cast(ts as date) is the UTC date.
        await client.query(session).catch((error: Error) => {
          client.release(error);
          throw error;
        });
        configured.add(client);
        return client;
      },
      {
        attempts: options.connectAttempts ?? 4,
        baseDelayMs: options.connectBaseDelayMs ?? 500,
        maxDelayMs: 10_000,
        isRetryable: isRetryableConnectError,
        describe: (error, tried) => connectError(`${setting} ${display}`, error, tried),
      },
    );
  }

  try {
    (await acquire()).release();
  } catch (error) {
    await pool.end();
    throw error;
  }
  const concurrency = { connections, ...engine.locking };
  return pgWireDatabase({ display, engine, concurrency, acquire }, undefined, () => pool.end());
}

/** A secret holding a password: its text, or the `password` field of a JSON object (Redshift's managed secret). */
function passwordOf(value: string): string {
  let json: { password?: unknown } | undefined;
  try {
    json = /^\s*\{/.test(value) ? JSON.parse(value) : undefined;
  } catch {
    return value; // Not JSON after all (and JSON.parse's message would quote the password).
  }
  if (json === undefined) return value;
  if (typeof json.password === 'string') return json.password;
  throw new Error('the password secret is a JSON object without a "password" field');
}

/** Dates as `2026-01-02 03:04:05.678+00`: pg's default `…T…+01:00` in local time is stricter Redshift input. */
function wireParam(param: SqlParam): SqlParam {
  return param instanceof Date ? param.toISOString().replace('T', ' ').replace('Z', '+00') : param;
}

type WireContext = {
  display: string;
  engine: EngineProfile;
  concurrency: EngineConcurrency;
  acquire(): Promise<pg.PoolClient>;
};

/** The database on the pool, or (pinned) on one connection inside a transaction. */
function pgWireDatabase(
  context: WireContext,
  pinned?: pg.PoolClient,
  close?: () => Promise<void>,
): SqlDatabase {
  const { engine } = context;
  /** Never hides the load's own error: a lookup that fails leaves the row unlocated. */
  async function locateRefusedRow(client: pg.ClientBase, error: unknown): Promise<void> {
    const refused = refusedRowIn(error);
    if (refused && refused.line === null && engine.locateRefusedRow)
      await engine.locateRefusedRow(client, refused).catch(() => {});
  }
  async function withClient<T>(fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    if (pinned) return fn(pinned);
    const client = await context.acquire();
    try {
      const result = await fn(client);
      client.release();
      return result;
    } catch (error) {
      // A failed COPY may leave the connection mid-protocol: drop it rather than hand it to the next caller.
      client.release(error instanceof Error && !('severity' in error) ? error : undefined);
      throw error;
    }
  }
  const database: SqlDatabase = {
    url: context.display,
    dialect: engine.dialect,
    // Inside a transaction the database is one connection.
    concurrency: pinned ? { ...context.concurrency, connections: 1 } : context.concurrency,
    async query<Row extends Record<string, unknown>>(sql: string, params: SqlParam[] = []) {
      return withClient(async (client) => (await client.query<Row>(sql, params.map(wireParam))).rows);
    },
    async exec(sql: string) {
      // Several statements give an array of results; pg reads the count off the command tag (null without one).
      const result: pg.QueryResult | pg.QueryResult[] = await withClient((client) => client.query(sql));
      return Array.isArray(result) ? null : result.rowCount;
    },
    async transaction<T>(fn: (tx: SqlDatabase) => Promise<T>): Promise<T> {
      if (pinned) return fn(database);
      const client = await context.acquire();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(pgWireDatabase(context, client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        broken = await client.query('ROLLBACK').then(
          () => undefined,
          (rollbackError: Error) => rollbackError,
        );
        if (!broken) await locateRefusedRow(client, error);
        throw error;
      } finally {
        client.release(broken);
      }
    },
    copyFromCsv(table: string, columns: string[], source: CsvObject) {
      return withClient((client) =>
        engine.copyFromCsv(client, table, columns, source).catch(async (error: unknown) => {
          // Inside a transaction the lookup waits for its end (transaction() does it after ROLLBACK).
          if (!pinned) await locateRefusedRow(client, error);
          throw error;
        }),
      );
    },
    copyToCsv(selectSql: string) {
      return Readable.from(streamCsv(selectSql), { objectMode: false });
    },
    async close() {
      await close?.();
    },
  };

  /** Holds one connection while the CSV streams; released when the stream ends, fails or is destroyed. */
  async function* streamCsv(selectSql: string): AsyncGenerator<Buffer | string> {
    const client = pinned ?? (await context.acquire());
    let finished = false;
    try {
      yield* engine.copyToCsv(client, selectSql, pinned !== undefined);
      finished = true;
    } finally {
      if (!pinned)
        (client as pg.PoolClient).release(finished ? undefined : new Error('CSV stream abandoned'));
    }
  }
  return database;
}
