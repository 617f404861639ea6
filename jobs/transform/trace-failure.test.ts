import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import { openPostgres } from '../../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { createTestDatabase, type TestDatabase } from '../../test/pg-database.ts';
import { buildModels, createBronzeTables } from '../models/build.ts';
import { loadModels, type Model } from '../models/models.ts';
import { describeTracedFailure, traceModelFailure } from './trace-failure.ts';

/** Bronze rows written straight into the table, past the contract: what an older release may have loaded. */
async function insertEvents(db: SqlDatabase, batchId: string, events: { id: string; at: string }[]) {
  for (const [index, event] of events.entries()) {
    await db.query(
      `insert into bronze.clickstream_events (event_id, event_type, occurred_at, session_id, device, _stream_partition,
         _stream_offset, _published_at, _batch_id, _source_file)
       values ($1, 'page_view', $2, 's1', 'web', '0', $3, '2026-09-20T10:00:00.000Z', $4, $5)`,
      [event.id, event.at, String(index), batchId, `raw/${batchId}.ndjson.zst`],
    );
  }
}

const good = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, index) => ({ id: `${prefix}-${index}`, at: '2026-09-20T10:00:00Z' }));

function tracerCases(name: string, open: () => Promise<{ db: SqlDatabase; close: () => Promise<void> }>) {
  describe(`tracing a silver model's data failure to its batch and row on ${name}`, () => {
    let db: SqlDatabase;
    let close: () => Promise<void>;
    let model: Model;

    beforeAll(async () => {
      ({ db, close } = await open());
      await createBronzeTables(db);
      model = loadModels().find((entry) => entry.name === 'silver.clickstream_events') as Model;
      await insertEvents(db, 'clicks_a', good('a', 6));
      await insertEvents(db, 'clicks_b', [
        ...good('b', 4),
        { id: 'leap', at: '2026-02-29T10:00:00Z' },
        ...good('c', 3),
      ]);
      await insertEvents(db, 'clicks_c', good('d', 5));
      await insertEvents(db, 'clicks_d', [{ id: 'month13', at: '2026-13-01T10:00:00Z' }]);
    });
    afterAll(async () => {
      await close();
    });

    it('the build fails with the database message alone, naming no batch or row', async () => {
      await expect(buildModels(db, [model], { vars: {} })).rejects.toThrow(
        /date\/time field value out of range/,
      );
    });

    it('finds every failing batch, its row key and the column whose cast fails', async () => {
      const traced = await traceModelFailure(db, model, {});
      expect(traced?.map(({ batchId, key, column }) => ({ batchId, key, column }))).toEqual([
        { batchId: 'clicks_b', key: 'event_id=leap', column: 'occurred_at' },
        { batchId: 'clicks_d', key: 'event_id=month13', column: 'occurred_at' },
      ]);
      expect(describeTracedFailure(traced?.[0] as never)).toMatch(
        /^silver\.clickstream_events: bronze\.clickstream_events, column occurred_at, batch clicks_b, row event_id=leap: .*out of range/,
      );
    });

    it('finds nothing when the model builds or fails without any input, and declines models without a loaded bronze input', async () => {
      await db.query("delete from bronze.clickstream_events where _batch_id in ('clicks_b', 'clicks_d')");
      expect(await traceModelFailure(db, model, {})).toEqual([]);
      const customers = loadModels().find((entry) => entry.name === 'silver.customers') as Model;
      expect(await traceModelFailure(db, customers, {})).toBeNull();
      // silver.orders reads silver.deleted_keys, which no build has published here: no batch is to blame.
      await db.query(
        `insert into bronze.orders (order_id, customer_id, ordered_at, status, channel, currency, shipping_amount,
           created_at, updated_at, _batch_id, _source_file)
         values ('1', '1', '2026-02-29 10:00:00+00', 'pending', 'web', 'USD', '1.00', '2026-09-30 12:00:00+00',
           '2026-09-30 12:00:00+00', 'orders_a', 'raw/orders_a.csv')`,
      );
      const orders = loadModels().find((entry) => entry.name === 'silver.orders') as Model;
      expect(await traceModelFailure(db, orders, {})).toEqual([]);
    });
  });
}

let postgres: TestDatabase;
beforeAll(async () => {
  postgres = await createTestDatabase('trace');
});
afterAll(async () => {
  await postgres?.dispose();
});

tracerCases('PGlite', async () => {
  const db = await openPglite('pglite://memory');
  return { db, close: () => db.close() };
});
tracerCases('PostgreSQL', async () => {
  const db = await openPostgres(postgres.url);
  return { db, close: () => db.close() };
});
