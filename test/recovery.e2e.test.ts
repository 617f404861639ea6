import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { run as backfillJob } from '../jobs/backfill/index.ts';
import { reloadBatch, skipBatch } from '../jobs/batches/batch-actions.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext, type JobContext } from '../jobs/context.ts';
import { runExtract } from '../jobs/extract/index.ts';
import { createSourceSchema, generate } from '../jobs/generate/index.ts';
import { replayQuarantine } from '../jobs/quarantine/index.ts';
import { run as rebuildJob } from '../jobs/rebuild/index.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { runTransform } from '../jobs/transform/index.ts';
import { goldHashes, openServerPlatform, type ServerPlatform, TEST_AS_OF } from './harness.ts';
import { createTestDatabase, type TestDatabase } from './pg-database.ts';

/**
 * Backfill and rebuild on real PostgreSQL (source and warehouse) and the file lake: a backfill never moves the
 * watermark nor changes gold for unchanged rows, and repairs rows lost or damaged in bronze; a rebuild from the
 * lake alone, after a history of changes, hard deletes, a skipped batch, a quarantine replay and a failed batch,
 * gives gold identical to the live warehouse's.
 */
const PII_HASH_KEY = 'recovery-test-key';

async function pipeline(platform: ServerPlatform): Promise<void> {
  const result = await runPipeline(platform.context());
  expect(result.blockedBy).toEqual([]);
  expect(result.ok).toBe(true);
}

async function transform(context: JobContext, fullRefresh = false): Promise<void> {
  expect((await runTransform(context, ['silver', 'gold'], { fullRefresh })).blockedBy).toEqual([]);
}

async function watermarks(db: SqlDatabase) {
  return db.query<{ source: string; watermark_at: string; batch_id: string }>(
    'select source, cast(watermark_at as varchar) as watermark_at, batch_id from ops.watermarks order by source',
  );
}

async function count(db: SqlDatabase, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await db.query<{ n: number }>(sql, params as never);
  return Number(row?.n ?? -1);
}

/** Runs a job's entry the way the CLI does, keeping what it prints. */
async function runEntry(
  entry: typeof backfillJob | typeof rebuildJob,
  context: JobContext,
  options: Record<string, unknown>,
): Promise<{ code: number; output: string[]; errors: string[] }> {
  const output: string[] = [];
  const errors: string[] = [];
  const code = await entry(
    context,
    options as never,
    (line) => output.push(line),
    (line) => errors.push(line),
  );
  return { code, output, errors };
}

/** A valid order with lines, the lowest id above `after`. */
async function pickOrder(source: SqlDatabase, after = 0): Promise<number> {
  const [row] = await source.query<{ order_id: number }>(
    `select o.order_id from orders o
     where o.status = 'pending' and o.customer_id is not null and o.order_id > $1 and o.shipping_amount >= 0
       and exists (select 1 from order_items i where i.order_id = o.order_id)
       and not exists (select 1 from order_items i where i.order_id = o.order_id
                       and (i.product_id is null or i.unit_price < 0))
     order by o.order_id limit 1`,
    [after],
  );
  if (!row) throw new Error(`no pending order after ${after}`);
  return row.order_id;
}

describe('backfill and rebuild (PostgreSQL source and warehouse, file lake)', () => {
  let platform: ServerPlatform;
  let fresh: TestDatabase | undefined;
  let rebuilt: SqlDatabase | undefined;

  beforeAll(async () => {
    process.env.PII_HASH_KEY = PII_HASH_KEY;
    platform = await openServerPlatform('recovery');
    await createSourceSchema(platform.source);
    await generate({
      db: platform.source,
      stream: platform.context().stream(),
      seed: 11,
      scale: 0.2,
      asOf: TEST_AS_OF,
    });
    await pipeline(platform);
  }, 300_000);

  afterAll(async () => {
    delete process.env.PII_HASH_KEY;
    await rebuilt?.close();
    await fresh?.dispose();
    await platform?.dispose();
  });

  it('refuses each bad flag with a message naming it, and writes nothing', async () => {
    const now = new Date().toISOString();
    const cases: [Record<string, unknown>, string][] = [
      [
        { source: 'invoices', from: '2026-01-01', to: '2026-01-02' },
        'ecomm: backfill: --source "invoices" is not a source table: one of customers, products, orders, order_items, fx_rates',
      ],
      [{ source: 'orders', from: 'yesterday', to: '2026-01-02' }, '--from "yesterday" is not a timestamp'],
      [{ source: 'orders', from: '2026-01-01', to: '2026-02-30' }, '--to "2026-02-30" is not a real date'],
      [
        { source: 'orders', from: '2026-01-02', to: '2026-01-01T10:00:00Z' },
        '--from (2026-01-02T00:00:00.000Z) must be before --to (2026-01-01T10:00:00.000Z)',
      ],
      [
        { source: 'orders', from: '2026-01-01', to: '2999-01-01' },
        '--to (2999-01-01T00:00:00.000Z) is in the future',
      ],
      [{ source: 'orders', from: now, to: now }, 'must be before --to'],
    ];
    const before = await count(platform.warehouse, 'select cast(count(*) as integer) as n from ops.batches');
    for (const [options, message] of cases) {
      const result = await runEntry(backfillJob, platform.context(), options);
      expect(result.code, JSON.stringify(options)).toBe(2);
      expect(result.errors.join('\n')).toContain(message);
    }
    expect(await count(platform.warehouse, 'select cast(count(*) as integer) as n from ops.batches')).toBe(
      before,
    );
  });

  it('backfills unchanged rows without moving the watermark, doubling a row in silver or changing gold', async () => {
    const gold = await goldHashes(platform.warehouse);
    const marks = await watermarks(platform.warehouse);
    const silverOrders = await count(
      platform.warehouse,
      'select cast(count(*) as integer) as n from silver.orders',
    );
    const window = { source: 'orders', from: '2000-01-01', to: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const context = platform.context();
      const result = await runEntry(backfillJob, context, window);
      expect(result.code).toBe(0);
      expect(result.output[0]).toMatch(
        /^backfill batch orders_backfill_20000101T000000Z_\d+T\d+Z: \d+ rows re-extracted/,
      );
      const [audit] = await platform.warehouse.query<{
        status: string;
        batch_ids: string;
        parameters: string;
      }>(
        "select status, batch_ids, parameters from ops.operations where run_id = $1 and operation = 'backfill'",
        [context.runId],
      );
      expect(audit?.status).toBe('succeeded');
      expect(audit?.batch_ids).toMatch(/^orders_backfill_/);
      expect(audit?.parameters).toContain('source=orders from=2000-01-01T00:00:00.000Z');
    }
    // Run twice, loaded once: the second run replaced the first one's bronze rows.
    const [batch] = await platform.warehouse.query<{ batch_id: string; rows_loaded: number }>(
      "select batch_id, cast(rows_loaded as integer) as rows_loaded from ops.batches where batch_id like 'orders_backfill_%'",
    );
    expect(
      await count(
        platform.warehouse,
        'select cast(count(*) as integer) as n from bronze.orders where _batch_id = $1',
        [batch?.batch_id],
      ),
    ).toBe(batch?.rows_loaded);
    expect(await watermarks(platform.warehouse)).toEqual(marks);
    await transform(platform.context());
    expect(await count(platform.warehouse, 'select cast(count(*) as integer) as n from silver.orders')).toBe(
      silverOrders,
    );
    expect(await goldHashes(platform.warehouse)).toEqual(gold);
  });

  it('repairs rows removed from bronze and rows damaged there', async () => {
    const gold = await goldHashes(platform.warehouse);
    const lost = await pickOrder(platform.source);
    await platform.warehouse.query('delete from bronze.orders where order_id = $1', [String(lost)]);
    await platform.warehouse.query(
      "update bronze.customers set email_hash = 'damaged', country_code = 'ZZ' where customer_id in ('1', '2')",
    );
    // Edits behind the ledger's back are not new batches: only a full refresh shows them downstream.
    await transform(platform.context(), true);
    expect(await goldHashes(platform.warehouse)).not.toEqual(gold);

    const to = new Date().toISOString();
    for (const source of ['orders', 'customers']) {
      const result = await runEntry(backfillJob, platform.context(), { source, from: '2000-01-01', to });
      expect(result.code, result.output.join('\n')).toBe(0);
    }
    await transform(platform.context());
    expect(await goldHashes(platform.warehouse)).toEqual(gold);

    // The batch that lost rows still fails bronze's row-count reconciliation (docs/runbooks/backfill.md): reloading
    // it from its staged object, as the runbook says, clears it.
    const short = await platform.warehouse.query<{ batch_id: string }>(
      `select b.batch_id from ops.batches b where b.source = 'orders' and b.loaded_at is not null
         and b.rows_loaded <> (select count(*) from bronze.orders o where o._batch_id = b.batch_id)`,
    );
    expect(short.length).toBeGreaterThan(0);
    for (const { batch_id } of short) {
      const report = await reloadBatch(platform.context(), batch_id, 'rows removed by the backfill test');
      expect(report.after.status).toBe('loaded');
      expect(report.after.rows_loaded).toBe(report.before.rows_loaded);
    }
    const [stillShort] = await platform.warehouse.query<{ n: number }>(
      `select cast(count(*) as integer) as n from ops.batches b where b.source = 'orders' and b.loaded_at is not null
         and b.rows_loaded <> (select count(*) from bronze.orders o where o._batch_id = b.batch_id)`,
    );
    expect(stillShort?.n).toBe(0);
    const audit = await platform.warehouse.query<{ action: string; reason: string }>(
      "select action, reason from ops.batch_actions where action = 'reload'",
    );
    expect(audit).toHaveLength(short.length);
    expect(audit[0]?.reason).toBe('rows removed by the backfill test');
    await transform(platform.context());
    expect(await goldHashes(platform.warehouse)).toEqual(gold);
  });

  it('rebuilds a fresh warehouse from the lake alone with gold identical to the live one', async () => {
    const { source } = platform;
    // Changes, then a hard delete the reconciliation tombstones.
    const changed = await pickOrder(source);
    await source.query("update orders set status = 'shipped', updated_at = now() where order_id = $1", [
      changed,
    ]);
    await pipeline(platform);
    const deleted = await pickOrder(source, changed);
    await source.query('delete from order_items where order_id = $1', [deleted]);
    await source.query('delete from orders where order_id = $1', [deleted]);
    await pipeline(platform);
    expect(
      await count(
        platform.warehouse,
        "select cast(count(*) as integer) as n from bronze.source_deletes where key_event = 'deleted'",
      ),
    ).toBeGreaterThan(0);

    // A batch skipped by an operator (the reconciliation brings its row in again as a repair).
    await source.query(
      "update customers set loyalty_tier = 'gold', updated_at = now() where customer_id = 3",
    );
    const [extracted] = (await runExtract(platform.context())).filter((table) => table.batchId);
    const skipped = extracted?.batchId as string;
    await skipBatch(platform.context(), skipped, 'recovery test: a batch given up on');
    await pipeline(platform);

    // A quarantine replay: a customer signed up before the contract's earliest date, promoted after the setting is relaxed.
    await source.query(
      "update customers set signed_up_at = '1999-06-01', created_at = '1999-06-01', updated_at = now() where customer_id = 4",
    );
    await pipeline(platform);
    const [quarantined] = await platform.warehouse.query<{ batch_id: string }>(
      "select batch_id from ops.quarantine_rows where source = 'customers' and source_key = '4'",
    );
    expect(quarantined).toBeDefined();
    const replay = await replayQuarantine(
      platform.context({ settings: { CONTRACT_EARLIEST_DATE: '1990-01-01' } }),
      {
        batchId: quarantined?.batch_id as string,
        load: true,
      },
    );
    expect(replay.promoted).toBeGreaterThan(0);
    await pipeline(platform);

    // A batch whose raw object was damaged (a line written twice): validate holds it back, as rows in no longer
    // match the ledger (the reconciliation repairs its rows).
    await source.query(
      'update products set unit_price = unit_price + 1, updated_at = now() where product_id = 5',
    );
    const [damaged] = (await runExtract(platform.context())).filter((table) => table.batchId);
    const rawKey = damaged?.rawKey as string;
    const lines = Buffer.concat(await (await platform.lake.get(rawKey)).toArray())
      .toString('utf8')
      .split('\n');
    await platform.lake.put(rawKey, [...lines.slice(0, 2), ...lines.slice(1)].join('\n'));
    await pipeline(platform);
    const failedId = damaged?.batchId as string;
    const statuses = await platform.warehouse.query<{ batch_id: string; status: string }>(
      `select batch_id, case when skipped_at is not null then 'skipped' when failed_at is not null then 'failed' else 'other' end as status
       from ops.batches where batch_id in ($1, $2) order by batch_id`,
      [skipped, failedId],
    );
    expect(Object.fromEntries(statuses.map((row) => [row.batch_id, row.status]))).toEqual({
      [skipped]: 'skipped',
      [failedId]: 'failed',
    });
    const liveGold = await goldHashes(platform.warehouse);
    const liveMarks = await watermarks(platform.warehouse);

    fresh = await createTestDatabase('recovery_rebuilt');
    rebuilt = await openPostgres(fresh.url);
    const rebuildContext = () =>
      createJobContext(loadConfig({ ...platform.settings, WAREHOUSE_URL: fresh?.url as string }), {
        shared: { lake: platform.lake, source: platform.source, warehouse: rebuilt as SqlDatabase },
      });
    const first = await runEntry(rebuildJob, rebuildContext(), {});
    expect(first.code, first.output.join('\n')).toBe(0);
    expect(first.output[0]).toMatch(
      /^rebuild \d+ batches in the lake, \d+ loaded into bronze, 1 skipped, 1 held back; \d+ tombstones/,
    );
    expect(await goldHashes(rebuilt)).toEqual(liveGold);
    expect(await watermarks(rebuilt)).toEqual(liveMarks);
    for (const table of ['bronze.source_deletes', 'silver.orders', 'silver.customers']) {
      const sql = `select cast(count(*) as integer) as n from ${table}`;
      expect(await count(rebuilt, sql), table).toBe(await count(platform.warehouse, sql));
    }
    const rebuiltStatuses = await rebuilt.query<{ batch_id: string; status: string }>(
      `select batch_id, case when skipped_at is not null then 'skipped' when failed_at is not null then 'failed' else 'other' end as status
       from ops.batches where batch_id in ($1, $2) order by batch_id`,
      [skipped, failedId],
    );
    expect(rebuiltStatuses).toEqual(statuses);

    // A used warehouse is refused, and rebuilt only when forced.
    const refused = await runEntry(rebuildJob, rebuildContext(), {});
    expect(refused.code).toBe(2);
    expect(refused.errors.join('\n')).toMatch(
      /ecomm: rebuild: the warehouse .* is not empty \(ops\.batches: \d+ rows/,
    );
    const forced = await runEntry(rebuildJob, rebuildContext(), { force: true });
    expect(forced.code, forced.output.join('\n')).toBe(0);
    expect(await goldHashes(rebuilt)).toEqual(liveGold);
    const audits = await rebuilt.query<{ status: string; parameters: string }>(
      "select status, parameters from ops.operations where operation = 'rebuild' order by started_at",
    );
    expect(audits.map((row) => row.status)).toEqual(['succeeded', 'succeeded']);
    expect(audits[1]?.parameters).toMatch(/ force$/);
  });
});
