import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import { openPostgres } from '../../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { createTestDatabase, type TestDatabase } from '../../test/pg-database.ts';
import { expectRedshiftAccepts, recordRedshiftSql } from '../../test/redshift-sql.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { addOrderChange, applyRealtimeKpis, loadLiveKpis, realtimeKpiDrift } from './realtime.ts';

/** Just the silver columns the KPIs read: the applier's rounds write the real models' rows. */
const SILVER_DDL = `
  create schema if not exists silver;
  create table silver.order_events (event_id text, event_type text, occurred_at timestamptz, order_id bigint,
    status text, order_total numeric(12,2), currency text, _batch_id text);
  create table silver.clickstream_events (event_id text, event_type text, occurred_at timestamptz, session_id text,
    _batch_id text);
  create table silver.fx_rates (rate_date date, currency text, rate_to_usd numeric(18,8), is_deleted boolean)`;

type OrderEvent = [
  id: string,
  type: string,
  at: string,
  status: string,
  total: number | null,
  currency: string | null,
];
type ClickEvent = [id: string, type: string, at: string, session: string];

async function round(
  db: SqlDatabase,
  batchId: string,
  events: { orders?: OrderEvent[]; clicks?: ClickEvent[] },
): Promise<void> {
  const now = new Date('2026-12-06T12:00:00Z');
  await db.transaction(async (tx) => {
    if (events.orders) {
      // As applyIncrementally does: the round's rows take their keys' place in silver (this round's delivery wins).
      await tx.exec('create temp table round_rows as select * from silver.order_events where 1 = 0');
      for (const [id, type, at, status, total, currency] of events.orders)
        await tx.query(`insert into round_rows values ($1, $2, $3, 1, $4, $5, $6, $7)`, [
          id,
          type,
          at,
          status,
          total,
          currency,
          batchId,
        ]);
      const keys = 'event_id in (select event_id from round_rows)';
      await addOrderChange(
        tx,
        { before: `(select * from silver.order_events where ${keys})`, after: 'round_rows' },
        now,
      );
      await tx.exec(`delete from silver.order_events where ${keys}`);
      await tx.exec('insert into silver.order_events select * from round_rows; drop table round_rows');
    }
    for (const [id, type, at, session] of events.clicks ?? [])
      await tx.query(`insert into silver.clickstream_events values ($1, $2, $3, $4, $5)`, [
        id,
        type,
        at,
        session,
        batchId,
      ]);
    await applyRealtimeKpis(tx, {
      orderBatchIds: events.orders ? [batchId] : [],
      clickstreamBatchIds: events.clicks ? [batchId] : [],
      now,
    });
  });
}

async function orderMinutes(db: SqlDatabase) {
  const rows = await db.query<Record<string, unknown>>(
    `select to_char(minute_start at time zone 'UTC', 'HH24:MI') as minute, currency, orders, orders_with_total,
       cast(order_total as text) as total, cancellations, cast(revenue_usd as text) as usd
     from realtime.order_minutes order by minute_start, currency`,
  );
  return rows.map((row) => ({ ...row }));
}

async function sessionMinutes(db: SqlDatabase) {
  return db.query<Record<string, unknown>>(
    `select to_char(minute_start at time zone 'UTC', 'HH24:MI') as minute, sessions, converted_sessions
     from realtime.session_minutes order by minute_start`,
  );
}

const engines: { name: string; open: () => Promise<SqlDatabase> }[] = [
  { name: 'PGlite', open: () => openPglite('pglite://memory') },
];
const databases: TestDatabase[] = [];
engines.push({
  name: 'PostgreSQL',
  open: async () => {
    const database = await createTestDatabase('realtime_kpis');
    databases.push(database);
    return openPostgres(database.url);
  },
});
afterAll(async () => {
  for (const database of databases) await database.dispose();
});

describe.each(engines)('real-time KPI tables ($name)', ({ open }) => {
  it('add each round to its minutes, late events to theirs, and equal a recomputation from silver', async () => {
    const db = await open();
    try {
      await db.exec(SILVER_DDL);
      await ensureWarehouseSchema(db);
      await db.exec(`insert into silver.fx_rates values ('2026-12-06', 'EUR', 1.1, false)`);

      await round(db, 'b1', {
        orders: [
          ['o1', 'order_created', '2026-12-06T10:00:05Z', 'pending', 100, 'EUR'],
          ['o2', 'order_created', '2026-12-06T10:00:40Z', 'pending', 50.5, 'USD'],
          ['o3', 'order_created', '2026-12-06T10:01:10Z', 'pending', null, null],
        ],
        clicks: [
          ['c1', 'page_view', '2026-12-06T10:00:01Z', 's1'],
          ['c2', 'page_view', '2026-12-06T10:00:30Z', 's2'],
          ['c3', 'purchase', '2026-12-06T10:01:30Z', 's2'],
        ],
      });
      // A second round in the same minutes: a GBP order whose day has no rate yet, a cancellation, a late event
      // that starts s1 a minute earlier, and a purchase that converts s1.
      await round(db, 'b2', {
        orders: [
          ['o4', 'order_created', '2026-12-06T10:00:50Z', 'pending', 20, 'GBP'],
          ['o5', 'order_status_changed', '2026-12-06T10:01:20Z', 'cancelled', 100, 'EUR'],
          ['o6', 'order_created', '2026-12-06T10:00:59Z', 'pending', 10, 'EUR'],
        ],
        clicks: [
          ['c4', 'page_view', '2026-12-06T09:59:50Z', 's1'],
          ['c5', 'purchase', '2026-12-06T10:02:00Z', 's1'],
        ],
      });

      expect(await orderMinutes(db)).toEqual([
        {
          minute: '10:00',
          currency: 'EUR',
          orders: 2,
          orders_with_total: 2,
          total: '110.00',
          cancellations: 0,
          usd: '121.00',
        },
        // No rate for GBP that day: flagged by a null revenue, never counted as zero.
        {
          minute: '10:00',
          currency: 'GBP',
          orders: 1,
          orders_with_total: 1,
          total: '20.00',
          cancellations: 0,
          usd: null,
        },
        {
          minute: '10:00',
          currency: 'USD',
          orders: 1,
          orders_with_total: 1,
          total: '50.50',
          cancellations: 0,
          usd: '50.50',
        },
        {
          minute: '10:01',
          currency: 'EUR',
          orders: 0,
          orders_with_total: 0,
          total: '0.00',
          cancellations: 1,
          usd: '0.00',
        },
        {
          minute: '10:01',
          currency: 'XXX',
          orders: 1,
          orders_with_total: 0,
          total: '0.00',
          cancellations: 0,
          usd: null,
        },
      ]);
      // s1 moved from 10:00 to 09:59 (its late first event) and converted; s2 started at 10:00 and converted.
      expect(await sessionMinutes(db)).toEqual([
        { minute: '09:59', sessions: 1, converted_sessions: 1 },
        { minute: '10:00', sessions: 1, converted_sessions: 1 },
      ]);
      expect(await realtimeKpiDrift(db)).toEqual([]);

      // The GBP rate arrives (the batch run loads it): the next round with order events fills the revenue in.
      await db.exec(`insert into silver.fx_rates values ('2026-12-06', 'GBP', 1.25, false)`);
      await round(db, 'b3', {
        orders: [['o7', 'order_created', '2026-12-06T10:05:00Z', 'pending', 1, 'USD']],
      });
      const [gbp] = await db.query<{ usd: string }>(
        "select cast(revenue_usd as text) as usd from realtime.order_minutes where currency = 'GBP'",
      );
      expect(gbp?.usd).toBe('25.00');
      expect(await realtimeKpiDrift(db)).toEqual([]);

      // The drift check sees a KPI row that silver does not back.
      await db.exec(
        'update realtime.session_minutes set sessions = 5 where sessions = 1 and converted_sessions = 1',
      );
      const drift = await realtimeKpiDrift(db);
      expect(drift.map((row) => row.table)).toEqual(['realtime.session_minutes', 'realtime.session_minutes']);
    } finally {
      await db.close();
    }
  });

  it('serves the live tiles: today so far and the last 60 minutes, with the newest event per topic', async () => {
    const db = await open();
    try {
      await db.exec(SILVER_DDL);
      await ensureWarehouseSchema(db);
      await db.exec(`insert into silver.fx_rates values ('2026-12-06', 'EUR', 2, false)`);
      await round(db, 'b1', {
        orders: [
          ['o1', 'order_created', '2026-12-06T08:00:00Z', 'pending', 10, 'EUR'],
          ['o2', 'order_created', '2026-12-06T09:40:00Z', 'pending', 30, 'USD'],
          ['o3', 'order_created', '2026-12-06T09:45:00Z', 'pending', 5, 'GBP'],
          ['o4', 'order_created', '2026-12-06T09:50:00Z', 'pending', null, null],
          ['o5', 'order_status_changed', '2026-12-06T09:55:00Z', 'cancelled', 30, 'USD'],
          ['o0', 'order_created', '2026-12-05T23:59:00Z', 'pending', 99, 'USD'],
        ],
        clicks: [
          ['c1', 'page_view', '2026-12-06T07:00:00Z', 's1'],
          ['c2', 'page_view', '2026-12-06T09:30:00Z', 's2'],
          ['c3', 'purchase', '2026-12-06T09:31:00Z', 's2'],
        ],
      });
      // A late event older than the newest: the newest stays.
      await round(db, 'b2', { clicks: [['c4', 'page_view', '2026-12-06T06:00:00Z', 's3']] });
      const live = await loadLiveKpis(db, new Date('2026-12-06T10:00:30Z'));
      expect(live.today).toEqual({
        orders: 4,
        revenueUsd: '50.00',
        aovUsd: '25.00',
        ordersAwaitingRate: 1,
        ordersWithoutAmount: 1,
        cancellations: 1,
        sessions: 3,
        convertedSessions: 1,
        conversion: 1 / 3,
      });
      expect(live.lastHour).toMatchObject({ orders: 3, revenueUsd: '30.00', aovUsd: '30.00', sessions: 1 });
      expect(live.progress.map(({ topic, newestEventAt }) => [topic, newestEventAt.toISOString()])).toEqual([
        ['clickstream', '2026-12-06T09:31:00.000Z'],
        ['order-events', '2026-12-06T09:55:00.000Z'],
      ]);
      expect(await realtimeKpiDrift(db)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('count a redelivered event once, also when its earlier delivery is applied after the later one', async () => {
    const db = await open();
    try {
      await db.exec(SILVER_DDL);
      await ensureWarehouseSchema(db);
      const created: OrderEvent = ['o1', 'order_created', '2026-12-06T10:00:05Z', 'pending', 30, 'USD'];
      const cancelled: OrderEvent = [
        'o2',
        'order_status_changed',
        '2026-12-06T10:00:09Z',
        'cancelled',
        30,
        'USD',
      ];
      // During a rebalance the replica that re-read the partition applies its batch first; the batch the first
      // replica wrote earlier follows and becomes the first delivery in silver.
      await round(db, 'later', { orders: [created, cancelled] });
      await round(db, 'earlier', { orders: [created, cancelled] });
      await round(db, 'again', { orders: [created] });

      expect(await orderMinutes(db)).toEqual([
        {
          minute: '10:00',
          currency: 'USD',
          orders: 1,
          orders_with_total: 1,
          total: '30.00',
          cancellations: 1,
          usd: '30.00',
        },
      ]);
      expect(await realtimeKpiDrift(db)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('refuses a batch id it would have to quote', async () => {
    const db = await open();
    try {
      await db.exec(SILVER_DDL);
      await ensureWarehouseSchema(db);
      await expect(
        db.transaction((tx) =>
          applyRealtimeKpis(tx, {
            orderBatchIds: ["x'); drop table silver.fx_rates; --"],
            clickstreamBatchIds: [],
            now: new Date(),
          }),
        ),
      ).rejects.toThrow(/unexpected batch id/);
    } finally {
      await db.close();
    }
  });
});

describe('real-time KPI SQL on Redshift', () => {
  it('sends only statements that parse as Redshift and use nothing Redshift rejects', async () => {
    // Every table exists: silver.fx_rates' branch is the one to check.
    const { db, sent } = recordRedshiftSql((sql) =>
      sql.includes('information_schema.tables') ? [{ n: 1 }] : [],
    );
    await addOrderChange(
      db,
      { before: '(select * from silver.order_events where event_id in (select k from keys))', after: 'rows' },
      new Date(),
    );
    await applyRealtimeKpis(db, {
      orderBatchIds: ['b-1'],
      clickstreamBatchIds: ['b-2'],
      now: new Date(),
    });
    expect(sent.filter((sql) => !sql.includes('information_schema')).length).toBeGreaterThan(10);
    expectRedshiftAccepts(sent, '2026-12-06 00:00:00+00');
  });
});
