/**
 * `ecomm grants` on a real PostgreSQL warehouse: the role matrix (every role of the access policy x select, insert,
 * delete and create in each schema, allowed or refused as docs/access.md says), grants that survive the models'
 * swap rebuilds, and the pipeline run job by job, each under its own login. Roles belong to the whole server, so
 * this file is the only one that creates them; its database is thrown away at the end, the roles stay (the next
 * run's sync finds them).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../adapters/storage/local.ts';
import { openMemoryStream } from '../adapters/stream/memory.ts';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext, type JobContext, type SharedAdapters } from '../jobs/context.ts';
import * as extract from '../jobs/extract/index.ts';
import { createSourceSchema, generate } from '../jobs/generate/index.ts';
import * as grantsJob from '../jobs/grants/index.ts';
import { syncGrants } from '../jobs/grants/index.ts';
import { jobLoginOf, MODEL_OWNER_ROLE, passwordSecretOf } from '../jobs/grants/policy.ts';
import * as load from '../jobs/load/index.ts';
import * as quality from '../jobs/quality/index.ts';
import * as pipeline from '../jobs/run/index.ts';
import * as streamIngest from '../jobs/stream-ingest/index.ts';
import * as transform from '../jobs/transform/index.ts';
import * as validate from '../jobs/validate/index.ts';
import * as watchdog from '../jobs/watchdog/index.ts';
import { TEST_AS_OF } from './harness.ts';
import { createTestDatabase, type TestDatabase } from './pg-database.ts';

const SCHEMAS = ['bronze', 'silver', 'gold', 'ops', 'pii', 'realtime'] as const;
type Schema = (typeof SCHEMAS)[number];
/** `lock`: read, and UPDATE only to take the builds' write lock on bronze (no insert, delete or create). */
type Level = 'none' | 'read' | 'lock' | 'write' | 'create';

/**
 * What each role may do, written out rather than read from the policy: the test fails when the policy drifts from
 * what docs/access.md promises. Unnamed schemas: none.
 */
const EXPECTED: Record<string, Partial<Record<Schema, Level>>> = {
  data_engineer: {
    bronze: 'create',
    silver: 'create',
    gold: 'create',
    ops: 'create',
    pii: 'create',
    realtime: 'create',
  },
  analyst: { silver: 'read', gold: 'read', realtime: 'read' },
  bi_reader: { gold: 'read', realtime: 'read' },
  monitor: { ops: 'read', gold: 'read', realtime: 'read' },
  ecomm_monitor: { ops: 'read', gold: 'read', realtime: 'read' },
  ecomm_extract: { ops: 'write' },
  ecomm_validate: { ops: 'write' },
  ecomm_load: { bronze: 'write', pii: 'write', ops: 'write' },
  ecomm_stream_ingest: { bronze: 'write', silver: 'write', ops: 'write', realtime: 'write' },
  ecomm_reconcile: { bronze: 'write', silver: 'read', ops: 'write' },
  ecomm_transform: { bronze: 'lock', silver: 'create', gold: 'create', pii: 'create', ops: 'write' },
  ecomm_quality: { bronze: 'read', silver: 'read', gold: 'read', ops: 'write' },
  ecomm_watchdog: { bronze: 'read', silver: 'read', gold: 'read', ops: 'write', realtime: 'read' },
  ecomm_run: { bronze: 'write', silver: 'create', gold: 'create', pii: 'create', ops: 'write' },
  ecomm_quarantine: { bronze: 'write', pii: 'write', ops: 'write' },
  ecomm_batches: { bronze: 'write', pii: 'write', ops: 'write' },
  ecomm_backfill: { bronze: 'write', pii: 'write', ops: 'write' },
  ecomm_rebuild: {
    bronze: 'create',
    silver: 'create',
    gold: 'create',
    ops: 'create',
    pii: 'create',
    realtime: 'create',
  },
};

const ACTIONS = ['select', 'insert', 'delete', 'create'] as const;
type Action = (typeof ACTIONS)[number];
const ALLOWED_AT: Record<Level, Action[]> = {
  none: [],
  read: ['select'],
  lock: ['select'],
  write: ['select', 'insert', 'delete'],
  create: ['select', 'insert', 'delete', 'create'],
};

function statementOf(action: Action, schema: Schema): string {
  switch (action) {
    case 'select':
      return `select count(*) from ${schema}.grants_probe`;
    case 'insert':
      return `insert into ${schema}.grants_probe (id) values (1)`;
    case 'delete':
      return `delete from ${schema}.grants_probe`;
    case 'create':
      return `create table ${schema}.grants_created (id integer)`;
  }
}

const JOBS = ['extract', 'validate', 'load', 'transform', 'quality', 'watchdog', 'run'] as const;

describe('ecomm grants on PostgreSQL', () => {
  let database: TestDatabase;
  let admin: pg.Client;
  let folder: string;
  let shared: Omit<SharedAdapters, 'warehouse'>;
  let source: TestDatabase;
  let sourceDb: SqlDatabase;
  const passwords = new Map<string, string>();
  const savedEnv = new Map<string, string | undefined>();

  const settings = (warehouseUrl: string) => ({
    LAKE_URL: `file://${folder}/lake`,
    STREAM_URL: 'memory://',
    WAREHOUSE_URL: warehouseUrl,
    SOURCE_URL: source.url,
    SECRETS_URL: 'env://',
    PII_HASH_KEY: 'unused-here',
    LOG_LEVEL: 'silent',
  });
  /** A job's context that opens the warehouse as the job's own login (its password from the secret store). */
  const contextAs = (job: string): JobContext => {
    const url = new URL(database.url);
    url.username = jobLoginOf(job);
    url.password = '';
    url.searchParams.set('passwordSecret', passwordSecretOf(job));
    return createJobContext(loadConfig(settings(url.toString())), { shared });
  };
  const adminContext = () => createJobContext(loadConfig(settings(database.url)), { shared });

  /** Runs a statement as a role (SET ROLE, as the server checks privileges), rolled back: allowed or refused. */
  async function allowed(role: string, sql: string): Promise<boolean> {
    await admin.query('begin');
    try {
      await admin.query(`set local role ${role}`);
      await admin.query(sql);
      return true;
    } catch (error) {
      expect((error as { code?: string }).code, `${role}: ${sql}: ${(error as Error).message}`).toBe('42501');
      return false;
    } finally {
      await admin.query('rollback');
    }
  }

  beforeAll(async () => {
    [database, source] = await Promise.all([
      createTestDatabase('grants_wh'),
      createTestDatabase('grants_src'),
    ]);
    for (const job of [...JOBS, 'monitor', 'stream-ingest']) {
      const secret = passwordSecretOf(job);
      savedEnv.set(secret, process.env[secret]);
      passwords.set(job, randomBytes(18).toString('base64url'));
      process.env[secret] = passwords.get(job);
    }
    savedEnv.set('PII_HASH_KEY', process.env.PII_HASH_KEY);
    process.env.PII_HASH_KEY = 'grants-test-pii-key';
    folder = mkdtempSync(join(tmpdir(), 'ecomm-grants-'));
    sourceDb = await openPostgres(source.url);
    shared = {
      lake: openLocalStore(`file://${folder}/lake`),
      stream: openMemoryStream('memory://'),
      source: sourceDb,
    };
    const context = adminContext();
    try {
      const result = await syncGrants(context);
      expect(result.skipped).toBeNull();
    } finally {
      await context.close();
    }
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    // A table in each schema, created after the sync by the admin: readable through the default privileges.
    for (const schema of SCHEMAS) await admin.query(`create table ${schema}.grants_probe (id integer)`);
  });
  afterAll(async () => {
    await admin?.end();
    await sourceDb?.close();
    await Promise.all([database?.dispose(), source?.dispose()]);
    if (folder) rmSync(folder, { recursive: true, force: true });
    for (const [name, value] of savedEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('gives every role exactly its access per schema: select, insert, delete, create allowed or refused', async () => {
    const mismatches: string[] = [];
    for (const [role, levels] of Object.entries(EXPECTED)) {
      for (const schema of SCHEMAS) {
        const level = levels[schema] ?? 'none';
        for (const action of ACTIONS) {
          const expected = ALLOWED_AT[level].includes(action);
          const actual = await allowed(role, statementOf(action, schema));
          if (actual !== expected)
            mismatches.push(
              `${role} ${action} ${schema}: ${actual ? 'allowed' : 'refused'}, expected the opposite`,
            );
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('lets each job login log in with the password from the secret store, and the monitor only read', async () => {
    const url = new URL(database.url);
    url.username = 'ecomm_monitor';
    url.password = passwords.get('monitor') as string;
    const monitor = new pg.Client({ connectionString: url.toString() });
    await monitor.connect();
    try {
      const [setting] = (await monitor.query('show default_transaction_read_only')).rows;
      expect(setting.default_transaction_read_only).toBe('on');
      await expect(monitor.query('select count(*) from gold.grants_probe')).resolves.toBeDefined();
      await expect(monitor.query('select count(*) from silver.grants_probe')).rejects.toThrow(
        /permission denied/,
      );
    } finally {
      await monitor.end();
    }
    url.username = 'ecomm_load';
    url.password = 'not-the-password';
    const wrong = new pg.Client({ connectionString: url.toString() });
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('is idempotent: a second sync changes no role and leaves the matrix as it was', async () => {
    const before = (
      await admin.query(
        "select rolname, rolpassword is null as p from pg_authid where rolname like 'ecomm_%' order by 1",
      )
    ).rows;
    const context = adminContext();
    try {
      await syncGrants(context);
    } finally {
      await context.close();
    }
    const after = (
      await admin.query(
        "select rolname, rolpassword is null as p from pg_authid where rolname like 'ecomm_%' order by 1",
      )
    ).rows;
    expect(after).toEqual(before);
    expect(await allowed('analyst', 'select count(*) from silver.grants_probe')).toBe(true);
    expect(await allowed('analyst', 'select count(*) from pii.grants_probe')).toBe(false);
    expect(await allowed('bi_reader', 'select count(*) from silver.grants_probe')).toBe(false);
  });

  it('prints the statements on --dry-run with no password and no verifier in them', async () => {
    const lines: string[] = [];
    const context = adminContext();
    try {
      await syncGrants(context, { dryRun: true }, (line) => lines.push(line));
    } finally {
      await context.close();
    }
    const text = lines.join('\n');
    expect(text).toContain("alter role ecomm_load login password '<verifier>'");
    expect(text).toContain('grant select on all tables in schema gold to bi_reader');
    expect(text).not.toContain('SCRAM-SHA-256$');
    for (const password of passwords.values()) expect(text).not.toContain(password);
  });

  it('runs extract, validate, load, transform, quality and watchdog each under its own login', async () => {
    await createSourceSchema(sourceDb);
    await generate({ db: sourceDb, stream: shared.stream as never, seed: 7, scale: 0.2, asOf: TEST_AS_OF });
    const codes: Record<string, number> = {};
    const print = () => {};
    const steps: [label: string, job: string, (context: JobContext) => Promise<number>][] = [
      ['extract', 'extract', (context) => extract.run(context, {}, print)],
      ['stream-ingest', 'stream-ingest', (context) => streamIngest.run(context, {}, print)],
      ['validate', 'validate', (context) => validate.run(context, {}, print)],
      ['load', 'load', (context) => load.run(context, {}, print)],
      [
        'transform',
        'transform',
        (context) => transform.run(context, { layer: 'all', select: [], exclude: [] }, print),
      ],
      ['quality', 'quality', (context) => quality.run(context, { layer: 'all' }, print)],
      ['watchdog', 'watchdog', (context) => watchdog.run(context, {}, print)],
    ];
    for (const [label, job, step] of steps) {
      const context = contextAs(job);
      try {
        const db = await context.warehouse();
        const [who] = await db.query<{ login: string }>('select current_user as login');
        expect(who?.login).toBe(jobLoginOf(job));
        codes[label] = await step(context);
      } finally {
        await context.close();
      }
    }
    // Watchdog exits 1 when the (fixed, past) data is stale: that is its finding, not a refused privilege.
    expect({ ...codes, watchdog: 0 }).toEqual({
      extract: 0,
      'stream-ingest': 0,
      validate: 0,
      load: 0,
      transform: 0,
      quality: 0,
      watchdog: 0,
    });
    const jobs = (await admin.query('select distinct job from ops.pipeline_runs order by job')).rows.map(
      (row) => row.job,
    );
    expect(jobs).toEqual(expect.arrayContaining(['load', 'transform', 'watchdog']));
    const [orders] = (await admin.query('select count(*)::int as n from gold.agg_daily_sales')).rows;
    expect(orders.n).toBeGreaterThan(0);
  });

  it('keeps the grants of tables rebuilt by a swap, whichever builder login (run, then transform) rebuilt them', async () => {
    const goldTables = async () =>
      (
        await admin.query(
          "select tablename, tableowner from pg_tables where schemaname = 'gold' and tablename <> 'grants_probe' order by 1",
        )
      ).rows as {
        tablename: string;
        tableowner: string;
      }[];
    const oids = async () =>
      (
        await admin.query(
          "select cast(oid as text) as oid from pg_class where relnamespace = 'gold'::regnamespace and relkind = 'r' order by 1",
        )
      ).rows.map((row) => row.oid);
    const before = await oids();
    // The scheduled run under its own login: may not manage roles, so its grants step only logs; it swaps every model.
    const runContext = contextAs('run');
    try {
      expect(await pipeline.run(runContext, { fullRefresh: true }, () => {})).toBe(0);
    } finally {
      await runContext.close();
    }
    const transformContext = contextAs('transform');
    try {
      expect(
        await transform.run(
          transformContext,
          { layer: 'all', select: [], exclude: [], fullRefresh: true },
          () => {},
        ),
      ).toBe(0);
    } finally {
      await transformContext.close();
    }
    expect(await oids()).not.toEqual(before);
    const tables = await goldTables();
    expect(tables.length).toBeGreaterThan(3);
    for (const { tablename, tableowner } of tables) {
      expect(tableowner, tablename).toBe(MODEL_OWNER_ROLE);
      for (const role of ['analyst', 'bi_reader', 'monitor', 'data_engineer'])
        expect(
          await allowed(role, `select count(*) from gold.${tablename}`),
          `${role} on gold.${tablename}`,
        ).toBe(true);
      expect(
        await allowed('ecomm_load', `select count(*) from gold.${tablename}`),
        `ecomm_load on gold.${tablename}`,
      ).toBe(false);
    }
  });
});

describe('ecomm grants on the embedded warehouse', () => {
  it('does nothing on PGlite, which has a single user, and says so', async () => {
    const context = createJobContext(loadConfig({ WAREHOUSE_URL: 'pglite://memory', LOG_LEVEL: 'silent' }));
    const lines: string[] = [];
    try {
      expect(await grantsJob.run(context, {}, (line) => lines.push(line))).toBe(0);
    } finally {
      await context.close();
    }
    expect(lines).toEqual([
      expect.stringMatching(/^grants: nothing to do: the embedded warehouse \(PGlite\) has a single user/),
    ]);
  });
});
