import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MissingStreamsError, type SourceConnector, type SourceWindow } from '../../adapters/source/index.ts';
import { concatenatedCsv, streamSelect, timestampLiteral } from '../../adapters/source/sql.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { SOURCE_TABLES, type SourceTableSpec } from '../contracts/source-tables.ts';
import { CsvRecordCounter } from '../lake/csv.ts';
import { compactTimestamp, isoDate, lakeKey } from '../lake/layout.ts';
import { registerBatch } from '../ops/batches.ts';
import { bronzeCount, type Finding, recordFindings } from '../ops/dq-findings.ts';
import { recordStep } from '../ops/pipeline-runs.ts';
import { extractLineage } from './lineage.ts';
import { type ConfiguredSource, configuredSources, type ExtractStream, tableStream } from './sources.ts';

/** Which OLTP tables another source stands in for: reconcile and backfill leave them alone. */
export { replacedTables } from './sources.ts';
export { timestampLiteral };

export interface ExtractedTable {
  /** The stream's name: an OLTP table, or another source's stream. */
  table: string;
  rows: number;
  /** Rows of the batch at or below the previous watermark: read again by the lookback window. */
  reread: number;
  batchId: string | null;
  rawKey: string | null;
  /** The watermark the window starts after, how far back it re-read (exclusive), and its upper bound. */
  window: { after: string | null; rereadFrom: string | null; upTo: string | null };
  /** Why a further source's stream was not extracted this run (sourceUnavailable); absent when it was. */
  error?: string;
}

/**
 * Incremental extract of every configured source (sources.ts), stream by stream through its source connector
 * (adapters/source): per stream, the rows with watermark - lookback < cursor <= upper bound, as CSV into raw/. The
 * upper bound is the newest cursor value present (at least EXTRACT_SAFETY_LAG_SECONDS old), so every row sharing it
 * is in this window and the next one starts after it: ties are never split. The lookback (EXTRACT_LOOKBACK_SECONDS)
 * reads again behind the watermark, so a transaction that committed after the last extract with an older cursor is
 * picked up; silver keeps one row per (key, updated_at), so a row read twice counts once. A stream with nothing
 * newer than its watermark gets no batch at all. The watermark moves only after the raw object is written
 * (invariant 3). Rows whose cursor is NULL or in the future are never in a window: each run counts them as a
 * finding, with their first keys. `tables` narrows the OLTP database's tables (tests).
 */
export async function runExtract(
  context: JobContext,
  tables: SourceTableSpec[] = SOURCE_TABLES,
): Promise<ExtractedTable[]> {
  const warehouse = await context.warehouse();
  // Every source is checked before any of its windows is read: a missing stream reads nothing of that source.
  const sources: { source: ConfiguredSource; connector: SourceConnector }[] = [];
  const results: ExtractedTable[] = [];
  for (const source of configuredSources(context.config, tables)) {
    try {
      const connector = await context.sourceConnector(source.setting);
      await checkStreams(source, connector);
      sources.push({ source, connector });
    } catch (error) {
      if (source.setting === 'SOURCE_URL') throw error;
      results.push(...(await sourceUnavailable(context, source, source.streams, error)));
    }
  }
  for (const { source, connector } of sources)
    for (const stream of source.streams) {
      context.throwIfStopping();
      let extracted: ExtractedTable;
      try {
        extracted = await recordStep(
          context,
          { job: 'extract', step: stream.name },
          () => extractStream(context, connector, warehouse, stream),
          {
            outcome: (done) => ({
              batchId: done.batchId,
              status: done.batchId ? 'succeeded' : 'skipped',
              rowsIn: done.rows,
              rowsOut: done.rows,
              message: done.batchId
                ? `${done.reread} of ${done.rows} rows re-read behind the watermark ` +
                  `(lookback ${context.config.EXTRACT_LOOKBACK_SECONDS} s)`
                : done.window.upTo
                  ? 'nothing in the window: watermark moved, no batch'
                  : 'no changed rows since the watermark',
            }),
            lineage: (startedAt, done, error) =>
              extractLineage(context, source, stream, startedAt, done, error),
          },
        );
      } catch (error) {
        // The OLTP database is the pipeline's spine; a further source (a CRM, a vendor) down or refusing is
        // reported and left for the next run, and never holds back the others.
        if (source.setting === 'SOURCE_URL') throw error;
        results.push(...(await sourceUnavailable(context, source, [stream], error)));
        continue;
      }
      results.push(extracted);
      await recordFindings(
        warehouse,
        context.runId,
        [await unextractableRows(connector, stream)],
        context.now(),
      );
    }
  return results;
}

/**
 * A further source's streams not extracted this run: a failing warn finding each (`<stream>:source_unavailable`,
 * with the reason), so the run, the monitor and the watchdog show it, and no watermark moved.
 */
async function sourceUnavailable(
  context: JobContext,
  source: ConfiguredSource,
  streams: ExtractStream[],
  error: unknown,
): Promise<ExtractedTable[]> {
  const reason = `${source.setting}: ${(error as Error)?.message ?? String(error)}`;
  context.log.error({ job: 'extract', setting: source.setting, err: reason }, 'source not extracted');
  await recordFindings(
    await context.warehouse(),
    context.runId,
    streams.map((stream) => ({
      checkId: `bronze.${stream.name}:source_unavailable`,
      layer: 'bronze',
      tableName: `bronze.${stream.name}`,
      checkType: 'source_unavailable',
      severity: 'warn',
      passed: false,
      failingRows: 0,
      details: `not extracted this run, its watermark kept: ${reason}`,
    })),
    context.now(),
  );
  return streams.map((stream) => ({
    table: stream.name,
    rows: 0,
    reread: 0,
    batchId: null,
    rawKey: null,
    window: { after: null, rereadFrom: null, upTo: null },
    error: reason,
  }));
}

/**
 * `ecomm extract`: one line per source stream, with the raw object its window went to; exit 1 when a further
 * source could not be read (the others were).
 */
export async function run(context: JobContext, _options: object, output: PrintLine): Promise<number> {
  const tables = await runExtract(context);
  for (const table of tables)
    output(
      table.error
        ? `extract ${table.table.padEnd(12)} NOT extracted: ${table.error}`
        : `extract ${table.table.padEnd(12)} ${table.rows} rows${table.rawKey ? ` -> ${table.rawKey}` : ''}`,
    );
  return tables.some((table) => table.error) ? 1 : 0;
}

async function checkStreams(source: ConfiguredSource, connector: SourceConnector): Promise<void> {
  try {
    await connector.check(source.streams);
  } catch (error) {
    if (source.setting === 'SOURCE_URL' && error instanceof MissingStreamsError)
      throw new Error(
        `${error.message} (for a demo source run \`ecomm generate\`, or \`ecomm run --demo\`)`,
        { cause: error },
      );
    throw error;
  }
}

async function extractStream(
  context: JobContext,
  connector: SourceConnector,
  warehouse: SqlDatabase,
  stream: ExtractStream,
): Promise<ExtractedTable> {
  const watermark = await readWatermark(warehouse, stream.name);
  // The batch is named by where its window starts: a replay after a crash rewrites the same object.
  const batchId = `${stream.name}_${watermark ? compactTimestamp(watermark) : 'initial'}`;
  const ingestionDate = isoDate(context.now());
  const rawKey = lakeKey('raw', stream.name, ingestionDate, batchId, 'csv');
  const read: SourceWindow = await connector.readWindow(
    stream,
    {
      after: watermark,
      lookbackSeconds: context.config.EXTRACT_LOOKBACK_SECONDS,
      safetyLagSeconds: context.config.EXTRACT_SAFETY_LAG_SECONDS,
    },
    (csv) => writeCsvObject(context, rawKey, csv),
  );
  const window = { after: watermark, upTo: read.upTo, rereadFrom: read.rereadFrom };
  if (!read.upTo) return { table: stream.name, rows: 0, reread: 0, batchId: null, rawKey: null, window };
  // A window with a bound but no row (an association window whose contacts have no company) wrote no object:
  // the watermark moves past it, and no batch names an object that does not exist.
  if (read.rows === 0) {
    // ops.watermarks names the window that moved it; this one registered no batch.
    await moveWatermark(warehouse, stream.name, read.upTo, batchId, context.now());
    return { table: stream.name, rows: 0, reread: 0, batchId: null, rawKey: null, window };
  }

  await warehouse.transaction(async (tx) => {
    await registerBatch(tx, {
      batchId,
      source: stream.name,
      kind: 'table',
      ingestionDate,
      rawKey,
      rows: read.rows,
      at: context.now(),
    });
    await moveWatermark(tx, stream.name, read.upTo as string, batchId, context.now());
  });
  context.log.info(
    { job: 'extract', table: stream.name, rows: read.rows, reread: read.reread, rawKey },
    'extracted',
  );
  return { table: stream.name, rows: read.rows, reread: read.reread, batchId, rawKey, window };
}

async function moveWatermark(
  db: SqlDatabase,
  stream: string,
  upTo: string,
  batchId: string,
  at: Date,
): Promise<void> {
  await db.query('delete from ops.watermarks where source = $1', [stream]);
  await db.query(
    'insert into ops.watermarks (source, watermark_at, batch_id, moved_at) values ($1, $2, $3, $4)',
    [stream, upTo, batchId, at],
  );
}

/** The extract's SELECT of one source table: its contract columns, in updated_at then key order. */
export function sourceSelect(table: SourceTableSpec, where: string): string {
  return streamSelect(tableStream(table), where);
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
  return writeCsvObject(context, rawKey, chunks);
}

/** A CSV (header line first) into one lake object, streamed; returns its data rows. */
async function writeCsvObject(
  context: JobContext,
  rawKey: string,
  chunks: AsyncIterable<Buffer>,
): Promise<number> {
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

/** Rows no window can read (cursor NULL or later than the source's clock), as a finding with their first keys. */
async function unextractableRows(connector: SourceConnector, stream: ExtractStream): Promise<Finding> {
  const { count, sample } = await connector.unreadable(stream);
  return bronzeCount(
    stream.name,
    `unextractable_${stream.cursor}`,
    count,
    () =>
      `${count} source rows of ${stream.name} have ${stream.cursor} NULL or later than the source's clock, so no ` +
      `extract reads them; first keys: ${sample.join(', ')}`,
  );
}

export async function readWatermark(warehouse: SqlDatabase, source: string): Promise<string | null> {
  const [row] = await warehouse.query<{ watermark_at: string }>(
    'select cast(watermark_at as varchar) as watermark_at from ops.watermarks where source = $1',
    [source],
  );
  return row?.watermark_at ?? null;
}
