import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { sourceTable } from '../jobs/contracts/source-tables.ts';
import { runExtract } from '../jobs/extract/index.ts';
import { createSourceSchema } from '../jobs/generate/index.ts';
import { runLoad } from '../jobs/load/index.ts';
import { runReconcile, type TableReconciliation } from '../jobs/reconcile/index.ts';
import { BUCKET_COUNT } from '../jobs/reconcile/key-sql.ts';
import { runValidate } from '../jobs/validate/index.ts';
import { openServerPlatform, type ServerPlatform } from './harness.ts';

/**
 * The key reconciliation's summary-first comparison on real PostgreSQL (source and warehouse), with 100,000
 * customers: both sides summarise their keys per bucket (count and hash sum), and only the buckets whose summaries
 * differ are compared key by key. Each case checks what was found and how many keys and buckets were compared.
 */
const KEYS = 100_000;
const customers = sourceTable('customers');

/** The bucket of an integer key, computed here independently of the SQL: the key mod 4096. */
const bucketOf = (id: number) => id % BUCKET_COUNT;

/** How many of the seeded ids 1..KEYS share a bucket: the keys a key-by-key comparison of it must visit. */
function seededKeysInBucket(bucket: number): number {
  let count = 0;
  for (let id = 1; id <= KEYS; id += 1) if (bucketOf(id) === bucket) count += 1;
  return count;
}

async function reconcileCustomers(platform: ServerPlatform): Promise<TableReconciliation> {
  const [result] = await runReconcile(platform.context(), [customers]);
  if (!result) throw new Error('no reconciliation result for customers');
  expect(result.skipped).toBeNull();
  return result;
}

/** What a scheduled run does next: the repair batch the reconciliation extracted reaches bronze. */
async function loadRepairs(platform: ServerPlatform): Promise<void> {
  await runValidate(platform.context());
  await runLoad(platform.context());
}

async function tombstones(warehouse: SqlDatabase): Promise<{ key_text: string; key_event: string }[]> {
  return warehouse.query(
    "select key_text, key_event from bronze.source_deletes where source = 'customers' order by detected_at, key_text",
  );
}

describe('key reconciliation: bucket summaries first, keys only in the buckets that differ (PostgreSQL)', () => {
  let platform: ServerPlatform;

  beforeAll(async () => {
    process.env.PII_HASH_KEY = 'reconcile-buckets-test-key';
    platform = await openServerPlatform('recbuckets');
    await createSourceSchema(platform.source);
    // One valid customer per second of 2026-09-01 onwards: every row is well below the watermark after the extract.
    await platform.source.exec(
      `insert into customers (customer_id, email, phone, first_name, last_name, street_address, city, country_code,
         loyalty_tier, signed_up_at, created_at, updated_at)
       select g, 'c' || g || '@example.com', null, 'Ada', 'Lovelace', null, 'Berlin', 'DE', 'gold', ts, ts, ts
       from (select g, timestamptz '2026-09-01 00:00:00+00' + g * interval '1 second' as ts
             from generate_series(1, ${KEYS}) as g) as seeded`,
    );
    await runExtract(platform.context(), [customers]);
    await runValidate(platform.context());
    await runLoad(platform.context());
  }, 300_000);

  afterAll(async () => {
    delete process.env.PII_HASH_KEY;
    await platform?.dispose();
  });

  it('compares no key when every bucket summary agrees', async () => {
    const result = await reconcileCustomers(platform);
    expect(result.sourceKeys).toBe(KEYS);
    expect(result.warehouseKeys).toBe(KEYS);
    expect(result.buckets).toBe(BUCKET_COUNT);
    expect(result.differingBuckets).toBe(0);
    expect(result.differences.compared).toBe(0);
    expect(result.keyEvents).toBe(0);
    const [record] = await platform.warehouse.query<{ message: string }>(
      "select message from ops.pipeline_runs where job = 'reconcile' and step = 'customers' order by started_at desc limit 1",
    );
    expect(record?.message).toMatch(/^0 of 4096 key buckets differed, 0 keys compared; 0 deleted/);
  });

  it('catches one delete among 100,000 keys comparing only the keys of its bucket', async () => {
    const deleted = 4242;
    const bucket = bucketOf(deleted);
    await platform.source.query('delete from customers where customer_id = $1', [deleted]);

    const result = await reconcileCustomers(platform);
    expect(result.differingBuckets).toBe(1);
    // Every key of that one bucket (the deleted one included) and no other.
    const inBucket = seededKeysInBucket(bucket);
    expect(result.differences.compared).toBe(inBucket);
    expect(inBucket).toBeLessThan(100);
    expect(result.differences.counts).toEqual({ deleted: 1, restored: 0, late: 0, regressed: 0 });
    expect(result.differences.deleted.map((key) => key.keyText)).toEqual([String(deleted)]);
    expect(await tombstones(platform.warehouse)).toEqual([
      { key_text: String(deleted), key_event: 'deleted' },
    ]);
    const [record] = await platform.warehouse.query<{ message: string }>(
      "select message from ops.pipeline_runs where job = 'reconcile' and step = 'customers' order by started_at desc limit 1",
    );
    expect(record?.message).toContain(`1 of 4096 key buckets differed, ${inBucket} keys compared; 1 deleted`);

    // Written once: the warehouse now agrees, so the next run compares nothing.
    const again = await reconcileCustomers(platform);
    expect(again.differingBuckets).toBe(0);
    expect(again.differences.compared).toBe(0);
    expect(again.warehouseKeys).toBe(KEYS - 1);
  });

  it('catches a delete and an insert landing in the same bucket, where the key count stays the same', async () => {
    const deleted = 777;
    const bucket = bucketOf(deleted);
    let inserted = KEYS + 1;
    while (bucketOf(inserted) !== bucket) inserted += 1;
    // The new key carries a version well below the watermark (a commit the extract missed) and the same count.
    await platform.source.query('delete from customers where customer_id = $1', [deleted]);
    await platform.source.exec(
      `insert into customers (customer_id, email, phone, first_name, last_name, street_address, city, country_code,
         loyalty_tier, signed_up_at, created_at, updated_at)
       select ${inserted}, 'new@example.com', null, 'Grace', 'Hopper', null, 'Paris', 'FR', 'silver', ts, ts, ts
       from (select timestamptz '2026-09-01 12:00:00+00' as ts) as version`,
    );
    const [counts] = await platform.source.query<{ n: number }>(
      'select cast(count(*) as integer) as n from customers where mod(customer_id, 4096) = $1',
      [bucket],
    );
    expect(counts?.n).toBe(seededKeysInBucket(bucket));

    const result = await reconcileCustomers(platform);
    expect(result.differingBuckets).toBe(1);
    expect(result.differences.compared).toBe(seededKeysInBucket(bucket) + 1);
    expect(result.differences.counts).toEqual({ deleted: 1, restored: 0, late: 1, regressed: 0 });
    expect(result.differences.deleted.map((key) => key.keyText)).toEqual([String(deleted)]);
    expect(result.differences.late.map((key) => key.keyText)).toEqual([String(inserted)]);
    expect(result.repair?.rows).toBe(1);

    await loadRepairs(platform);
    const again = await reconcileCustomers(platform);
    expect(again.differingBuckets).toBe(0);
    expect(again.differences.compared).toBe(0);
  });

  it('restores a deleted key that is back, comparing only its bucket', async () => {
    const restored = 4242;
    await platform.source.exec(
      `insert into customers (customer_id, email, phone, first_name, last_name, street_address, city, country_code,
         loyalty_tier, signed_up_at, created_at, updated_at)
       select ${restored}, 'c${restored}@example.com', null, 'Ada', 'Lovelace', null, 'Berlin', 'DE', 'gold', ts, ts, ts
       from (select timestamptz '2026-09-01 00:00:00+00' + ${restored} * interval '1 second' as ts) as version`,
    );
    const result = await reconcileCustomers(platform);
    expect(result.differingBuckets).toBe(1);
    expect(result.differences.compared).toBe(seededKeysInBucket(bucketOf(restored)));
    expect(result.differences.counts).toEqual({ deleted: 0, restored: 1, late: 0, regressed: 0 });
    const again = await reconcileCustomers(platform);
    expect(again.differences.compared).toBe(0);
  });
});
