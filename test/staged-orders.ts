/**
 * Validated batches (of `orders`, or any source's given CSV) staged straight into a lake and the ledger, for what runs after validate (the load
 * job's tests, the load benchmark): ids `first` to `first + rows - 1`, one staged CSV per batch.
 */
import type { ObjectStore } from '../adapters/storage/object-store.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { contractFor } from '../jobs/contracts/data-contracts.ts';
import { markValidated, registerBatch } from '../jobs/ops/batches.ts';
import { stagingColumns } from '../jobs/validate/index.ts';

function stagedOrdersCsv(batchId: string, first: number, rows: number): string {
  const columns = stagingColumns(contractFor('orders'));
  const lines = [columns.join(',')];
  for (let id = first; id < first + rows; id += 1) {
    const row: Record<string, string> = {
      order_id: String(id),
      customer_id: String(1 + (id % 5000)),
      ordered_at: '2026-09-30T10:00:00Z',
      status: 'pending',
      channel: 'web',
      currency: 'USD',
      shipping_amount: '4.99',
      created_at: '2026-09-30T10:00:00Z',
      updated_at: '2026-09-30T10:00:00Z',
      _batch_id: batchId,
      _source_file: `raw/source=orders/${batchId}.csv`,
    };
    lines.push(columns.map((column) => row[column] ?? '').join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Puts the batch's staged CSV in the lake and records it in ops.batches as extracted at `at` and validated. */
export async function stageOrdersBatch(
  lake: ObjectStore,
  db: SqlDatabase,
  batch: { batchId: string; first: number; rows: number; at: Date },
): Promise<void> {
  await stageBatch(lake, db, {
    source: 'orders',
    batchId: batch.batchId,
    csv: stagedOrdersCsv(batch.batchId, batch.first, batch.rows),
    rows: batch.rows,
    at: batch.at,
  });
}

/**
 * Any source's validated batch: its staged CSV put in the lake (unless `staged` is false: a batch whose object is
 * missing) and its ledger row, extracted at `at` and validated.
 */
export async function stageBatch(
  lake: ObjectStore,
  db: SqlDatabase,
  batch: { source: string; batchId: string; csv: string; rows: number; at: Date; staged?: boolean },
): Promise<void> {
  const { source, batchId, rows, at } = batch;
  const stagedKey = `staging/source=${source}/ingestion_date=2026-10-01/${batchId}.csv`;
  if (batch.staged !== false) await lake.put(stagedKey, Buffer.from(batch.csv));
  await registerBatch(db, {
    batchId,
    source,
    kind: 'table',
    ingestionDate: '2026-10-01',
    rawKey: `raw/source=${source}/ingestion_date=2026-10-01/${batchId}.csv`,
    rows,
    at,
  });
  await markValidated(db, batchId, {
    stagedKey,
    quarantineKey: null,
    staged: rows,
    quarantined: 0,
    rescued: 0,
    at,
  });
}
