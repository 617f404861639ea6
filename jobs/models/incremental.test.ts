import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { applyIncrementally, buildModels, createBronzeTables } from './build.ts';
import { loadModels, type Model, parseModel } from './models.ts';

const vars = { piiHashKey: 'test-pii-key' };
let db: SqlDatabase;
let models: Model[];
let clicks: Model;

beforeAll(async () => {
  db = await openPglite('pglite://memory');
  models = loadModels();
  clicks = models.find((model) => model.name === 'silver.clickstream_events') as Model;
  await createBronzeTables(db);
});

afterAll(async () => {
  await db.close();
});

let second = 0;
/** Loads a bronze batch of clickstream events (ids as given) the way load does, one _ingested_at per batch. */
async function loadBatch(batchId: string, ids: string[], device = 'web'): Promise<void> {
  second += 1;
  const ingestedAt = new Date(Date.UTC(2026, 9, 1, 12, 0, second)).toISOString();
  await db.query('delete from bronze.clickstream_events where _batch_id = $1', [batchId]);
  for (const [index, id] of ids.entries()) {
    await db.query(
      `insert into bronze.clickstream_events (event_id, event_type, occurred_at, session_id, device,
         _stream_partition, _stream_offset, _published_at, _batch_id, _source_file, _ingested_at)
       values ($1, 'page_view', $2, 's-1', $3, '0', $4, $5, $6, 'raw/x', $7)`,
      [
        ` ${id} `,
        id.startsWith('late')
          ? '2026-09-20T10:00:00.000Z'
          : new Date(Date.UTC(2026, 9, 1, 10, 0, index)).toISOString(),
        device,
        String(index),
        '2026-10-01T11:00:00.000Z',
        batchId,
        ingestedAt,
      ],
    );
  }
}

async function apply(batchIds: string[]) {
  return db.transaction((tx) => applyIncrementally(tx, clicks, { vars, batchIds }));
}

const snapshot = async (table: string) =>
  (await db.query(`select t::text as row_text from ${table} t order by 1`)).map((row) =>
    String(row.row_text),
  );

describe('applyIncrementally (the stream service keeps silver up to date batch by batch)', () => {
  it('builds a missing table whole, then recomputes only the keys a batch touches, ending as a full build would', async () => {
    await loadBatch('b1', ['e1', 'e2', 'e3']);
    const first = await apply(['b1']);
    expect(first).toMatchObject({ full: true, rows: 3 });

    // b2 redelivers e2 (the first delivery, b1, stays the winner) and brings e4 and a late event.
    await loadBatch('b2', ['e2', 'e4', 'late-1']);
    expect(await apply(['b2'])).toMatchObject({ full: false, keys: 3, rows: 3 });
    // b1 is replayed with fewer events and a later _ingested_at (a replay that closed its batch earlier): e3 has
    // no bronze row left and leaves silver, e2's first delivery is now b2's, e1 and e2 stay once each.
    await loadBatch('b1', ['e1', 'e2'], 'mobile');
    await apply(['b1']);
    // A batch applied twice changes nothing.
    await apply(['b2']);

    const incremental = await snapshot('silver.clickstream_events');
    const [counts] = await db.query<{ n: number; ids: number }>(
      'select cast(count(*) as integer) as n, cast(count(distinct event_id) as integer) as ids from silver.clickstream_events',
    );
    expect(counts).toEqual({ n: 4, ids: 4 });
    const [late] = await db.query<{ is_late: boolean; event_date: Date }>(
      "select is_late, event_date from silver.clickstream_events where event_id = 'late-1'",
    );
    expect(late?.is_late).toBe(true);
    expect(late?.event_date.toISOString().slice(0, 10)).toBe('2026-09-20');

    await buildModels(db, models, { vars, only: ['silver.clickstream_events'] });
    expect(await snapshot('silver.clickstream_events')).toEqual(incremental);
  });

  it('leaves no temporary tables behind and refuses models that are not incremental', async () => {
    const leftovers = await db.query(
      "select table_name from information_schema.tables where table_name like 'ecomm_inc_%'",
    );
    expect(leftovers).toEqual([]);
    const orders = models.find((model) => model.name === 'silver.orders') as Model;
    await expect(
      db.transaction((tx) => applyIncrementally(tx, orders, { vars, batchIds: ['b1'] })),
    ).rejects.toThrow(/not an incremental model/);
  });

  it('checks the incremental header: a unique key test and one bronze table', () => {
    expect(clicks.incrementalKey).toBe('event_id');
    expect(() =>
      parseModel(
        'sql/silver/x.sql',
        '-- grain: one row per x\n-- incremental: id\nselect id from bronze.clickstream_events',
        'silver',
      ),
    ).toThrow(/needs a "-- test: unique\(id\)"/);
  });
});
