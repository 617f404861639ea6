/**
 * `ecomm backfill --source <table> --from <ts> --to <ts>`: re-extracts the source rows of one table whose
 * updated_at is in [from, to) into a new raw batch, `<table>_backfill_<from>_<to>`, then validates and loads it at
 * once, like a repair batch of `ecomm reconcile`. Silver and gold take it in at the next transform.
 *
 * - The watermark does not move (the regular extract goes on where it was): a backfill only re-reads history.
 * - Nothing is doubled: silver keeps one row per (key, updated_at), the latest load winning, so a backfill of
 *   unchanged rows leaves gold as it was, and one of rows removed from bronze or damaged there brings them back.
 * - The batch id derives from the window only: the same backfill run again replaces its raw object and its bronze
 *   rows instead of adding copies.
 * Audited in ops.operations (who, the window, the batch, the outcome). Runbook: docs/runbooks/backfill.md.
 */
import type { JobContext, PrintLine } from '../context.ts';
import { replacedTables, sourceSelect, timestampLiteral, writeSourceCsv } from '../extract/index.ts';
import { compactTimestamp, isoDate, lakeKey } from '../lake/layout.ts';
import { runLoad } from '../load/index.ts';
import { clearBatchDecision } from '../ops/batch-decisions.ts';
import { batchState, registerBatch } from '../ops/batches.ts';
import { auditedOperation } from '../ops/operations.ts';
import { runValidate } from '../validate/index.ts';
import { BackfillUsageError, type BackfillWindow, backfillWindow, databaseTimestamp } from './window.ts';

export { BackfillUsageError, parseTimestampFlag } from './window.ts';

export interface BackfillOptions {
  source?: string;
  from?: string;
  to?: string;
}

export interface BackfillResult {
  table: string;
  from: string;
  to: string;
  /** Null when no row of the table changed in the window: nothing was written. */
  batchId: string | null;
  rawKey: string | null;
  rows: number;
  staged: number;
  quarantined: number;
  loaded: number;
  /** The batch's status after the command: loaded, or failed (held back with its reason). */
  status: 'loaded' | 'failed' | 'empty';
  failureReason: string | null;
}

const printToStderr: PrintLine = (line) => process.stderr.write(`${line}\n`);

export async function runBackfill(context: JobContext, options: BackfillOptions): Promise<BackfillResult> {
  const window = backfillWindow(options, context.now());
  const replacedBy = replacedTables(context.config).get(window.table.name);
  // Backfill re-reads SOURCE_URL; the table's rows come from elsewhere, and that table may be stale or empty.
  if (replacedBy)
    throw new BackfillUsageError(
      `${window.table.name} is read from ${replacedBy}, not SOURCE_URL: backfill re-reads SOURCE_URL tables only`,
    );
  const warehouse = await context.warehouse();
  const parameters = `source=${window.table.name} from=${window.from.toISOString()} to=${window.to.toISOString()}`;
  return auditedOperation(
    context,
    warehouse,
    { name: 'backfill', parameters },
    () => backfill(context, window),
    (result) => ({
      status: result.status === 'failed' ? 'failed' : 'succeeded',
      batchIds: result.batchId ? [result.batchId] : [],
      message: describe(result),
    }),
  );
}

async function backfill(context: JobContext, window: BackfillWindow): Promise<BackfillResult> {
  const { table } = window;
  const from = databaseTimestamp(window.from);
  const to = databaseTimestamp(window.to);
  const batchId = `${table.name}_backfill_${compactTimestamp(from)}_${compactTimestamp(to)}`;
  const ingestionDate = isoDate(context.now());
  const rawKey = lakeKey('raw', table.name, ingestionDate, batchId, 'csv');
  const empty: BackfillResult = {
    table: table.name,
    from,
    to,
    batchId: null,
    rawKey: null,
    rows: 0,
    staged: 0,
    quarantined: 0,
    loaded: 0,
    status: 'empty',
    failureReason: null,
  };
  const source = await context.source();
  const where = `updated_at >= ${timestampLiteral(from)} and updated_at < ${timestampLiteral(to)}`;
  const rows = await source.transaction(async (tx) => {
    await tx.exec('set transaction isolation level repeatable read');
    return writeSourceCsv(context, tx, rawKey, [sourceSelect(table, where)], { emptyWritesNothing: true });
  });
  if (rows === 0) return empty;
  // A backfill of this window run before may have been skipped: running it again puts it back in the flow.
  await clearBatchDecision(context.lake(), batchId, { at: context.now(), runId: context.runId });
  const warehouse = await context.warehouse();
  await registerBatch(warehouse, {
    batchId,
    source: table.name,
    kind: 'table',
    ingestionDate,
    rawKey,
    rows,
    at: context.now(),
  });
  const [validated] = await runValidate(context, { batchIds: [batchId] });
  const [loaded] = await runLoad(context, { batchIds: [batchId] });
  const state = await batchState(warehouse, batchId);
  context.log.info({ job: 'backfill', table: table.name, from, to, batchId, rows }, 'backfilled');
  return {
    ...empty,
    batchId,
    rawKey,
    rows,
    staged: validated?.staged ?? 0,
    quarantined: validated?.quarantined ?? 0,
    loaded: loaded?.rows ?? 0,
    status: state?.status === 'loaded' ? 'loaded' : 'failed',
    failureReason: state?.failure_reason ?? null,
  };
}

function describe(result: BackfillResult): string {
  if (result.status === 'empty')
    return `no row of ${result.table} has updated_at in [${result.from}, ${result.to}): nothing written`;
  if (result.status === 'failed')
    return `batch ${result.batchId} (${result.rows} rows) held back: ${result.failureReason ?? 'unknown reason'}`;
  return (
    `batch ${result.batchId}: ${result.rows} rows re-extracted, ${result.staged} staged, ` +
    `${result.quarantined} quarantined, ${result.loaded} loaded into bronze.${result.table}`
  );
}

/**
 * `ecomm backfill`: one line for the batch, then what to run next. Exit 0 when loaded (or nothing to backfill), 1
 * when the batch was held back on its own data, 2 for a bad flag (its message on `errors`).
 */
export async function run(
  context: JobContext,
  options: BackfillOptions,
  output: PrintLine,
  errors: PrintLine = printToStderr,
): Promise<number> {
  let result: BackfillResult;
  try {
    result = await runBackfill(context, options);
  } catch (error) {
    if (!(error instanceof BackfillUsageError)) throw error;
    errors(`ecomm: backfill: ${error.message}`);
    return 2;
  }
  output(`backfill ${describe(result)}`);
  if (result.status === 'failed') {
    output(`after a fix: ecomm batches retry --batch ${result.batchId}, or run the same backfill again`);
    return 1;
  }
  if (result.status === 'loaded')
    output('silver and gold take it in at the next transform (ecomm transform, or the hourly schedule)');
  return 0;
}
