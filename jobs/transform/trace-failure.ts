/**
 * When a silver model fails on its data (a cast the contract should have refused, an overflow in an expression),
 * the database names neither the batch nor the row. This finds them by running the model's own SQL on halves of
 * its bronze input until one row is left: the failing batches, each one's first failing row (its key) and, when a
 * single column's cast fails, that column. The build can then set those batches aside (invariant 8) instead of
 * every later run failing on the same row.
 *
 * Each probe builds the model into a temporary table inside a transaction that is always rolled back: CTAS
 * evaluates every expression of every row, as the build does (a count(*) over the SELECT could skip columns).
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { expandMacros, type MacroVars } from '../../sql/dialects/macros.ts';
import { bronzeColumnSpecs, columnTypeOf, DATA_CONTRACTS } from '../contracts/data-contracts.ts';
import { renderModelSql } from '../models/build.ts';
import type { Model } from '../models/models.ts';
import { BATCH_ID } from '../ops/bronze-batches.ts';

export interface TracedRowFailure {
  model: string;
  /** `bronze.<table>` */
  table: string;
  batchId: string;
  /** `order_id=5` (the contract's key columns), null when the row could not be isolated. */
  key: string | null;
  /** The bronze column whose cast fails on that row, null when the failure is in a later expression. */
  column: string | null;
  /** The database's message for that row. */
  error: string;
}

/** Every failing batch and its first failing row: table, column, batch and key in one line. */
export function describeTracedFailure(failure: TracedRowFailure): string {
  const where = [
    failure.table,
    failure.column ? `column ${failure.column}` : null,
    `batch ${failure.batchId}`,
    failure.key ? `row ${failure.key}` : null,
  ].filter((part) => part !== null);
  return `${failure.model}: ${where.join(', ')}: ${failure.error}`;
}

const PROBE = 'ecomm_probe_build';
const ROW_NUMBER = 'ecomm_probe_row';

class ProbeRollback extends Error {}

/**
 * The batches of the model's bronze input that make it fail, with their first failing rows; [] when the model
 * builds on every batch alone and on all of them, or fails without any input (the failure is not in the data);
 * null when the model does not read exactly one loaded bronze table.
 */
export async function traceModelFailure(
  db: SqlDatabase,
  model: Model,
  vars: MacroVars,
): Promise<TracedRowFailure[] | null> {
  // The loaded input: the bronze tables batches land in (bronze.source_deletes, written by a job, is not one).
  const loaded = new Set(DATA_CONTRACTS.map((contract) => `bronze.${contract.table}`));
  const inputs = model.dependsOn.filter((dependency) => loaded.has(dependency));
  if (inputs.length !== 1) return null;
  const table = inputs[0] as string;
  const select = renderModelSql(model, db.dialect, vars);
  // A model that fails with no input rows at all fails on something else (a missing table, the SQL): no batch is
  // to blame, and bisecting would blame them all.
  if ((await probe(db, select, table, '1 = 0')) !== null) return [];
  const batches = (
    await db.query<{ batch_id: string }>(`select distinct _batch_id as batch_id from ${table} order by 1`)
  ).map((row) => row.batch_id);
  const unsafe = batches.filter((id) => !BATCH_ID.test(id));
  if (unsafe.length > 0)
    throw new Error(`${table} holds unexpected batch ids: ${unsafe.slice(0, 3).join(', ')}`);
  const failing = await failingBatches(db, select, table, batches);
  const traced: TracedRowFailure[] = [];
  for (const { batchId, error } of failing)
    traced.push(await traceRow(db, model, select, table, batchId, error));
  return traced;
}

/** Bisects the batch list: a failing half is split again until single batches remain. */
async function failingBatches(
  db: SqlDatabase,
  select: string,
  table: string,
  batches: string[],
): Promise<{ batchId: string; error: string }[]> {
  if (batches.length === 0) return [];
  const error = await probe(db, select, table, `_batch_id in (${batches.map((id) => `'${id}'`).join(', ')})`);
  if (error === null) return [];
  if (batches.length === 1) return [{ batchId: batches[0] as string, error }];
  const middle = Math.ceil(batches.length / 2);
  return [
    ...(await failingBatches(db, select, table, batches.slice(0, middle))),
    ...(await failingBatches(db, select, table, batches.slice(middle))),
  ];
}

async function traceRow(
  db: SqlDatabase,
  model: Model,
  select: string,
  table: string,
  batchId: string,
  batchError: string,
): Promise<TracedRowFailure> {
  const name = table.replace(/^bronze\./, '');
  const keyColumns = DATA_CONTRACTS.find((contract) => contract.table === name)?.keyColumns ?? [];
  const order = [...keyColumns.map((column) => `trim(${column})`), '_source_file'].join(', ');
  const [counted] = await db.query<{ n: unknown }>(
    `select count(*) as n from ${table} where _batch_id = $1`,
    [batchId],
  );
  let low = 1;
  let high = Number(counted?.n ?? 0);
  let error = batchError;
  const rows = (from: number, to: number) =>
    `(select * from (select b.*, row_number() over (order by ${order}) as ${ROW_NUMBER} from ${table} b ` +
    `where _batch_id = '${batchId}') numbered where ${ROW_NUMBER} between ${from} and ${to})`;
  // The first half that fails holds the first failing row; a row failing only beside others is not isolated.
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    const firstHalf = await probe(db, select, table, null, rows(low, middle));
    if (firstHalf !== null) {
      high = middle;
      error = firstHalf;
      continue;
    }
    const secondHalf = await probe(db, select, table, null, rows(middle + 1, high));
    if (secondHalf === null) break;
    low = middle + 1;
    error = secondHalf;
  }
  const isolated = low === high;
  const row = rows(low, low);
  return {
    model: model.name,
    table,
    batchId,
    key: isolated ? await keyOf(db, row, keyColumns) : null,
    column: isolated ? await failingColumn(db, row, name) : null,
    error,
  };
}

async function keyOf(db: SqlDatabase, row: string, keyColumns: string[]): Promise<string | null> {
  if (keyColumns.length === 0) return null;
  const [found] = await db.query<Record<string, unknown>>(
    `select ${keyColumns.map((column) => `cast(trim(${column}) as varchar(256)) as ${column}`).join(', ')} from ${row} probe_row`,
  );
  return found ? keyColumns.map((column) => `${column}=${String(found[column])}`).join(', ') : null;
}

/** The first declared column whose cast alone fails on the row. */
async function failingColumn(db: SqlDatabase, row: string, table: string): Promise<string | null> {
  for (const spec of bronzeColumnSpecs(table) ?? []) {
    const cast = expandMacros(`{{ cast_column(${table}.${spec.name}) }}`, db.dialect, {
      columnType: columnTypeOf,
    });
    const failed = await rolledBack(db, (tx) =>
      tx.query(
        `select count(*) as n from (select ${cast} as typed from ${row} probe_row) cast_probe where typed is not null`,
      ),
    );
    if (failed !== null) return spec.name;
  }
  return null;
}

/** Builds the model on part of its bronze input; the database's message when that fails, null when it builds. */
async function probe(
  db: SqlDatabase,
  select: string,
  table: string,
  where: string | null,
  subquery?: string,
): Promise<string | null> {
  const input = subquery ?? `(select * from ${table} where ${where})`;
  const reading = new RegExp(`\\b${table.replace('.', '\\s*\\.\\s*')}\\b`, 'gi');
  const probed = select.replace(reading, `${input} as probe_input`);
  return rolledBack(db, async (tx) => {
    await tx.exec(`create temp table ${PROBE} as\n${probed}`);
  });
}

/** Runs work in a transaction that is always rolled back; the database's message if the work failed. */
async function rolledBack(
  db: SqlDatabase,
  work: (tx: SqlDatabase) => Promise<unknown>,
): Promise<string | null> {
  try {
    await db.transaction(async (tx) => {
      await work(tx);
      throw new ProbeRollback();
    });
  } catch (error) {
    if (error instanceof ProbeRollback) return null;
    const code = (error as { code?: unknown }).code;
    const message = (error as Error).message ?? String(error);
    return typeof code === 'string' && code !== '' ? `${message} (SQLSTATE ${code})` : message;
  }
  return null;
}
