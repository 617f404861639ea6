/**
 * Batches held back because their own data failed a step (ops.batches failed_* and skipped_*): what the operator
 * has to retry or skip with `ecomm batches`. A reason may quote a refused value, so it is masked (mask.ts) and cut
 * short here, before either the page or its JSON twin sees it.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { maskText } from './mask.ts';
import { toDate, toInt } from './queries.ts';

export interface HeldBatch {
  batchId: string;
  source: string;
  kind: string;
  status: 'failed' | 'skipped';
  rowsRaw: number;
  failedAt: Date | null;
  failedStep: string | null;
  /** Masked, at most REASON_CHARS characters. */
  reason: string | null;
  skippedAt: Date | null;
  skipReason: string | null;
}

export interface HeldBatches {
  /** Failed first (oldest failure first: the longest wait), then the latest skips. */
  batches: HeldBatch[];
  failed: number;
  skipped: number;
}

export const HELD_BATCH_LIMIT = 50;
const REASON_CHARS = 300;

export async function loadHeldBatches(db: SqlDatabase): Promise<HeldBatches> {
  const rows = await db.query<Record<string, unknown>>(
    `select batch_id, source, source_kind, case when skipped_at is null then 'failed' else 'skipped' end as status,
       cast(rows_raw as integer) as rows_raw, failed_at, failed_step,
       substring(failure_reason, 1, ${REASON_CHARS * 2}) as failure_reason, skipped_at,
       substring(skip_reason, 1, ${REASON_CHARS * 2}) as skip_reason
     from ops.batches
     where failed_at is not null or skipped_at is not null
     order by case when skipped_at is null then 0 else 1 end,
       case when skipped_at is null then failed_at end, skipped_at desc, batch_id
     limit ${HELD_BATCH_LIMIT}`,
  );
  const [counts] = await db.query<Record<string, unknown>>(
    `select cast(sum(case when skipped_at is null and failed_at is not null then 1 else 0 end) as integer) as failed,
       cast(sum(case when skipped_at is not null then 1 else 0 end) as integer) as skipped
     from ops.batches`,
  );
  return {
    batches: rows.map(
      (row): HeldBatch => ({
        batchId: String(row.batch_id),
        source: String(row.source),
        kind: String(row.source_kind),
        status: row.status === 'skipped' ? 'skipped' : 'failed',
        rowsRaw: toInt(row.rows_raw),
        failedAt: toDate(row.failed_at),
        failedStep:
          row.failed_step === null || row.failed_step === undefined ? null : String(row.failed_step),
        reason: shown(row.failure_reason),
        skippedAt: toDate(row.skipped_at),
        skipReason: shown(row.skip_reason),
      }),
    ),
    failed: toInt(counts?.failed),
    skipped: toInt(counts?.skipped),
  };
}

function shown(text: unknown): string | null {
  if (text === null || text === undefined) return null;
  const masked = maskText(String(text));
  return masked.length > REASON_CHARS ? `${masked.slice(0, REASON_CHARS - 1)}…` : masked;
}
