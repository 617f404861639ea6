import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { redactUrl } from '../adapters/url.ts';
import { quoteIdent } from '../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import type { JobContext } from './context.ts';
import { SOURCE_TABLES, type SourceTableSpec } from './contracts/source-tables.ts';
import { CsvRecordCounter } from './lake/csv.ts';
import { compactTimestamp, isoDate, lakeKey } from './lake/layout.ts';
import { extractLineage } from './lineage/steps.ts';
import { registerBatch } from './ops/batches.ts';
import { recordStep } from './ops/pipeline-runs.ts';

export interface ExtractedTable {
  table: string;
  rows: number;
  batchId: string | null;
  rawKey: string | null;
  window: { after: string | null; upTo: string | null };
}

/**
 * Incremental extract: per table, the rows with watermark < updated_at <= upper bound, as CSV into raw/.
 * The upper bound is the newest updated_at present (at least EXTRACT_SAFETY_LAG_SECONDS old), so every row
 * sharing that timestamp is in this window and the next window starts strictly after it: ties are never split,
 * so no row is skipped or taken twice. The watermark moves only after the raw object is written (invariant 3).
 */
export async function runExtract(
  context: JobContext,
  tables: SourceTableSpec[] = SOURCE_TABLES,
): Promise<ExtractedTable[]> {
  const source = await context.source();
  const warehouse = await context.warehouse();
  await assertSourceTablesExist(context, source, tables);
  const results: ExtractedTable[] = [];
  for (const table of tables) {
    context.throwIfStopping();
    const extracted = await recordStep(
      context,
      { job: 'extract', step: table.name },
      () => extractTable(context, source, warehouse, table),
      {
        outcome: (done) => ({
          batchId: done.batchId,
          status: done.batchId ? 'succeeded' : 'skipped',
          rowsIn: done.rows,
          rowsOut: done.rows,
          message: done.batchId ? null : 'no changed rows since the watermark',
        }),
        lineage: (startedAt, done, error) => extractLineage(context, table, startedAt, done, error),
      },
    );
    results.push(extracted);
  }
  return results;
}

async function extractTable(
  context: JobContext,
  source: SqlDatabase,
  warehouse: SqlDatabase,
  table: SourceTableSpec,
): Promise<ExtractedTable> {
  const watermark = await readWatermark(warehouse, table.name);
  const lagSeconds = context.config.EXTRACT_SAFETY_LAG_SECONDS;
  // Timestamps travel as text: a JS Date would cut microseconds and re-extract rows at the boundary.
  const [bound] = await source.query<{ up_to: string | null }>(
    `select cast(max(updated_at) as varchar) as up_to from ${quoteIdent(table.name)}
     where updated_at <= now() - make_interval(secs => $1) ${watermark ? 'and updated_at > $2' : ''}`,
    watermark ? [lagSeconds, watermark] : [lagSeconds],
  );
  const upTo = bound?.up_to ?? null;
  const window = { after: watermark, upTo };
  if (!upTo) return { table: table.name, rows: 0, batchId: null, rawKey: null, window };

  // The batch is named by where its window starts: a replay after a crash rewrites the same object.
  const batchId = `${table.name}_${watermark ? compactTimestamp(watermark) : 'initial'}`;
  const ingestionDate = isoDate(context.now());
  const rawKey = lakeKey('raw', table.name, ingestionDate, batchId, 'csv');
  const columns = table.columns.map((column) => quoteIdent(column.name)).join(', ');
  const keyOrder = table.primaryKey.map(quoteIdent).join(', ');
  const lower = watermark ? `updated_at > ${timestampLiteral(watermark)} and ` : '';
  const select = `select ${columns} from ${quoteIdent(table.name)}
    where ${lower}updated_at <= ${timestampLiteral(upTo)} order by updated_at, ${keyOrder}`;

  const counter = new CsvRecordCounter();
  const body = new PassThrough();
  const written = context.lake().put(rawKey, body, { contentType: 'text/csv' });
  await pipeline(source.copyToCsv(select), counter, body);
  await written;
  const rows = Math.max(0, counter.records - 1);

  await warehouse.transaction(async (tx) => {
    await registerBatch(tx, {
      batchId,
      source: table.name,
      kind: 'table',
      ingestionDate,
      rawKey,
      rows,
      at: context.now(),
    });
    await tx.query('delete from ops.watermarks where source = $1', [table.name]);
    await tx.query(
      'insert into ops.watermarks (source, watermark_at, batch_id, moved_at) values ($1, $2, $3, $4)',
      [table.name, upTo, batchId, context.now()],
    );
  });
  context.log.info({ job: 'extract', table: table.name, rows, rawKey }, 'extracted');
  return { table: table.name, rows, batchId, rawKey, window };
}

async function assertSourceTablesExist(
  context: JobContext,
  source: SqlDatabase,
  tables: SourceTableSpec[],
): Promise<void> {
  const present = await source.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'public'",
  );
  const missing = tables
    .map((table) => table.name)
    .filter((name) => !present.some((row) => row.table_name === name));
  if (missing.length > 0) {
    throw new Error(
      `source tables missing in SOURCE_URL ${redactUrl(context.config.SOURCE_URL)}: ${missing.join(', ')} ` +
        '(for a demo source run `ecomm generate`, or `ecomm run --demo`)',
    );
  }
}

async function readWatermark(warehouse: SqlDatabase, source: string): Promise<string | null> {
  const [row] = await warehouse.query<{ watermark_at: string }>(
    'select cast(watermark_at as varchar) as watermark_at from ops.watermarks where source = $1',
    [source],
  );
  return row?.watermark_at ?? null;
}

/** COPY takes no parameters; the value came from the database as a timestamp, and is checked before quoting. */
function timestampLiteral(value: string): string {
  if (!/^[0-9: .+\-T]+$/.test(value)) throw new Error(`refusing a malformed watermark timestamp: ${value}`);
  return `cast('${value}' as timestamptz)`;
}
