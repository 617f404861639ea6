/** The quarantine browser's reads: per-source totals, reasons grouped, sample rows (masked later, in mask.ts). */
import type { SqlDatabase, SqlParam } from '../../adapters/warehouse/sql-database.ts';
import { toDate, toInt } from './queries.ts';

/**
 * Groups reasons that differ only by where a JSON parser gave up (`… in JSON at position 84 (line 1 column 85)`),
 * so one kind of breakage is one row. POSIX classes only: PostgreSQL and Redshift read the pattern alike.
 */
export const REASON_GROUP_SQL =
  "regexp_replace(q.reasons, ' in JSON at position [0-9]+( [(]line [0-9]+ column [0-9]+[)])?', '')";

export interface SourceQuarantine {
  source: string;
  rowsRaw: number;
  rowsQuarantined: number;
  batches: number;
}

export interface ReasonGroup {
  source: string;
  reason: string;
  rows: number;
  batches: number;
  lastSeenAt: Date | null;
}

export interface QuarantineSample {
  batchId: string;
  source: string;
  rowNumber: number;
  reasons: string;
  /** The record as JSON text, cut to SAMPLE_RECORD_CHARS: mask it before showing it (mask.ts). */
  record: string | null;
  quarantinedAt: Date | null;
}

export interface QuarantineFilter {
  source?: string | undefined;
  reason?: string | undefined;
}

export interface Quarantine {
  sources: SourceQuarantine[];
  groups: ReasonGroup[];
  filter: QuarantineFilter;
  samples: QuarantineSample[];
}

/** Sample rows shown for one source or reason; the unfiltered page shows fewer, newest first. */
export const SAMPLE_LIMIT = 50;
export const UNFILTERED_SAMPLE_LIMIT = 20;
const SAMPLE_RECORD_CHARS = 4000;

export async function loadQuarantine(db: SqlDatabase, filter: QuarantineFilter): Promise<Quarantine> {
  const sources = (
    await db.query<Record<string, unknown>>(
      `select source, cast(sum(rows_raw) as bigint) as rows_raw,
         cast(sum(coalesce(rows_quarantined, 0)) as bigint) as rows_quarantined, cast(count(*) as integer) as batches
       from ops.batches group by source order by source limit 200`,
    )
  ).map(
    (row): SourceQuarantine => ({
      source: String(row.source),
      rowsRaw: toInt(row.rows_raw),
      rowsQuarantined: toInt(row.rows_quarantined),
      batches: toInt(row.batches),
    }),
  );
  const groups = (
    await db.query<Record<string, unknown>>(
      `select q.source, ${REASON_GROUP_SQL} as reason, cast(count(*) as integer) as row_count,
         cast(count(distinct q.batch_id) as integer) as batches, max(b.validated_at) as last_seen_at
       from ops.quarantine_rows q left join ops.batches b on b.batch_id = q.batch_id
       group by q.source, ${REASON_GROUP_SQL}
       order by 3 desc, 1, 2
       limit 100`,
    )
  ).map(
    (row): ReasonGroup => ({
      source: String(row.source),
      reason: String(row.reason),
      rows: toInt(row.row_count),
      batches: toInt(row.batches),
      lastSeenAt: toDate(row.last_seen_at),
    }),
  );
  const conditions: string[] = [];
  const params: SqlParam[] = [];
  if (filter.source) {
    params.push(filter.source);
    conditions.push(`q.source = $${params.length}`);
  }
  if (filter.reason) {
    params.push(filter.reason);
    conditions.push(`${REASON_GROUP_SQL} = $${params.length}`);
  }
  const samples = (
    await db.query<Record<string, unknown>>(
      `select q.batch_id, q.source, cast(q.row_number as bigint) as row_number, substring(q.reasons, 1, 1000) as reasons,
         substring(q.record, 1, ${SAMPLE_RECORD_CHARS}) as record, b.validated_at
       from ops.quarantine_rows q left join ops.batches b on b.batch_id = q.batch_id
       ${conditions.length > 0 ? `where ${conditions.join(' and ')}` : ''}
       order by b.validated_at desc nulls last, q.batch_id desc, q.row_number
       limit ${conditions.length > 0 ? SAMPLE_LIMIT : UNFILTERED_SAMPLE_LIMIT}`,
      params,
    )
  ).map(
    (row): QuarantineSample => ({
      batchId: String(row.batch_id),
      source: String(row.source),
      rowNumber: toInt(row.row_number),
      reasons: String(row.reasons),
      record: row.record === null || row.record === undefined ? null : String(row.record),
      quarantinedAt: toDate(row.validated_at),
    }),
  );
  return { sources, groups, filter, samples };
}
