import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlDatabase } from '../../adapters/warehouse/index.ts';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { lockForWriteSql } from '../../sql/dialects/macros.ts';
import { createTestDatabase, type TestDatabase } from '../../test/pg-database.ts';
import { applyIncrementally, buildLayer, buildModels, createBronzeTables } from './build.ts';
import { tableExists } from './existing.ts';
import { testQueries } from './model-tests.ts';
import { loadModels, type Model, renameTableReferences } from './models.ts';
import { loadBronzeFixtures } from './test-fixtures.ts';

const vars = {};
const models = loadModels();
const modelNamed = (name: string) => models.find((model) => model.name === name) as Model;

const snapshot = async (db: SqlDatabase, table: string) =>
  (await db.query(`select t::text as row_text from ${table} t order by 1`)).map((row) =>
    String(row.row_text),
  );

describe('a layer reads and checks its own __next tables', () => {
  it('renames table references in code only, never in comments or string literals', () => {
    const sql =
      "select 'gold.fact_orders' as label -- gold.fact_orders\nfrom GOLD.fact_orders join gold.dim_date on 1=1";
    const renamed = renameTableReferences(sql, (name) =>
      name === 'gold.fact_orders' ? `${name}__next` : undefined,
    );
    expect(renamed).toBe(
      "select 'gold.fact_orders' as label -- gold.fact_orders\nfrom gold.fact_orders__next join gold.dim_date on 1=1",
    );
  });

  it('points check queries, relationships targets included, at the tables it is given', () => {
    const [relationships] = testQueries(modelNamed('gold.sales_analytics'), (name) => `${name}__next`).filter(
      (query) => query.kind === 'relationships',
    );
    expect(relationships?.id).toBe(
      'gold.sales_analytics: relationships(order_item_id; gold.fact_order_line_items.order_item_id)',
    );
    expect(relationships?.model).toBe('gold.sales_analytics');
    expect(relationships?.sql).toContain('from gold.sales_analytics__next child');
    expect(relationships?.sql).toContain('from gold.fact_order_line_items__next parent');
  });

  it('a new order reaches the gold marts and passes the same-layer relationships test in one build (PGlite)', async () => {
    const db = await openPglite('pglite://memory');
    try {
      await createBronzeTables(db);
      await loadBronzeFixtures(db);
      await buildModels(db, models, { vars });
      const batch = {
        _batch_id: 'b5',
        _source_file: 'staging/b5.csv',
        _ingested_at: '2026-11-07 01:00:00+00',
      };
      const at = '2026-11-04T10:00:00Z';
      await loadBronzeFixtures(db, {
        orders: [
          {
            order_id: '105',
            customer_id: '2',
            ordered_at: at,
            status: 'shipped',
            channel: 'web',
            currency: 'USD',
            shipping_amount: '0',
            created_at: at,
            updated_at: at,
            ...batch,
          },
        ],
        order_items: [
          {
            order_item_id: '1006',
            order_id: '105',
            product_id: '20',
            quantity: '2',
            unit_price: '5.50',
            discount_amount: '0',
            created_at: at,
            updated_at: at,
            ...batch,
          },
        ],
      });
      // Published gold.fact_orders lacks order 105 until the swap: the marts and the line items' relationships test
      // must read gold.fact_orders__next, or the day stays empty and the gate blocks on a missing parent.
      const gated = await buildLayer(db, models, 'silver', { vars });
      expect(gated.blockedBy).toEqual([]);
      const gold = await buildLayer(db, models, 'gold', { vars });
      expect(gold.blockedBy).toEqual([]);
      expect(
        gold.checks.find(
          (check) =>
            check.id === 'gold.fact_order_line_items: relationships(order_id; gold.fact_orders.order_id)',
        ),
      ).toMatchObject({ passed: true, model: 'gold.fact_order_line_items' });
      const [day] = await db.query(
        "select order_count, revenue_usd from gold.agg_daily_sales where order_date = cast('2026-11-04' as date)",
      );
      expect(day).toEqual({ order_count: 1, revenue_usd: '11.00' });
    } finally {
      await db.close();
    }
  });
});

/**
 * The stream service's applier (jobs/stream-ingest/service/applier.ts commitRound) and a full silver build on a
 * real PostgreSQL: they serialise on the same write locks, taken in the same order, so they never deadlock, and an
 * event the applier commits around a rebuild is in silver exactly once.
 */
describe('the gated silver build and the stream service on PostgreSQL', () => {
  const clicks = modelNamed('silver.clickstream_events');
  const orderEvents = modelNamed('silver.order_events');
  let database: TestDatabase;
  let db: SqlDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('gate_locks');
    db = await openSqlDatabase('WAREHOUSE_URL', database.url);
    await createBronzeTables(db);
    await loadBronzeFixtures(db);
    await buildModels(db, models, { vars });
  });
  afterAll(async () => {
    await db?.close();
    await database?.dispose();
  });

  let sequence = 0;
  async function insertEvents(tx: SqlDatabase, batchId: string, ids: string[]): Promise<void> {
    for (const id of ids) {
      sequence += 1;
      const at = new Date(Date.UTC(2026, 10, 5, 10, 0, sequence)).toISOString();
      await tx.query(
        `insert into bronze.clickstream_events (event_id, event_type, occurred_at, session_id, device,
           _stream_partition, _stream_offset, _published_at, _batch_id, _source_file)
         values ($1, 'page_view', $2, 's-gate', 'web', '0', $3, $2, $4, 'raw/gate')`,
        [id, at, String(sequence), batchId],
      );
      await tx.query(
        `insert into bronze.order_events (event_id, event_type, occurred_at, order_id, status,
           _stream_partition, _stream_offset, _published_at, _batch_id, _source_file)
         values ($1, 'order_created', $2, '100', 'pending', '0', $3, $2, $4, 'raw/gate')`,
        [`o-${id}`, at, String(sequence), batchId],
      );
    }
  }

  /**
   * One applier round as commitRound does it: bronze locks, load, silver locks, incremental update. `pause` holds
   * the round between its bronze and its silver locks.
   */
  async function applyRound(
    batchId: string,
    ids: string[],
    pause?: { holding: () => void; until: Promise<void> },
  ): Promise<void> {
    await db.transaction(async (tx) => {
      for (const table of ['bronze.clickstream_events', 'bronze.order_events'])
        await tx.exec(lockForWriteSql(table, tx.dialect));
      await tx.query('delete from bronze.clickstream_events where _batch_id = $1', [batchId]);
      await tx.query('delete from bronze.order_events where _batch_id = $1', [batchId]);
      await insertEvents(tx, batchId, ids);
      pause?.holding();
      await pause?.until;
      for (const model of [clicks, orderEvents])
        if (await tableExists(tx, model.name)) await tx.exec(lockForWriteSql(model.name, tx.dialect));
      for (const model of [clicks, orderEvents])
        await applyIncrementally(tx, model, { vars, batchIds: [batchId] });
    });
  }

  async function someoneWaitsOnALock(): Promise<void> {
    for (let attempt = 0; attempt < 400; attempt += 1) {
      const [row] = await db.query<{ n: number }>(
        "select cast(count(*) as integer) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      );
      if ((row?.n ?? 0) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('nobody waited on a lock within 20 s');
  }

  async function expectEqualToAFullBuild(): Promise<void> {
    const incremental = [await snapshot(db, clicks.name), await snapshot(db, orderEvents.name)];
    await buildModels(db, models, { vars, only: [clicks.name, orderEvents.name] });
    expect([await snapshot(db, clicks.name), await snapshot(db, orderEvents.name)]).toEqual(incremental);
  }

  it('an applier holding its bronze locks when the build starts: no deadlock, and its events are in silver once', async () => {
    let release = () => {};
    let holding = () => {};
    const until = new Promise<void>((resolve) => {
      release = resolve;
    });
    const applierHoldsBronze = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const applying = applyRound('gate-b1', ['gate-e1'], { holding, until });
    await applierHoldsBronze;
    const building = buildModels(db, models, { vars, layers: ['silver'] });
    // The build queues behind the applier's bronze locks (or, built differently, finishes first); either way the
    // applier then takes its silver locks. Had the build locked silver before bronze, PostgreSQL would report a
    // deadlock here; had it built the event tables outside the locks, the swap would drop the applier's update.
    await Promise.race([building.catch(() => {}), someoneWaitsOnALock()]);
    release();
    await Promise.all([applying, building]);
    const [counted] = await db.query<{ clicks: number; orders: number }>(
      `select (select cast(count(*) as integer) from silver.clickstream_events where event_id = 'gate-e1') as clicks,
              (select cast(count(*) as integer) from silver.order_events where event_id = 'o-gate-e1') as orders`,
    );
    expect(counted).toEqual({ clicks: 1, orders: 1 });
    await expectEqualToAFullBuild();
  });

  it('applier rounds during repeated full silver builds never lose or double an event', async () => {
    const expected = new Set<string>();
    const applying = (async () => {
      for (let round = 0; round < 25; round += 1) {
        // Each round brings two new events and redelivers one of the previous round's.
        const ids = [`gate-r${round}-a`, `gate-r${round}-b`, ...(round > 0 ? [`gate-r${round - 1}-a`] : [])];
        await applyRound(`gate-r${round}`, ids);
        for (const id of ids) expected.add(id);
      }
    })();
    const building = (async () => {
      for (let build = 0; build < 3; build += 1) await buildModels(db, models, { vars, layers: ['silver'] });
    })();
    await Promise.all([applying, building]);
    const [counted] = await db.query<{ n: number; ids: number }>(
      `select cast(count(*) as integer) as n, cast(count(distinct event_id) as integer) as ids
       from silver.clickstream_events where event_id like 'gate-r%'`,
    );
    expect(counted).toEqual({ n: expected.size, ids: expected.size });
    await expectEqualToAFullBuild();
  });
});
