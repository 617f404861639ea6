/**
 * Repair extracts: the current source rows of the keys the reconciliation found missing or older in the
 * warehouse, as one raw batch that validate and load take like any extract window.
 */
import { createHash } from 'node:crypto';
import { quoteIdent } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';
import { type ColumnSpec, sqlColumnType } from '../contracts/column-types.ts';
import type { SourceTableSpec } from '../contracts/source-tables.ts';
import { sourceSelect, writeSourceCsv } from '../extract/index.ts';
import { compactTimestamp, isoDate, lakeKey } from '../lake/layout.ts';
import { registerBatch } from '../ops/batches.ts';

/** Keys per SELECT of a repair extract: bounds the statement's size, the rows stream either way. */
const KEYS_PER_SELECT = 1000;

export interface RepairBatch {
  batchId: string;
  rawKey: string;
  rows: number;
}

/**
 * Writes the rows of `keys` (each the key's column values as text) to raw/ and registers the batch. Its id is the
 * watermark plus a digest of the keys: a rerun after a crash rewrites the same object, and a later repair at the
 * same watermark (other keys) never replaces an earlier one's bronze rows. Null when the keys are gone meanwhile.
 */
export async function extractRepairBatch(
  context: JobContext,
  source: SqlDatabase,
  warehouse: SqlDatabase,
  table: SourceTableSpec,
  watermark: string,
  keys: string[][],
): Promise<RepairBatch | null> {
  const digest = createHash('sha256')
    .update(
      keys
        .map((values) => values.join('\u0000'))
        .sort()
        .join('\n'),
    )
    .digest('hex')
    .slice(0, 12);
  const batchId = `${table.name}_repair_${compactTimestamp(watermark)}_${digest}`;
  const ingestionDate = isoDate(context.now());
  const rawKey = lakeKey('raw', table.name, ingestionDate, batchId, 'csv');
  const selects: string[] = [];
  for (let start = 0; start < keys.length; start += KEYS_PER_SELECT)
    selects.push(sourceSelect(table, keyPredicate(table, keys.slice(start, start + KEYS_PER_SELECT))));
  const rows = await writeSourceCsv(context, source, rawKey, selects, { emptyWritesNothing: true });
  if (rows === 0) return null;
  await registerBatch(warehouse, {
    batchId,
    source: table.name,
    kind: 'table',
    ingestionDate,
    rawKey,
    rows,
    at: context.now(),
  });
  return { batchId, rawKey, rows };
}

/** `"order_id" in (1, 2)`, or `("rate_date", "currency") in ((…, …), …)`, with literals checked per column type. */
export function keyPredicate(table: SourceTableSpec, keys: string[][]): string {
  const types = table.primaryKey.map((name) => {
    const column = table.columns.find((candidate) => candidate.name === name);
    if (!column) throw new Error(`${table.name}: key column ${name} is not among its columns`);
    return column;
  });
  const tuple = (values: string[]) => {
    if (values.length !== types.length) throw new Error(`${table.name}: a key has ${values.length} values`);
    const literals = values.map((value, index) => keyLiteral(types[index] as ColumnSpec, value));
    return literals.length === 1 ? (literals[0] as string) : `(${literals.join(', ')})`;
  };
  const columns = table.primaryKey.map(quoteIdent);
  const target = columns.length === 1 ? (columns[0] as string) : `(${columns.join(', ')})`;
  return `${target} in (${keys.map(tuple).join(', ')})`;
}

/** COPY takes no parameters: a key value (the source's own text output) as a literal of its column's type. */
function keyLiteral(column: ColumnSpec, value: string): string {
  if (column.type === 'int' || column.type === 'bigint') {
    if (!/^-?\d{1,18}$/.test(value))
      throw new Error(`refusing a malformed integer key: ${value.slice(0, 40)}`);
    return value;
  }
  // E'' with doubled backslashes reads the same whatever standard_conforming_strings says.
  const quoted = `E'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
  return column.type === 'text' ? quoted : `cast(${quoted} as ${sqlColumnType(column)})`;
}
