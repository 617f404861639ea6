/**
 * The warehouse side of the key reconciliation, kept between runs: ops.reconcile_versions holds, per source table,
 * each key bronze holds and its newest updated_at. Bronze keeps every version it ever received, so reading it whole
 * every hour costs more each month; the table costs one row per key. Each run folds in only the bronze batches
 * that arrived since the last (ops.reconcile_batches lists those folded in, with their rows and newest
 * `_ingested_at`), read through bronze's `_batch_id, _ingested_at` index.
 *
 * Bronze rows change only a whole batch at a time, in one transaction (a load, a reload, a failed or skipped batch
 * taken out), and every load stamps its own `_ingested_at`: so a folded batch whose row count or newest arrival
 * differs now, or that is gone, was reloaded or taken out, and the table is folded again from scratch. A key whose
 * only version left is such a batch's must not keep it.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { expandMacros, lockForWriteSql } from '../../sql/dialects/macros.ts';
import { columnTypeOf } from '../contracts/data-contracts.ts';
import { bronzeKeyText } from '../contracts/source-keys.ts';
import type { SourceTableSpec } from '../contracts/source-tables.ts';
import { BATCH_ID, bronzeRowsPerBatch } from '../ops/bronze-batches.ts';
import { keyShapeOf, keyVersionColumn } from './key-sql.ts';

const VERSIONS = 'ops.reconcile_versions';
const BATCHES = 'ops.reconcile_batches';
const FOLD = 'ecomm_reconcile_fold';
/** More new batches than this are folded by reading the table whole: one scan beats a long `in` list. */
const MAX_BATCHES_FOLDED = 200;

interface BatchState {
  rows: number;
  newest: string;
}

export interface KeyVersionsRefresh {
  /** `fold`: only new batches read; `rebuild`: the table's bronze read whole (first run, or a batch changed). */
  mode: 'unchanged' | 'fold' | 'rebuild';
  batchesFolded: number;
}

/** Brings ops.reconcile_versions up to date with the table's bronze rows, in one transaction. */
export async function refreshKeyVersions(
  warehouse: SqlDatabase,
  table: SourceTableSpec,
): Promise<KeyVersionsRefresh> {
  return warehouse.transaction(async (tx) => {
    // One reconciliation of a table at a time keeps the fold and its batch list in step.
    await tx.exec(lockForWriteSql(VERSIONS, tx.dialect));
    const inBronze = await bronzeRowsPerBatch(tx, `bronze.${table.name}`);
    const folded = await foldedBatches(tx, table);
    const changed = [...folded].some(([batchId, state]) => {
      const now = inBronze.get(batchId);
      return now === undefined || now.rows !== state.rows || now.newest !== state.newest;
    });
    const fresh = [...inBronze.keys()].filter((batchId) => !folded.has(batchId));
    const unsafe = fresh.filter((batchId) => !BATCH_ID.test(batchId));
    if (unsafe.length > 0)
      throw new Error(`reconcile ${table.name}: unexpected batch id(s) ${unsafe.join(', ')}`);
    if (!changed && fresh.length === 0) return { mode: 'unchanged', batchesFolded: 0 };
    const rebuild = changed || folded.size === 0 || fresh.length > MAX_BATCHES_FOLDED;
    if (rebuild) await foldWhole(tx, table);
    else await foldBatches(tx, table, fresh);
    const folding = rebuild ? inBronze : new Map(fresh.map((id) => [id, inBronze.get(id) as BatchState]));
    await recordBatches(tx, table, folding, rebuild);
    return { mode: rebuild ? 'rebuild' : 'fold', batchesFolded: rebuild ? inBronze.size : fresh.length };
  });
}

async function foldedBatches(db: SqlDatabase, table: SourceTableSpec): Promise<Map<string, BatchState>> {
  const rows = await db.query<{ batch_id: string; row_count: unknown; newest_ingested_at: string }>(
    `select batch_id, row_count, newest_ingested_at from ${BATCHES} where source = $1`,
    [table.name],
  );
  return new Map(
    rows.map((row) => [row.batch_id, { rows: Number(row.row_count), newest: row.newest_ingested_at }]),
  );
}

/** A bronze row's key as kept (its number, or its text) and its version, from the text the extract wrote. */
function bronzeKeyAndVersion(table: SourceTableSpec): string {
  // A bronze key passed its contract's integer type, so it casts like updated_at does (invariant 7); a row an older
  // release let in fails the cast, and the job reports the table instead of reconciling it.
  const key =
    keyShapeOf(table) === 'integer' ? `cast(${bronzeKeyText(table)} as bigint)` : bronzeKeyText(table);
  return `${key} as k, {{ cast_column(${table.name}.updated_at) }} as updated_at`;
}

function render(sql: string, db: SqlDatabase): string {
  return expandMacros(sql, db.dialect, { columnType: columnTypeOf });
}

async function foldWhole(tx: SqlDatabase, table: SourceTableSpec): Promise<void> {
  const column = keyVersionColumn(table);
  await tx.query(`delete from ${VERSIONS} where source = $1`, [table.name]);
  await tx.exec(
    render(
      `insert into ${VERSIONS} (source, ${column}, updated_at)
       select '${table.name}', k, max(updated_at) from (select ${bronzeKeyAndVersion(table)} from bronze.${table.name}) as versions
       where k is not null group by k`,
      tx,
    ),
  );
}

/** Folds the rows of `batchIds` in: each of their keys gets the newer of its kept version and theirs. */
async function foldBatches(tx: SqlDatabase, table: SourceTableSpec, batchIds: string[]): Promise<void> {
  const column = keyVersionColumn(table);
  const batches = batchIds.map((id) => `'${id}'`).join(', ');
  await tx.exec(`drop table if exists ${FOLD}`);
  await tx.exec(
    render(
      `create temp table ${FOLD} as
       select k, max(updated_at) as updated_at from (
         select ${bronzeKeyAndVersion(table)} from bronze.${table.name} where _batch_id in (${batches})
       ) as arrived where k is not null group by k`,
      tx,
    ),
  );
  await tx.exec(
    `insert into ${FOLD} select ${column}, updated_at from ${VERSIONS}
     where source = '${table.name}' and ${column} in (select k from ${FOLD})`,
  );
  await tx.exec(
    `delete from ${VERSIONS} where source = '${table.name}' and ${column} in (select k from ${FOLD})`,
  );
  await tx.exec(
    `insert into ${VERSIONS} (source, ${column}, updated_at)
     select '${table.name}', k, max(updated_at) from ${FOLD} group by k`,
  );
  await tx.exec(`drop table ${FOLD}`);
}

async function recordBatches(
  tx: SqlDatabase,
  table: SourceTableSpec,
  batches: Map<string, BatchState>,
  replace: boolean,
): Promise<void> {
  if (replace) await tx.query(`delete from ${BATCHES} where source = $1`, [table.name]);
  const entries = [...batches];
  // One statement per chunk of batches, not one per batch.
  for (let start = 0; start < entries.length; start += 500) {
    const chunk = entries.slice(start, start + 500);
    const values = chunk.map((_, index) => `($1, $${3 * index + 2}, $${3 * index + 3}, $${3 * index + 4})`);
    await tx.query(
      `insert into ${BATCHES} (source, batch_id, row_count, newest_ingested_at) values ${values.join(', ')}`,
      [table.name, ...chunk.flatMap(([batchId, state]) => [batchId, state.rows, state.newest])],
    );
  }
}
