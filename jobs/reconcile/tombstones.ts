import type { SqlDatabase, SqlParam } from '../../adapters/warehouse/sql-database.ts';
import { lockForWriteSql } from '../../sql/dialects/macros.ts';
import { compactTimestamp } from '../lake/layout.ts';
import type { WarehouseKey } from './compare.ts';

const TOMBSTONES = 'bronze.source_deletes';
const ROWS_PER_INSERT = 500;
const COLUMNS = ['source', 'key_text', 'key_event', 'detected_at', 'last_updated_at', 'run_id', '_batch_id'];

export type KeyEvent = 'deleted' | 'restored';

/**
 * Appends one key event per key to bronze.source_deletes in one transaction, holding the table's write lock so
 * two reconciliations take turns. detectedAt is the source's clock when it was read (text, to the microsecond):
 * silver treats a deletion as real only when it is newer than the key's latest version.
 */
export async function writeKeyEvents(
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
  await warehouse.transaction(async (tx) => {
    await tx.exec(lockForWriteSql(TOMBSTONES, tx.dialect));
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const chunk = rows.slice(start, start + ROWS_PER_INSERT);
      const tuples = chunk.map(
        (_, row) => `(${COLUMNS.map((__, column) => `$${row * COLUMNS.length + column + 1}`).join(', ')})`,
      );
      await tx.query(
        `insert into ${TOMBSTONES} (${COLUMNS.join(', ')}) values ${tuples.join(', ')}`,
        chunk.flat(),
      );
    }
  });
  return rows.length;
}
