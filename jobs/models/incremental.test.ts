import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { applyIncrementally, buildLayer, buildModels, createBronzeTables, ModelBuildError } from './build.ts';
import { loadModels, type Model, parseIncremental, parseModel } from './models.ts';

const vars = {};
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

describe('incremental batch builds (jobs/models/incremental.ts) behind the gate', () => {
  const only = ['silver.clickstream_events'];
  const publishedIds = (rows: string[]) => rows.map((row) => row.slice(1).split(',')[0]);
  const state = async () =>
    (
      await db.query<{ row_text: string }>(
        "select m::text as row_text from ops.model_builds m where model = 'silver.clickstream_events'",
      )
    ).map((row) => row.row_text);
  const insertEvent = async (batchId: string, id: string, eventType: string, occurredAt: string) => {
    await db.query(
      `insert into bronze.clickstream_events (event_id, event_type, occurred_at, session_id, device,
         _stream_partition, _stream_offset, _published_at, _batch_id, _source_file, _ingested_at)
       values ($1, $2, $3, 's-9', 'web', '0', '1', '2026-10-01T11:00:00.000Z', $4, 'raw/y', current_timestamp)`,
      [id, eventType, occurredAt, batchId],
    );
  };

  it('applies a new batch as an increment, and a closed gate rolls the increment and its recorded state back (the model is then held back whole)', async () => {
    await buildLayer(db, models, 'silver', { vars, only, fullRefresh: true });
    await insertEvent('g1', 'g-1', 'page_view', '2026-10-01T10:00:00Z');
    const applied = await buildLayer(db, models, 'silver', { vars, only });
    expect(applied.blockedBy).toEqual([]);
    // Its blocking row-local and key-unique checks read only the recomputed key's rows; a warn check, whose finding
    // counts every failing row, reads the whole table.
    const scopes = Object.fromEntries(
      applied.checks.map((check) => [`${check.severity} ${check.kind}`, check.scope ?? 'whole']),
    );
    expect(scopes).toMatchObject({
      'blocking unique': 'changed keys',
      'blocking accepted_values': 'changed keys',
      'blocking not_null': 'changed keys',
      'warn expression': 'whole',
    });
    // Only the new batch's key: the earlier events were all seen by the last build.
    expect(applied.built[0]?.incremental).toMatchObject({ mode: 'incremental', keys: 1 });
    expect(publishedIds(await snapshot('silver.clickstream_events'))).toContain('g-1');
    const published = await snapshot('silver.clickstream_events');
    const recorded = await state();

    await insertEvent('g2', 'g-2', 'teleport', '2026-10-01T10:00:00Z');
    const blocked = await buildLayer(db, models, 'silver', { vars, only });
    // The increment failed its check: rolled back, then the model built whole in `__next` and held back alone.
    expect(blocked.built).toEqual([]);
    expect(blocked.blocked[0]?.build?.incremental).toMatchObject({
      mode: 'full',
      reason: expect.stringContaining('increment failed a blocking check'),
    });
    expect(blocked.blockedBy).toEqual([expect.stringContaining('accepted_values')]);
    expect(await snapshot('silver.clickstream_events')).toEqual(published);
    expect(await state()).toEqual(recorded);
    await db.query("delete from bronze.clickstream_events where _batch_id = 'g2'");
  });

  it('fails an increment on bad data with the model named and the database error (SQLSTATE 22) as its cause', async () => {
    const published = await snapshot('silver.clickstream_events');
    await insertEvent('g3', 'g-3', 'page_view', 'not a time');
    const failure = await buildLayer(db, models, 'silver', { vars, only }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ModelBuildError);
    expect((failure as ModelBuildError).model).toBe('silver.clickstream_events');
    expect(String(((failure as Error).cause as { code?: string }).code)).toMatch(/^22/);
    expect(await snapshot('silver.clickstream_events')).toEqual(published);
    await db.query("delete from bronze.clickstream_events where _batch_id = 'g3'");
    const rebuilt = await buildLayer(db, models, 'silver', { vars, only });
    expect(rebuilt.built[0]?.incremental?.mode).toBe('incremental');
    const incremental = await snapshot('silver.clickstream_events');
    await buildLayer(db, models, 'silver', { vars, only, fullRefresh: true });
    expect(await snapshot('silver.clickstream_events')).toEqual(incremental);
  });

  it('reads the header: unique key and lookback, the short form, and names what is wrong', () => {
    expect(parseIncremental('unique_key=order_id lookback=3 days', 'x', 'f.sql')).toEqual({
      uniqueKey: 'order_id',
      recomputeKey: 'order_id',
      lookbackSeconds: 3 * 86400,
      wholeOn: [],
      keyedVia: [],
    });
    expect(
      parseIncremental(
        'unique_key=order_item_id recompute_key=order_id lookback=1 hour whole_on=silver.fx_rates,silver.deleted_keys',
        'x',
        'f.sql',
      ),
    ).toEqual({
      uniqueKey: 'order_item_id',
      recomputeKey: 'order_id',
      lookbackSeconds: 3600,
      wholeOn: ['silver.fx_rates', 'silver.deleted_keys'],
      keyedVia: [],
    });
    expect(() => parseIncremental('unique_key=id lookback=1 hour whole_on=fx_rates', 'L', 'f.sql')).toThrow(
      /f\.sql: "L" has a bad whole_on table "fx_rates"/,
    );
    expect(parseIncremental('unique_key=id lookback=90 minutes', 'x', 'f.sql').lookbackSeconds).toBe(5400);
    expect(parseIncremental('event_id', 'x', 'f.sql')).toEqual({
      uniqueKey: 'event_id',
      recomputeKey: 'event_id',
      lookbackSeconds: 3600,
      wholeOn: [],
      keyedVia: [],
    });
    expect(() => parseIncremental('unique_key=id lookback=3 fortnights', 'L', 'f.sql')).toThrow(
      /f\.sql: "L" has an unknown lookback unit "fortnights"/,
    );
    expect(() => parseIncremental('unique_key=id lookback=0 days', 'L', 'f.sql')).toThrow(
      /positive lookback/,
    );
    expect(() => parseIncremental('unique_key=id lookback=soon', 'L', 'f.sql')).toThrow(
      /malformed.*lookback=<n>/,
    );
    expect(parseIncremental('unique_key=a,b recompute_key=a', 'x', 'f.sql')).toEqual({
      uniqueKey: 'a,b',
      recomputeKey: 'a',
      lookbackSeconds: 0,
      wholeOn: [],
      keyedVia: [],
    });
    expect(() => parseIncremental('unique_key=a,b', 'L', 'f.sql')).toThrow(/needs a recompute_key/);
    expect(
      parseIncremental(
        'unique_key=order_id recompute_key=customer_key keyed_via=gold.fact_sessions.session_id:gold.order_conversions',
        'x',
        'f.sql',
      ).keyedVia,
    ).toEqual([{ input: 'gold.fact_sessions', column: 'session_id', lookup: 'gold.order_conversions' }]);
    expect(() =>
      parseIncremental(
        'unique_key=id recompute_key=c keyed_via=gold.sessions:gold.conversions',
        'L',
        'f.sql',
      ),
    ).toThrow(/f\.sql: "L" has a bad keyed_via "gold\.sessions:gold\.conversions"/);
    const header = (incremental: string, from: string) =>
      `-- grain: one row per x\n-- test: unique(id)\n-- incremental: ${incremental}\nselect id from ${from}`;
    expect(() => parseModel('sql/gold/x.sql', header('unique_key=id', 'silver.orders'), 'gold')).toThrow(
      /reading silver or bronze needs a lookback=/,
    );
    expect(
      parseModel('sql/gold/x.sql', header('unique_key=id', 'gold.fact_orders'), 'gold').incremental,
    ).toEqual({
      uniqueKey: 'id',
      recomputeKey: 'id',
      lookbackSeconds: 0,
      wholeOn: [],
      keyedVia: [],
    });
    expect(() =>
      parseModel('sql/gold/x.sql', header('unique_key=id,x recompute_key=id', 'gold.a'), 'gold'),
    ).toThrow(/incremental key id,x needs a "-- test: unique\(id, x\)"/);
    expect(() =>
      parseModel(
        'sql/gold/x.sql',
        '-- grain: one row per x\n-- test: unique(id)\n-- incremental: unique_key=id lookback=1 day\nselect id from bronze.orders',
        'gold',
      ),
    ).toThrow(/incremental gold model reads silver and gold tables only/);
  });
});
