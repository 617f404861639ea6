import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext, type JobContext } from '../jobs/context.ts';
import { createSourceSchema, generate } from '../jobs/generate/index.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { loadServiceEnv, SERVICES_DIR } from '../scripts/services/env.ts';
import { TEST_AS_OF } from './harness.ts';
import { createTestDatabase, type TestDatabase } from './pg-database.ts';

const DRIFT_EMAIL = 'drifted.person@example.com';

/** The test PostgreSQL server's log (scripts/services/postgres.ts starts it with `pg_ctl -l` there). */
const SERVER_LOG = join(SERVICES_DIR, 'logs', 'postgres.log');

/** What the server logged since `from` (a byte offset of the log file). */
function logSince(from: number): string {
  const size = statSync(SERVER_LOG).size;
  const buffer = Buffer.alloc(Math.max(0, size - from));
  const file = openSync(SERVER_LOG, 'r');
  try {
    readSync(file, buffer, 0, buffer.length, from);
  } finally {
    closeSync(file);
  }
  return buffer.toString('utf8');
}

async function asAdmin(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: loadServiceEnv().TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/**
 * Personal data on a real PostgreSQL warehouse, a whole pipeline run with every statement logged: the PII hash
 * key (a fresh random one) appears in no statement, and clear personal data sits only in the restricted schema.
 */
describe('PII on a PostgreSQL warehouse that logs every statement', () => {
  const key = `pii-key-${randomBytes(16).toString('hex')}`;
  const canary = `canary-${randomBytes(8).toString('hex')}`;
  let database: TestDatabase;
  let databaseName: string;
  let context: JobContext;
  let folder: string;
  let log: string;

  beforeAll(async () => {
    database = await createTestDatabase('pii_log');
    databaseName = new URL(database.url).pathname.slice(1);
    // Only this database logs statements, and only connections opened from now on: the run's.
    await asAdmin(`alter database ${databaseName} set log_statement = 'all'`);
    folder = mkdtempSync(join(tmpdir(), 'ecomm-pii-log-'));
    process.env.PII_HASH_KEY = key;
    const logFrom = statSync(SERVER_LOG).size;
    context = createJobContext(
      loadConfig({
        LAKE_URL: `file://${folder}/lake`,
        STREAM_URL: 'memory://',
        WAREHOUSE_URL: database.url,
        SOURCE_URL: 'pglite://memory',
        SECRETS_URL: 'env://',
        LOG_LEVEL: 'silent',
      }),
    );
    const source = await context.source();
    await createSourceSchema(source);
    await generate({ db: source, stream: context.stream(), seed: 5, scale: 0.1, asOf: TEST_AS_OF });
    // Schema drift carrying personal data: an undeclared contact object and a card number in a note.
    await context.stream().publish('clickstream', [
      {
        key: 'drift-session',
        value: JSON.stringify({
          event_id: 'pii-drift-1',
          event_type: 'page_view',
          occurred_at: '2026-09-30T12:00:00Z',
          session_id: 'drift-session',
          device: 'web',
          contact: { email: DRIFT_EMAIL, phone: '+44 20 7946 0958' },
          note: 'paid with 4111 1111 1111 1111',
        }),
      },
    ]);
    const result = await runPipeline(context);
    expect(result.blockedBy).toEqual([]);
    // Proof that logging was on for this run's connections: a statement carrying a marker must show up.
    await (await context.warehouse()).query(`select '${canary}' as canary`);
    log = logSince(logFrom);
  }, 600_000);

  afterAll(async () => {
    delete process.env.PII_HASH_KEY;
    await context?.close();
    await database?.dispose();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('logs the whole run (the check can fail), and the PII key appears in none of its log lines', () => {
    expect(log).toContain(canary);
    const statements = log.split('\n').filter((line) => line.includes(`@${databaseName} LOG:  statement:`));
    expect(statements.length).toBeGreaterThan(100);
    expect(log.includes('gold.dim_customers')).toBe(true);
    expect(log.includes(key), 'the PII hash key is in the server log').toBe(false);
  });

  it('keeps clear personal data only in schema pii: bronze, silver and gold hold hashes and masks', async () => {
    const warehouse = await context.warehouse();
    const source = await context.source();
    const emails = (await source.query<{ email: string }>('select email from customers')).map((row) =>
      row.email.trim().toLowerCase(),
    );
    expect(emails.length).toBeGreaterThan(10);
    const [landed] = await warehouse.query<{ n: number }>(
      'select cast(count(distinct lower(trim(email))) as integer) as n from pii.customers',
    );
    expect(landed?.n).toBe(new Set(emails).size);
    const clearColumns = await warehouse.query<{ where_found: string }>(
      `select table_schema || '.' || table_name || '.' || column_name as where_found from information_schema.columns
       where table_schema in ('bronze', 'silver', 'gold')
         and column_name in ('email', 'phone', 'first_name', 'last_name', 'street_address')`,
    );
    expect(clearColumns).toEqual([]);
    const sample = new Set(emails.slice(0, 50));
    for (const table of ['bronze.customers', 'silver.customers', 'gold.dim_customers']) {
      let text = '';
      for await (const chunk of warehouse.copyToCsv(`select * from ${table}`)) text += chunk.toString();
      for (const email of sample) expect(text.includes(email), `${table} holds ${email}`).toBe(false);
      expect(text).not.toMatch(/[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9.-]+\.[a-z]{2,}/);
    }
  });

  it('masks personal data in undeclared fields before bronze, keeping what drifted', async () => {
    const warehouse = await context.warehouse();
    const [drift] = await warehouse.query<{ _rescued_data: string }>(
      "select _rescued_data from bronze.clickstream_events where event_id = 'pii-drift-1'",
    );
    expect(JSON.parse(drift?._rescued_data ?? 'null')).toEqual({
      contact: { email: 'd***@example.com', phone: '***58' },
      note: 'paid with ****1111',
    });
    let rescued = '';
    for await (const chunk of warehouse.copyToCsv(
      `select _rescued_data from bronze.clickstream_events where _rescued_data is not null
       union all select _rescued_data from bronze.order_events where _rescued_data is not null`,
    ))
      rescued += chunk.toString();
    expect(rescued).not.toContain(DRIFT_EMAIL);
    expect(rescued).not.toMatch(/[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9.-]+\.[a-z]{2,}/);
  });
});
