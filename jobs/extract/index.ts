import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { redactUrl } from '../../adapters/redact.ts';
import { quoteIdent } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { sourceKeyText } from '../contracts/source-keys.ts';
import { SOURCE_TABLES, type SourceTableSpec } from '../contracts/source-tables.ts';
import { CsvRecordCounter } from '../lake/csv.ts';
import { compactTimestamp, isoDate, lakeKey } from '../lake/layout.ts';
import { registerBatch } from '../ops/batches.ts';
import { bronzeCount, type Finding, recordFindings } from '../ops/dq-findings.ts';
import { recordStep } from '../ops/pipeline-runs.ts';
import { extractLineage } from './lineage.ts';

export interface ExtractedTable {
  table: string;
  rows: number;
  /** Rows of the batch at or below the previous watermark: read again by the lookback window. */
  reread: number;
  batchId: string | null;
  rawKey: string | null;
  /** The watermark the window starts after, how far back it re-read (exclusive), and its upper bound. */
  window: { after: string | null; rereadFrom: string | null; upTo: string | null };
}

/** Keys shown in a finding about rows no extract can read. */
const SAMPLE_KEYS = 5;

/**
 * Incremental extract: per table, the rows with watermark - lookback < updated_at <= upper bound, as CSV into raw/.
 * The upper bound is the newest updated_at present (at least EXTRACT_SAFETY_LAG_SECONDS old), so every row
 * sharing that timestamp is in this window and the next one starts after it: ties are never split. The lookback
 * (EXTRACT_LOOKBACK_SECONDS) reads again behind the watermark, so a transaction that committed after the last
 * extract with an older updated_at is picked up; silver keeps one row per (key, updated_at), so a row read twice
 * counts once. A table with nothing newer than its watermark gets no batch at all. The watermark moves only after
 * the raw object is written (invariant 3). Rows with updated_at NULL or in the future are never in a window:
 * each run counts them as a finding, with their first keys.
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
          message: done.batchId
            ? `${done.reread} of ${done.rows} rows re-read behind the watermark ` +
              `(lookback ${context.config.EXTRACT_LOOKBACK_SECONDS} s)`
            : 'no changed rows since the watermark',
        }),
        lineage: (startedAt, done, error) => extractLineage(context, table, startedAt, done, error),
      },
    );
    results.push(extracted);
    await recordFindings(warehouse, context.runId, [await unextractableRows(source, table)], context.now());
  }
  return results;
}

/** `ecomm extract`: one line per source table, with the raw object its window went to. */
export async function run(context: JobContext, _options: object, output: PrintLine): Promise<number> {
  for (const table of await runExtract(context))
    output(
      `extract ${table.table.padEnd(12)} ${table.rows} rows${table.rawKey ? ` -> ${table.rawKey}` : ''}`,
    );
  return 0;
}

interface ExtractWindow {
  upTo: string | null;
  rereadFrom: string | null;
}

async function extractTable(
  context: JobContext,
  source: SqlDatabase,
  warehouse: SqlDatabase,
  table: SourceTableSpec,
): Promise<ExtractedTable> {
  const watermark = await readWatermark(warehouse, table.name);
  // The batch is named by where its window starts: a replay after a crash rewrites the same object.
  const batchId = `${table.name}_${watermark ? compactTimestamp(watermark) : 'initial'}`;
  const ingestionDate = isoDate(context.now());
  const rawKey = lakeKey('raw', table.name, ingestionDate, batchId, 'csv');
  // One snapshot for the bound, the re-read count and the rows: the count describes exactly the object written.
  const read = await source.transaction(async (tx) => {
    await tx.exec('set transaction isolation level repeatable read');
    const window = await readWindow(context, tx, table, watermark);
    if (!window.upTo) return { window, rows: 0, reread: 0 };
    const reread = await countRereads(tx, table, window.rereadFrom, watermark);
    const lower = window.rereadFrom ?? watermark;
    const where = `${lower ? `updated_at > ${timestampLiteral(lower)} and ` : ''}updated_at <= ${timestampLiteral(window.upTo)}`;
    const rows = await writeSourceCsv(context, tx, rawKey, [sourceSelect(table, where)]);
    return { window, rows, reread };
  });
  const window = { after: watermark, ...read.window };
  if (!read.window.upTo)
    return { table: table.name, rows: 0, reread: 0, batchId: null, rawKey: null, window };

  await warehouse.transaction(async (tx) => {
    await registerBatch(tx, {
      batchId,
      source: table.name,
      kind: 'table',
      ingestionDate,
      rawKey,
      rows: read.rows,
      at: context.now(),
    });
    await tx.query('delete from ops.watermarks where source = $1', [table.name]);
    await tx.query(
      'insert into ops.watermarks (source, watermark_at, batch_id, moved_at) values ($1, $2, $3, $4)',
      [table.name, read.window.upTo, batchId, context.now()],
    );
  });
  context.log.info(
    { job: 'extract', table: table.name, rows: read.rows, reread: read.reread, rawKey },
    'extracted',
  );
  return { table: table.name, rows: read.rows, reread: read.reread, batchId, rawKey, window };
}

/**
 * The window's upper bound, only when something is newer than the watermark, and where the lookback starts.
 * Timestamps travel as text: a JS Date would cut microseconds and re-extract rows at the boundary.
 */
async function readWindow(
  context: JobContext,
  source: SqlDatabase,
  table: SourceTableSpec,
  watermark: string | null,
): Promise<ExtractWindow> {
  const lag = context.config.EXTRACT_SAFETY_LAG_SECONDS;
  const lookback = context.config.EXTRACT_LOOKBACK_SECONDS;
  const [bound] = await source.query<{ up_to: string | null; reread_from: string | null }>(
    watermark
      ? `select cast(max(updated_at) as varchar) as up_to,
           cast(cast($2 as timestamptz) - make_interval(secs => $3) as varchar) as reread_from
         from ${quoteIdent(table.name)}
         where updated_at <= now() - make_interval(secs => $1) and updated_at > cast($2 as timestamptz)`
      : `select cast(max(updated_at) as varchar) as up_to, cast(null as varchar) as reread_from
         from ${quoteIdent(table.name)} where updated_at <= now() - make_interval(secs => $1)`,
    watermark ? [lag, watermark, lookback] : [lag],
  );
  return { upTo: bound?.up_to ?? null, rereadFrom: bound?.up_to ? (bound.reread_from ?? null) : null };
}

async function countRereads(
  source: SqlDatabase,
  table: SourceTableSpec,
  rereadFrom: string | null,
  watermark: string | null,
): Promise<number> {
  if (!rereadFrom || !watermark) return 0;
  const [row] = await source.query<{ n: number }>(
    `select cast(count(*) as integer) as n from ${quoteIdent(table.name)}
     where updated_at > cast($1 as timestamptz) and updated_at <= cast($2 as timestamptz)`,
    [rereadFrom, watermark],
  );
  return Number(row?.n ?? 0);
}

/** The extract's SELECT of one source table: its contract columns, in updated_at then key order. */
export function sourceSelect(table: SourceTableSpec, where: string): string {
  const columns = table.columns.map((column) => quoteIdent(column.name)).join(', ');
  const keyOrder = table.primaryKey.map(quoteIdent).join(', ');
  return `select ${columns} from ${quoteIdent(table.name)} where ${where} order by updated_at, ${keyOrder}`;
}

/**
 * Streams the rows of one or more SELECTs on the source (COPY ... TO STDOUT) into one CSV object in the lake, with
 * one header line, never holding the rows. Returns the number of rows written.
 */
export async function writeSourceCsv(
  context: JobContext,
  source: SqlDatabase,
  rawKey: string,
  selects: string[],
  options: { emptyWritesNothing?: boolean } = {},
): Promise<number> {
  let chunks: AsyncIterable<Buffer> = concatenatedCsv(source, selects);
  if (options.emptyWritesNothing) {
    const held = await firstDataRow(chunks[Symbol.asyncIterator]());
    if (held === null) return 0;
    chunks = held;
  }
  const counter = new CsvRecordCounter();
  const body = new PassThrough();
  const written = context.lake().put(rawKey, body, { contentType: 'text/csv' });
  await pipeline(Readable.from(chunks), counter, body);
  await written;
  return Math.max(0, counter.records - 1);
}

/**
 * Holds the CSV until a byte after its header line shows a row: null when the SELECTs return none, so an empty
 * repair or backfill leaves no object behind (and needs no delete in the lake); else the whole CSV, held bytes first.
 */
async function firstDataRow(chunks: AsyncIterator<Buffer>): Promise<AsyncIterable<Buffer> | null> {
  const held: Buffer[] = [];
  let headerEnded = false;
  for (;;) {
    const next = await chunks.next();
    if (next.done) return null;
    held.push(next.value);
    const newline = headerEnded ? -1 : next.value.indexOf(0x0a);
    if (!headerEnded && newline >= 0) headerEnded = true;
    if (headerEnded && next.value.length > newline + 1) break;
  }
  return (async function* () {
    yield* held;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  })();
}

async function* concatenatedCsv(source: SqlDatabase, selects: string[]): AsyncGenerator<Buffer> {
  for (const [index, select] of selects.entries()) {
    let header = index > 0;
    for await (const chunk of source.copyToCsv(select)) {
      let bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      if (header) {
        // Column names hold no newline: the header of every COPY after the first ends at the first one.
        const end = bytes.indexOf(0x0a);
        if (end < 0) continue;
        bytes = bytes.subarray(end + 1);
        header = false;
      }
      if (bytes.length > 0) yield bytes;
    }
  }
}

/** Rows no window can read (updated_at NULL or later than the source's clock), as a finding with their first keys. */
async function unextractableRows(source: SqlDatabase, table: SourceTableSpec): Promise<Finding> {
  const unreadable = 'updated_at is null or updated_at > now()';
  const [counted] = await source.query<{ n: number }>(
    `select cast(count(*) as integer) as n from ${quoteIdent(table.name)} where ${unreadable}`,
  );
  const failing = Number(counted?.n ?? 0);
  const sample =
    failing === 0
      ? []
      : await source.query<{ key_text: string; updated_at: string | null }>(
          `select ${sourceKeyText(table)} as key_text, cast(updated_at as varchar) as updated_at
           from ${quoteIdent(table.name)} where ${unreadable}
           order by ${table.primaryKey.map(quoteIdent).join(', ')} limit ${SAMPLE_KEYS}`,
        );
  return bronzeCount(
    table.name,
    'unextractable_updated_at',
    failing,
    () =>
      `${failing} source rows of ${table.name} have updated_at NULL or later than the source's clock, so no ` +
      `extract reads them; first keys: ${sample.map((row) => `${row.key_text} (${row.updated_at ?? 'null'})`).join(', ')}`,
  );
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

export async function readWatermark(warehouse: SqlDatabase, source: string): Promise<string | null> {
  const [row] = await warehouse.query<{ watermark_at: string }>(
    'select cast(watermark_at as varchar) as watermark_at from ops.watermarks where source = $1',
    [source],
  );
  return row?.watermark_at ?? null;
}

/** COPY takes no parameters; the value came from the database as a timestamp, and is checked before quoting. */
export function timestampLiteral(value: string): string {
  if (!/^[0-9: .+\-T]+$/.test(value)) throw new Error(`refusing a malformed watermark timestamp: ${value}`);
  return `cast('${value}' as timestamptz)`;
}
