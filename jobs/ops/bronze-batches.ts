/** What every batch reader shares about batch ids and bronze's rows per batch; it imports nothing of the jobs. */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';

/**
 * A batch id as the ledger's writers make them (letters, digits, `_.:-`, at most 128): the one check before an id is
 * written into SQL as a literal (an `in (...)` list of batches).
 */
export const BATCH_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A bronze table's rows per batch: how many, and the newest `_ingested_at` as the database's text. */
export async function bronzeRowsPerBatch(
  db: SqlDatabase,
  table: string,
): Promise<Map<string, { rows: number; newest: string }>> {
  const rows = await db.query<{ batch_id: string; row_count: unknown; newest: string }>(
    `select _batch_id as batch_id, count(*) as row_count, cast(max(_ingested_at) as varchar(40)) as newest
     from ${table} group by _batch_id`,
  );
  return new Map(
    rows.map((row) => [row.batch_id, { rows: Number(row.row_count), newest: String(row.newest) }]),
  );
}
