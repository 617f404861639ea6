import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExtract } from '../jobs/extract/index.ts';
import type { GenerateResult } from '../jobs/generate/index.ts';
import { applySourceChanges } from '../jobs/generate/index.ts';
import { runPipeline } from '../jobs/run/index.ts';
import {
  type EmbeddedPlatform,
  goldHashes,
  openEmbeddedPlatform,
  seedPlatform,
  TEST_AS_OF,
} from './harness.ts';
import { dailySalesFromGold, dailySalesFromSource } from './recompute.ts';

/**
 * The whole embedded pipeline on seeded data, checked the way a user would check it: against the source,
 * against the generator's record of what it broke on purpose, and against a second run.
 */
describe('embedded pipeline end to end', () => {
  let platform: EmbeddedPlatform;
  let seeded: GenerateResult;
  let firstRunHashes: Record<string, string>;

  beforeAll(async () => {
    platform = await openEmbeddedPlatform();
    seeded = await seedPlatform(platform);
    const context = platform.context();
    const result = await runPipeline(context);
    expect(result.blockedBy).toEqual([]);
    firstRunHashes = await goldHashes(platform.warehouse);
  });
  afterAll(async () => {
    await platform.close();
  });

  it('reconciles every batch: rows in = staged + quarantined, recorded in pipeline_runs', async () => {
    const batches = await platform.warehouse.query<{
      batch_id: string;
      rows_raw: number;
      rows_staged: number;
      rows_quarantined: number;
      rows_loaded: number;
    }>(
      `select batch_id, cast(rows_raw as integer) as rows_raw, cast(rows_staged as integer) as rows_staged,
         cast(rows_quarantined as integer) as rows_quarantined, cast(rows_loaded as integer) as rows_loaded
       from ops.batches`,
    );
    expect(batches.length).toBeGreaterThanOrEqual(7);
    for (const batch of batches) {
      expect(batch.rows_staged + batch.rows_quarantined, batch.batch_id).toBe(batch.rows_raw);
      expect(batch.rows_loaded, batch.batch_id).toBe(batch.rows_staged);
    }
    const runs = await platform.warehouse.query<{
      batch_id: string;
      rows_in: number;
      rows_out: number;
      rows_quarantined: number;
    }>(
      `select batch_id, cast(rows_in as integer) as rows_in, cast(rows_out as integer) as rows_out,
         cast(rows_quarantined as integer) as rows_quarantined
       from ops.pipeline_runs where job = 'validate'`,
    );
    expect(runs).toHaveLength(batches.length);
    for (const run of runs) expect(run.rows_out + run.rows_quarantined, run.batch_id).toBe(run.rows_in);
    const [totals] = await platform.warehouse.query<{ raw: number }>(
      'select cast(sum(rows_raw) as integer) as raw from ops.batches',
    );
    const published = Object.values(seeded.counts).reduce((sum, count) => sum + count, 0);
    expect(totals?.raw).toBe(published);
  });

  it('quarantines every injected bad record with its reason, and nothing else', async () => {
    const quarantined = await platform.warehouse.query<{ source: string; reasons: string; record: string }>(
      'select source, reasons, record from ops.quarantine_rows',
    );
    const expected = seeded.anomalies.filter((anomaly) => anomaly.expected === 'quarantine');
    expect(new Set(expected.map((anomaly) => anomaly.kind))).toEqual(
      new Set(['negative_price', 'unknown_status', 'missing_id', 'malformed_json', 'wrong_type']),
    );
    const identify = (source: string, record: string): string => {
      const parsed = JSON.parse(record) as Record<string, unknown>;
      const keyField = {
        customers: 'customer_id',
        products: 'product_id',
        orders: 'order_id',
        order_items: 'order_item_id',
      }[source];
      if (keyField) return `${source}:${parsed[keyField]}`;
      if (typeof parsed.value === 'string') return `${source}:${parsed.value}`; // unreadable event: its raw text
      return `${source}:${parsed.event_id}`;
    };
    const got = quarantined.map((row) => identify(row.source, row.record)).sort();
    const want = expected.map((anomaly) => `${anomaly.source}:${anomaly.id}`).sort();
    expect(got).toEqual(want);
    for (const row of quarantined) expect(row.reasons).toMatch(/^[a-z_]+: |malformed JSON|not valid UTF-8/);
    const byReason = (pattern: RegExp) => quarantined.filter((row) => pattern.test(row.reasons)).length;
    expect(byReason(/unit_price: must be >= 0/)).toBe(
      expected.filter((a) => a.kind === 'negative_price').length,
    );
    expect(byReason(/status: must be one of/)).toBe(
      expected.filter((a) => a.kind === 'unknown_status').length,
    );
    expect(byReason(/malformed JSON/)).toBe(expected.filter((a) => a.kind === 'malformed_json').length);
  });

  it('keeps undeclared event fields as rescued data and reports the drift', async () => {
    const rescuedIds = seeded.anomalies
      .filter((anomaly) => anomaly.expected === 'rescued')
      .map((anomaly) => String(anomaly.id));
    expect(rescuedIds.length).toBeGreaterThan(0);
    const rows = await platform.warehouse.query<{ event_id: string; _rescued_data: string }>(
      `select event_id, _rescued_data from bronze.clickstream_events where _rescued_data is not null
       union all select event_id, _rescued_data from bronze.order_events where _rescued_data is not null`,
    );
    expect(new Set(rows.map((row) => row.event_id))).toEqual(new Set(rescuedIds));
    const drift = await platform.warehouse.query<{ status: string }>(
      "select status from ops.dq_findings where check_type = 'schema_drift' and status = 'fail'",
    );
    expect(drift.length).toBeGreaterThan(0);
  });

  it('deduplicates repeated events in silver', async () => {
    const duplicates = seeded.anomalies.filter((anomaly) => anomaly.expected === 'deduplicated');
    expect(duplicates.length).toBeGreaterThan(0);
    for (const table of ['clickstream_events', 'order_events']) {
      const [row] = await platform.warehouse.query<{ dupes: number }>(
        `select cast(count(*) - count(distinct event_id) as integer) as dupes from silver.${table}`,
      );
      expect(row?.dupes).toBe(0);
    }
    const [bronze] = await platform.warehouse.query<{ dupes: number }>(
      'select cast(count(*) - count(distinct event_id) as integer) as dupes from bronze.clickstream_events',
    );
    expect(bronze?.dupes).toBeGreaterThan(0);
  });

  it('flags exactly the late events (published over a day after they occurred) and keeps them', async () => {
    const late = seeded.anomalies
      .filter((anomaly) => anomaly.expected === 'late')
      .map((anomaly) => String(anomaly.id));
    expect(late.length).toBeGreaterThan(0);
    const flagged = await platform.warehouse.query<{ event_id: string }>(
      `select event_id from silver.clickstream_events where is_late
       union all select event_id from silver.order_events where is_late`,
    );
    expect(flagged.map((row) => row.event_id).sort()).toEqual([...late].sort());
  });

  it('computes daily revenue, orders and AOV exactly as a direct query over the source does', async () => {
    const expected = await dailySalesFromSource(platform.source);
    expect(expected.length).toBeGreaterThan(20);
    expect(await dailySalesFromGold(platform.warehouse)).toEqual(expected);
  });

  it('holds no clear-text email, phone, name or street address in any gold column', async () => {
    const people = await platform.source.query<Record<string, string | null>>(
      'select email, lower(email) as email_lower, phone, first_name, last_name, street_address from customers',
    );
    const secrets = new Set(
      people
        .flatMap((person) => Object.values(person))
        .filter((value): value is string => !!value && value.length > 3),
    );
    const tables = await platform.warehouse.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'gold'",
    );
    expect(tables.length).toBeGreaterThanOrEqual(14);
    let scanned = 0;
    for (const { table_name } of tables) {
      for await (const chunk of platform.warehouse.copyToCsv(`select * from gold.${table_name}`)) {
        const text = chunk.toString();
        for (const cell of text.split(/[,\n]/)) {
          scanned += 1;
          expect(secrets.has(cell.replaceAll('"', '')), `gold.${table_name} holds ${cell}`).toBe(false);
        }
        expect(text).not.toMatch(/[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9.-]+\.[a-z]{2,}/);
      }
    }
    expect(scanned).toBeGreaterThan(10_000);
  });

  it('leaves every gold table identical when the whole pipeline runs again', async () => {
    const context = platform.context();
    const again = await runPipeline(context);
    expect(again.ok).toBe(true);
    expect(await goldHashes(platform.warehouse)).toEqual(firstRunHashes);
    // Nothing changed: the extract makes no batch, and every key bucket of the reconciliation agrees.
    const steps = await platform.warehouse.query<{
      job: string;
      step: string;
      status: string;
      message: string;
    }>(
      `select job, step, status, message from ops.pipeline_runs
       where run_id = $1 and job in ('extract', 'reconcile') order by job, step`,
      [context.runId],
    );
    expect(steps).toHaveLength(10);
    for (const step of steps) {
      if (step.job === 'extract') expect(step.status, step.step).toBe('skipped');
      else expect(step.message, step.step).toMatch(/^0 of \d+ key buckets differed, 0 keys compared/);
    }
    const [batches] = await platform.warehouse.query<{ n: number }>(
      'select cast(count(*) as integer) as n from ops.batches',
    );
    expect(batches?.n).toBeLessThanOrEqual(Object.keys(seeded.counts).length * 3 + 10);
  });

  it('replays a stream whose offsets were never committed without doubling a row', async () => {
    const bronzeCount = async () =>
      (
        await platform.warehouse.query<{ n: number }>(
          'select cast((select count(*) from bronze.clickstream_events) + (select count(*) from bronze.order_events) as integer) as n',
        )
      )[0]?.n;
    const before = await bronzeCount();
    // As if the consumer died after writing its batches but before committing: rewind the group to 0.
    const consumer = await platform.stream.consumer('ecomm-stream-ingest', ['clickstream', 'order-events']);
    const ends = [
      ...(await platform.stream.endOffsets('clickstream')),
      ...(await platform.stream.endOffsets('order-events')),
    ];
    await consumer.commit(ends.map((end) => ({ ...end, offset: 0 })));
    await consumer.close();
    const rawBefore = await platform.warehouse.query<{ raw_key: string }>(
      "select raw_key from ops.batches where source_kind = 'topic' order by raw_key",
    );

    const replay = await runPipeline(platform.context());
    expect(replay.ok).toBe(true);
    expect(replay.steps.find((step) => step.step === 'stream-ingest')?.rows).toBe(
      ends.reduce((sum, end) => sum + end.offset, 0),
    );
    const rawAfter = await platform.warehouse.query<{ raw_key: string }>(
      "select raw_key from ops.batches where source_kind = 'topic' order by raw_key",
    );
    expect(rawAfter).toEqual(rawBefore);
    expect(await bronzeCount()).toBe(before);
    expect(await goldHashes(platform.warehouse)).toEqual(firstRunHashes);
  });

  it('picks up the changed source rows next run (plus the lookback re-reads, never doubled), and SCD2 closes old versions and opens new ones', async () => {
    const changedAt = new Date(TEST_AS_OF.getTime() + 3_600_000);
    const changes = await applySourceChanges(platform.source, {
      seed: 99,
      at: changedAt,
      customers: 5,
      products: 3,
      orders: 7,
    });
    const context = platform.context();
    // What the lookback must read again: the source rows in (watermark - lookback, watermark] of each changed table.
    const rereads: Record<string, number> = {};
    for (const table of ['customers', 'products', 'orders']) {
      const [watermark] = await platform.warehouse.query<{ at: string }>(
        'select cast(watermark_at as varchar) as at from ops.watermarks where source = $1',
        [table],
      );
      const [row] = await platform.source.query<{ n: number }>(
        `select cast(count(*) as integer) as n from ${table}
         where updated_at <= cast($1 as timestamptz)
           and updated_at > cast($1 as timestamptz) - make_interval(secs => $2)`,
        [watermark?.at ?? '', context.config.EXTRACT_LOOKBACK_SECONDS],
      );
      rereads[table] = row?.n ?? 0;
      // At least the row that set the watermark.
      expect(rereads[table], table).toBeGreaterThan(0);
    }
    const extracted = await runExtract(context);
    const rows = Object.fromEntries(extracted.map((table) => [table.table, table.rows]));
    expect(rows).toEqual({
      customers: 5 + (rereads.customers ?? 0),
      products: 3 + (rereads.products ?? 0),
      orders: 7 + (rereads.orders ?? 0),
      order_items: 0,
      fx_rates: 0,
    });
    expect(Object.fromEntries(extracted.map((table) => [table.table, table.reread]))).toEqual({
      ...rereads,
      order_items: 0,
      fx_rates: 0,
    });
    expect(extracted.filter((table) => table.batchId === null).map((table) => table.table)).toEqual([
      'order_items',
      'fx_rates',
    ]);
    const result = await runPipeline(platform.context());
    expect(result.ok).toBe(true);
    for (const [table, key] of [
      ['customers', 'customer_id'],
      ['products', 'product_id'],
      ['orders', 'order_id'],
    ]) {
      const [silver] = await platform.warehouse.query<{ n: number; keys: number }>(
        `select cast(count(*) as integer) as n, cast(count(distinct ${key}) as integer) as keys from silver.${table}`,
      );
      expect(silver?.n, `silver.${table} holds each re-read row once`).toBe(silver?.keys);
    }

    const versions = await platform.warehouse.query<{
      customer_id: number;
      valid_from: string;
      valid_to: string | null;
      is_current: boolean;
    }>(
      `select cast(customer_id as integer) as customer_id, cast(valid_from as varchar) as valid_from,
         cast(valid_to as varchar) as valid_to, is_current
       from gold.dim_customers where customer_id in (${changes.customers.join(', ')}) order by customer_id, valid_from`,
    );
    expect(versions).toHaveLength(10);
    for (const id of changes.customers) {
      const [old, current] = versions.filter((version) => version.customer_id === id);
      expect(old?.is_current).toBe(false);
      expect(old?.valid_to).toBe(current?.valid_from);
      expect(current?.is_current).toBe(true);
      expect(current?.valid_to).toBeNull();
      expect(new Date(`${current?.valid_from}`.replace(' ', 'T').replace(/\+00$/, 'Z')).getTime()).toBe(
        changedAt.getTime(),
      );
    }
    const [products] = await platform.warehouse.query<{ n: number }>(
      `select cast(count(*) as integer) as n from gold.dim_products where product_id in (${changes.products.join(', ')})`,
    );
    expect(products?.n).toBe(6);
    const statuses = await platform.warehouse.query<{ n: number }>(
      `select cast(count(*) as integer) as n from silver.orders where order_id in (${changes.orders.join(', ')})
       and updated_at = cast($1 as timestamptz)`,
      [changedAt],
    );
    expect(statuses[0]?.n).toBe(7);
  });
});
