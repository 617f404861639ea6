import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { buildModels, ModelBuildError } from '../jobs/models/build.ts';
import { loadModels, SQL_ROOT } from '../jobs/models/models.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { runTransform } from '../jobs/transform/index.ts';
import {
  type EmbeddedPlatform,
  goldHashes,
  openEmbeddedPlatform,
  openServerPlatform,
  seedPlatform,
  tableHash,
} from './harness.ts';

/**
 * The gate before publish, on seeded data, on PGlite and on real PostgreSQL: a layer is built into `__next`, its
 * blocking checks run there, and only a clean layer is swapped in. A failure leaves the published tables as they
 * were, byte for byte, and no `__next` table behind.
 */

const FX_CHECK = 'gold.fact_orders: not_null(fx_rate_to_usd, net_amount_usd, shipping_amount_usd)';
const STATUS_CHECK = 'silver.orders: accepted_values(status; pending, shipped, delivered, cancelled)';
const PG_PII_HASH_KEY = 'gate-test-key';

/** A PostgreSQL warehouse (source in PGlite); not all embedded, so the PII key comes from env://, as in the cloud. */
async function openPostgresPlatform(): Promise<EmbeddedPlatform> {
  process.env.PII_HASH_KEY = PG_PII_HASH_KEY;
  const platform = await openServerPlatform('gate', { source: 'pglite' });
  return {
    ...platform,
    async close() {
      await platform.dispose();
      delete process.env.PII_HASH_KEY;
    },
  };
}

async function schemaHashes(db: SqlDatabase, schema: string): Promise<Record<string, string>> {
  const tables = await db.query<{ table_name: string }>(
    'select cast(table_name as varchar(128)) as table_name from information_schema.tables where table_schema = $1 order by 1',
    [schema],
  );
  const hashes: Record<string, string> = {};
  for (const { table_name } of tables) hashes[table_name] = await tableHash(db, `${schema}.${table_name}`);
  return hashes;
}

async function nextTables(db: SqlDatabase): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `select cast(table_schema || '.' || table_name as varchar(256)) as name from information_schema.tables
     where table_name like '%\\_\\_next' order by 1`,
  );
  return rows.map((row) => row.name);
}

async function runRows(db: SqlDatabase, runId: string): Promise<Record<string, string>> {
  const rows = await db.query<{ step: string; status: string }>(
    "select step, status from ops.pipeline_runs where run_id = $1 and job = 'transform' order by step",
    [runId],
  );
  return Object.fromEntries(rows.map((row) => [row.step, row.status]));
}

const engines: [string, () => Promise<EmbeddedPlatform>][] = [
  ['PGlite', openEmbeddedPlatform],
  ['PostgreSQL', openPostgresPlatform],
];

describe.each(engines)('gate before publish on %s', (_engine, open) => {
  let platform: EmbeddedPlatform;
  let db: SqlDatabase;
  let freshGold: Record<string, string>;

  beforeAll(async () => {
    platform = await open();
    db = platform.warehouse;
    await seedPlatform(platform);
    const result = await runPipeline(platform.context());
    expect(result.blockedBy).toEqual([]);
    freshGold = await goldHashes(db);
  });
  afterAll(async () => {
    await platform?.close();
  });

  it('a missing FX rate blocks gold: yesterday’s gold stays byte for byte, the finding is recorded, a fixed rate publishes', async () => {
    const [rate] = await db.query<{ currency: string; order_date: string }>(
      `select currency, cast(order_date as varchar(10)) as order_date from gold.fact_orders where currency <> 'USD'
       group by currency, order_date order by count(*) desc, 1, 2 limit 1`,
    );
    if (!rate) throw new Error('the seeded data has no non-USD order');
    const ofThatRate = `upper(trim(currency)) = '${rate.currency}' and cast(trim(rate_date) as date) = cast('${rate.order_date}' as date)`;
    await db.exec('create schema if not exists gate_test');
    await db.exec(`create table gate_test.held_fx as select * from bronze.fx_rates where ${ofThatRate}`);
    await db.exec(`delete from bronze.fx_rates where ${ofThatRate}`);
    const goldBefore = await goldHashes(db);
    expect(goldBefore).toEqual(freshGold);

    const context = platform.context();
    const blocked = await runTransform(context, ['silver', 'gold']);
    expect(blocked.blockedBy).toContain(FX_CHECK);
    expect(blocked.blockedBy.every((id) => id.startsWith('gold.'))).toBe(true);
    expect(await goldHashes(db)).toEqual(goldBefore);
    expect(await nextTables(db)).toEqual([]);
    const findings = await db.query(
      'select table_name, layer, severity, status from ops.dq_findings where run_id = $1 and check_id = $2',
      [context.runId, FX_CHECK],
    );
    expect(findings).toEqual([
      { table_name: 'gold.fact_orders', layer: 'gold', severity: 'blocking', status: 'fail' },
    ]);
    // Silver passed its gate and was published; no gold model was: the monitor's "gold built at" must not move.
    const runs = await runRows(db, context.runId);
    expect(runs['silver.fx_rates']).toBe('succeeded');
    expect(runs['gold.fact_orders']).toBe('failed');
    expect(
      Object.entries(runs).filter(([step, status]) => step.startsWith('gold.') && status !== 'failed'),
    ).toEqual([]);

    await db.exec('insert into bronze.fx_rates select * from gate_test.held_fx');
    await db.exec('drop schema gate_test cascade');
    const fixed = await runTransform(platform.context(), ['silver', 'gold']);
    expect(fixed.blockedBy).toEqual([]);
    expect(await goldHashes(db)).toEqual(freshGold);
    expect(await nextTables(db)).toEqual([]);
  });

  it('a failing blocking silver check leaves silver and gold untouched and builds no gold', async () => {
    const silverBefore = await schemaHashes(db, 'silver');
    const goldBefore = await goldHashes(db);
    await db.exec(
      `insert into bronze.orders (order_id, customer_id, ordered_at, status, channel, currency, shipping_amount,
         created_at, updated_at, _batch_id, _source_file)
       values ('990001', '1', '2026-09-30T10:00:00Z', 'lost', 'web', 'USD', '0', '2026-09-30T10:00:00Z',
         '2026-09-30T10:00:00Z', 'gate-test', 'gate-test')`,
    );
    try {
      const context = platform.context();
      const blocked = await runTransform(context, ['silver', 'gold']);
      expect(blocked.blockedBy).toContain(STATUS_CHECK);
      expect(blocked.blockedBy.every((id) => id.startsWith('silver.'))).toBe(true);
      expect(blocked.built).toEqual([]);
      expect(await schemaHashes(db, 'silver')).toEqual(silverBefore);
      expect(await goldHashes(db)).toEqual(goldBefore);
      expect(await nextTables(db)).toEqual([]);
      const runs = await runRows(db, context.runId);
      expect(runs['silver.orders']).toBe('failed');
      expect(Object.keys(runs).filter((step) => step.startsWith('gold.'))).toEqual([]);
      const [finding] = await db.query(
        'select table_name, status from ops.dq_findings where run_id = $1 and check_id = $2',
        [context.runId, STATUS_CHECK],
      );
      expect(finding).toEqual({ table_name: 'silver.orders', status: 'fail' });
    } finally {
      await db.exec("delete from bronze.orders where _batch_id = 'gate-test'");
    }
  });

  it('a model that fails to build leaves its layer untouched, no __next behind, and names the model and file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ecomm-gate-sql-'));
    cpSync(SQL_ROOT, root, { recursive: true });
    // Late in their layers' order, so earlier models are already in __next when these fail; the silver one is an
    // incremental model, built under the stream service's locks.
    writeFileSync(
      join(root, 'gold', 'sales_analytics.sql'),
      '-- grain: one row per nothing\n-- reads gold: deliberately broken\nselect no_such_column from gold.fact_orders\n',
    );
    writeFileSync(
      join(root, 'silver', 'order_events.sql'),
      '-- grain: one row per nothing\n-- test: unique(event_id)\n-- incremental: event_id\n' +
        'select no_such_column as event_id, _batch_id from bronze.order_events\n',
    );
    const models = loadModels(root);
    const vars = { piiHashKey: await platform.context().piiHashKey() };
    try {
      for (const [layer, model, file] of [
        ['gold', 'gold.sales_analytics', 'sales_analytics.sql'],
        ['silver', 'silver.order_events', 'order_events.sql'],
      ] as const) {
        const silverBefore = await schemaHashes(db, 'silver');
        const goldBefore = await goldHashes(db);
        const error = await buildModels(db, models, { vars, layers: [layer] }).catch(
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(ModelBuildError);
        expect((error as ModelBuildError).model).toBe(model);
        expect((error as ModelBuildError).file).toContain(file);
        expect((error as Error).message).toMatch(/failed to build: column "no_such_column" does not exist/);
        expect((error as Error).message).not.toMatch(/select/i);
        expect(await schemaHashes(db, 'silver')).toEqual(silverBefore);
        expect(await goldHashes(db)).toEqual(goldBefore);
        expect(await nextTables(db)).toEqual([]);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
