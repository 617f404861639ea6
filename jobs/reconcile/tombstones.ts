import { csvLine } from '../../adapters/csv.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { SqlDatabase, SqlParam } from '../../adapters/warehouse/sql-database.ts';
import { lockForWriteSql } from '../../sql/dialects/macros.ts';
import { compactTimestamp, tombstoneKey } from '../lake/layout.ts';
import type { WarehouseKey } from './compare.ts';

const TOMBSTONES = 'bronze.source_deletes';
const ROWS_PER_INSERT = 500;
export const TOMBSTONE_COLUMNS = [
  'source',
  'key_text',
  'key_event',
  'detected_at',
  'last_updated_at',
  'run_id',
  '_batch_id',
];

export type KeyEvent = 'deleted' | 'restored';

/**
 * Appends one key event per key to bronze.source_deletes in one transaction, holding the table's write lock so
 * two reconciliations take turns. detectedAt is the source's clock when it was read (text, to the microsecond):
 * silver treats a deletion as real only when it is newer than the key's latest version. The same rows go to the
 * lake first (`tombstones/`, lake/layout.ts), named by the batch id, so `ecomm rebuild` can restore them: they
 * exist nowhere else once the source row is gone. A rerun of the same reconciliation rewrites the same object.
 */
export async function writeKeyEvents(
  lake: ObjectStore,
  warehouse: SqlDatabase,
  events: {
    table: string;
    runId: string;
    detectedAt: string;
    deleted: WarehouseKey[];
    restored: WarehouseKey[];
  },
): Promise<number> {
  const rows: SqlParam[][] = [];
  const batchId = `${events.table}_keys_${compactTimestamp(events.detectedAt)}`;
  const add = (keyEvent: KeyEvent, keys: WarehouseKey[]) => {
    for (const key of keys) {
      rows.push([
        events.table,
        key.keyText,
        keyEvent,
        events.detectedAt,
        key.version === null ? null : `${key.version}+00`,
        events.runId,
        batchId,
      ]);
    }
  };
  add('deleted', events.deleted);
  add('restored', events.restored);
  if (rows.length === 0) return 0;
  const csv = [csvLine(TOMBSTONE_COLUMNS), ...rows.map((row) => csvLine(row.map(textOf)))].join('');
  await lake.put(tombstoneKey(events.table, events.detectedAt.slice(0, 10), batchId), csv, {
    contentType: 'text/csv',
  });
  await warehouse.transaction(async (tx) => {
    await tx.exec(lockForWriteSql(TOMBSTONES, tx.dialect));
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const chunk = rows.slice(start, start + ROWS_PER_INSERT);
      const tuples = chunk.map(
        (_, row) =>
          `(${TOMBSTONE_COLUMNS.map((__, column) => `$${row * TOMBSTONE_COLUMNS.length + column + 1}`).join(', ')})`,
      );
      await tx.query(
        `insert into ${TOMBSTONES} (${TOMBSTONE_COLUMNS.join(', ')}) values ${tuples.join(', ')}`,
        chunk.flat(),
      );
    }
  });
  return rows.length;
}

function textOf(value: SqlParam): string | null {
  return value === null || value === undefined ? null : String(value);
}
