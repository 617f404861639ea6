/**
 * `ecomm reconcile`: per source table, the source's primary keys and versions against what the warehouse holds,
 * for what an incremental extract on updated_at cannot see:
 *
 * - hard deletes: a key the warehouse holds that the source no longer has gets a tombstone in
 *   bronze.source_deletes, from which silver flags it deleted and gold leaves it out;
 * - a deleted key back in the source gets a restore event;
 * - late commits beyond the extract's lookback: a version at or below the watermark that the warehouse lacks is
 *   re-extracted as a repair batch (validated and loaded in the same run) and reported as a warn finding.
 *
 * Cheap path first: 4096 hashed key buckets, each a key count and a hash sum, computed on both sides; only the
 * buckets that differ are listed key by key, as two md5-ordered streams merged with bounded memory. Only rows at
 * or below the table's watermark are compared on their version: newer rows are in flight. Versions the contracts
 * quarantined count as known (ops.quarantine_rows keeps their key and updated_at), so they are not re-extracted.
 */
import { redactUrl } from '../../adapters/redact.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { SOURCE_TABLES, type SourceTableSpec } from '../contracts/source-tables.ts';
import { readWatermark, replacedTables } from '../extract/index.ts';
import { runLoad } from '../load/index.ts';
import { classifyBatchError } from '../ops/batch-errors.ts';
import { bronzeCount, type Finding, recordFindings } from '../ops/dq-findings.ts';
import { recordStep } from '../ops/pipeline-runs.ts';
import { runValidate } from '../validate/index.ts';
import {
  compareListings,
  emptyDifferences,
  type KeyDifferences,
  sourceKeys,
  warehouseKeys,
} from './compare.ts';
import {
  BUCKET_COUNT,
  sourceListingSql,
  sourceSummarySql,
  warehouseListingSql,
  warehouseSummarySql,
} from './key-sql.ts';
import { refreshKeyVersions } from './key-versions.ts';
import { reconcileLineage } from './lineage.ts';
import { extractRepairBatch, type RepairBatch } from './repair.ts';
import { writeKeyEvents } from './tombstones.ts';

export { TOMBSTONE_COLUMNS } from './tombstones.ts';

/** Keys acted on per table and kind in one run (tombstones, restores, repairs); a later run takes the rest. */
const MAX_KEYS_PER_RUN = 100_000;
/** Keys named in a finding or a message. */
const SAMPLE_KEYS = 5;
/** Above this share of differing buckets, list every key instead of naming thousands of buckets. */
const LIST_ALL_ABOVE = 0.5;

export interface TableReconciliation {
  table: string;
  /** Why the table was not reconciled this run, when it was not. */
  skipped: string | null;
  buckets: number;
  differingBuckets: number;
  sourceKeys: number;
  warehouseKeys: number;
  differences: KeyDifferences;
  keyEvents: number;
  repair: RepairBatch | null;
}

export async function runReconcile(
  context: JobContext,
  tables: SourceTableSpec[] = SOURCE_TABLES,
): Promise<TableReconciliation[]> {
  const source = await context.source();
  const warehouse = await context.warehouse();
  const results: TableReconciliation[] = [];
  for (const table of tables) {
    context.throwIfStopping();
    let result: TableReconciliation;
    try {
      result = await reconcileTableRecorded(context, source, warehouse, table);
    } catch (error) {
      // A row the warehouse cannot even compare (bronze text an older release let in) must not stop the run: the
      // table is reported and left for the next run; the transform sets the batch holding the row aside.
      if (classifyBatchError(error) !== 'data') throw error;
      await recordFindings(warehouse, context.runId, [reconciliationOutcome(table, error)], context.now());
      results.push(notReconciled(table, `failed on the warehouse's data: ${(error as Error).message}`));
      continue;
    }
    if (!result.skipped)
      await recordFindings(
        warehouse,
        context.runId,
        [reconciliationOutcome(table), lateCommits(result), versionRegressions(result)],
        context.now(),
      );
    results.push(result);
  }
  return results;
}

function reconcileTableRecorded(
  context: JobContext,
  source: SqlDatabase,
  warehouse: SqlDatabase,
  table: SourceTableSpec,
): Promise<TableReconciliation> {
  return recordStep(
    context,
    { job: 'reconcile', step: table.name },
    () => reconcileTable(context, source, warehouse, table),
    {
      outcome: (done) => ({
        batchId: done.repair?.batchId ?? null,
        status: done.skipped ? 'skipped' : 'succeeded',
        rowsIn: done.sourceKeys,
        rowsOut: done.keyEvents + (done.repair?.rows ?? 0),
        message: describe(done),
      }),
      lineage: (startedAt, done, error) => reconcileLineage(context, table, startedAt, done, error),
    },
  );
}

/** Whether the table could be reconciled at all: a failure on the warehouse's data is reported, not thrown. */
function reconciliationOutcome(table: SourceTableSpec, error?: unknown): Finding {
  return {
    checkId: `bronze.${table.name}:key_reconciliation`,
    layer: 'bronze',
    tableName: `bronze.${table.name}`,
    checkType: 'key_reconciliation',
    severity: 'warn',
    passed: error === undefined,
    failingRows: 0,
    details:
      error === undefined
        ? null
        : `the key reconciliation failed on the warehouse's data: ${(error as Error).message}`,
  };
}

/**
 * `ecomm reconcile`, the scheduled job: the reconciliation, then validate and load when it re-extracted late rows,
 * so they are in bronze before the next transform; one line per table.
 */
export async function run(context: JobContext, _options: object, output: PrintLine): Promise<number> {
  const tables = await runReconcile(context);
  if (tables.some((table) => table.repair)) {
    await runValidate(context);
    await runLoad(context);
  }
  for (const table of tables) output(reconciledLine(table));
  return 0;
}

function reconciledLine(table: TableReconciliation): string {
  if (table.skipped) return `reconcile ${table.table.padEnd(12)} skipped: ${table.skipped}`;
  const { counts } = table.differences;
  return (
    `reconcile ${table.table.padEnd(12)} ${table.sourceKeys} keys, ${table.differingBuckets} buckets differed: ` +
    `${counts.deleted} deleted, ${counts.restored} restored, ${counts.late} late` +
    (table.repair ? ` -> ${table.repair.rawKey}` : '')
  );
}

function notReconciled(table: SourceTableSpec, reason: string): TableReconciliation {
  return {
    table: table.name,
    skipped: reason,
    buckets: 0,
    differingBuckets: 0,
    sourceKeys: 0,
    warehouseKeys: 0,
    differences: emptyDifferences(),
    keyEvents: 0,
    repair: null,
  };
}

async function reconcileTable(
  context: JobContext,
  source: SqlDatabase,
  warehouse: SqlDatabase,
  table: SourceTableSpec,
): Promise<TableReconciliation> {
  const skipped = (reason: string) => notReconciled(table, reason);
  const replacedBy = replacedTables(context.config).get(table.name);
  // Its rows come from another source: SOURCE_URL's table would look like mass deletes and late commits.
  if (replacedBy)
    return skipped(`read from ${replacedBy}, not SOURCE_URL: not compared with SOURCE_URL's table`);
  const watermark = await readWatermark(warehouse, table.name);
  if (!watermark) return skipped('never extracted');
  const pending = await unloadedBatches(warehouse, table.name);
  // Their rows are in the lake but not in bronze yet: they would look like late commits.
  if (pending > 0) return skipped(`${pending} batch(es) of ${table.name} not loaded yet`);

  const keyVersions = await refreshKeyVersions(warehouse, table);
  const compared = await compareWithSource(source, warehouse, table, watermark);
  const { differences, warehouseSummary } = compared;
  const warehouseKeyCount = total(warehouseSummary);
  refuseMassDelete(context, table, differences.counts.deleted, warehouseKeyCount);

  const keyEvents = await writeKeyEvents(context.lake(), warehouse, {
    table: table.name,
    runId: context.runId,
    detectedAt: compared.detectedAt,
    deleted: differences.deleted,
    restored: differences.restored,
  });
  const repair =
    differences.late.length === 0
      ? null
      : await extractRepairBatch(
          context,
          source,
          warehouse,
          table,
          watermark,
          differences.late.map((key) => key.keyValues),
        );
  const result: TableReconciliation = {
    table: table.name,
    skipped: null,
    buckets: Math.max(compared.sourceSummary.size, warehouseSummary.size),
    differingBuckets: compared.differing.length,
    sourceKeys: total(compared.sourceSummary),
    warehouseKeys: warehouseKeyCount,
    differences,
    keyEvents,
    repair,
  };
  context.log.info(
    { job: 'reconcile', ...result, differences: differences.counts, keyVersions },
    'reconciled',
  );
  return result;
}

/**
 * Both bucket summaries, and the keys of the buckets that differ merged with the warehouse's, the source's all in
 * one snapshot whose clock the tombstones carry. The two summaries run at once, each on its own database: they are
 * most of the cost, and source and warehouse are separate servers in the clouds.
 */
async function compareWithSource(
  source: SqlDatabase,
  warehouse: SqlDatabase,
  table: SourceTableSpec,
  watermark: string,
) {
  const warehouseSummaryRead = bucketSummary(warehouse, warehouseSummarySql(table, warehouse.dialect));
  // Handled here so that a source failure first does not leave it rejected unobserved; awaited below.
  warehouseSummaryRead.catch(() => undefined);
  return source.transaction(async (tx) => {
    await tx.exec('set transaction isolation level repeatable read');
    const [clock] = await tx.query<{ now: string }>('select cast(now() as varchar) as now');
    const sourceSummary = await bucketSummary(tx, sourceSummarySql(table, watermark));
    const warehouseSummary = await warehouseSummaryRead;
    const differing = differingBuckets(sourceSummary, warehouseSummary);
    const listed = differing.length > LIST_ALL_ABOVE * BUCKET_COUNT ? null : differing;
    const differences =
      differing.length === 0
        ? emptyDifferences()
        : await compareListings(
            sourceKeys(tx.copyToCsv(sourceListingSql(table, watermark, listed)), table.primaryKey.length),
            warehouseKeys(warehouse.copyToCsv(warehouseListingSql(table, warehouse.dialect, listed))),
            MAX_KEYS_PER_RUN,
          );
    return { detectedAt: clock?.now as string, sourceSummary, warehouseSummary, differing, differences };
  });
}

interface BucketSummary {
  keyCount: number;
  signature: string;
}

async function bucketSummary(db: SqlDatabase, sql: string): Promise<Map<string, BucketSummary>> {
  const rows = await db.query<{ bucket: string; key_count: number | bigint; signature: number | bigint }>(
    sql,
  );
  return new Map(
    rows.map((row) => [row.bucket, { keyCount: Number(row.key_count), signature: String(row.signature) }]),
  );
}

function differingBuckets(
  source: Map<string, BucketSummary>,
  warehouse: Map<string, BucketSummary>,
): string[] {
  const buckets = new Set([...source.keys(), ...warehouse.keys()]);
  return [...buckets]
    .filter((bucket) => {
      const left = source.get(bucket);
      const right = warehouse.get(bucket);
      return left?.keyCount !== right?.keyCount || left?.signature !== right?.signature;
    })
    .sort();
}

function total(summary: Map<string, BucketSummary>): number {
  let keys = 0;
  for (const bucket of summary.values()) keys += bucket.keyCount;
  return keys;
}

/**
 * Batches of the table still on their way to bronze. A failed batch (held back for an operator) or a skipped one
 * does not count: its rows are missing from the warehouse, and the reconciliation brings them in from the source.
 */
async function unloadedBatches(warehouse: SqlDatabase, table: string): Promise<number> {
  const [row] = await warehouse.query<{ n: number }>(
    `select cast(count(*) as integer) as n from ops.batches
     where source = $1 and source_kind = 'table' and loaded_at is null and failed_at is null and skipped_at is null`,
    [table],
  );
  return Number(row?.n ?? 0);
}

/** A source emptied, truncated or swapped for another database must not delete the warehouse's rows. */
function refuseMassDelete(context: JobContext, table: SourceTableSpec, deleted: number, live: number): void {
  const limit = context.config.RECONCILE_MAX_DELETE_PERCENT;
  const percent = live === 0 ? 0 : (100 * deleted) / live;
  if (deleted === 0 || percent <= limit) return;
  throw new Error(
    `reconcile ${table.name}: ${deleted} of ${live} keys (${percent.toFixed(1)}%) are gone from the source, ` +
      `more than RECONCILE_MAX_DELETE_PERCENT (${limit}) allows; nothing was marked deleted. Check that SOURCE_URL ` +
      `(${redactUrl(context.config.SOURCE_URL)}) is the right database, or raise the setting for a real mass delete.`,
  );
}

function lateCommits(result: TableReconciliation): Finding {
  const late = result.differences.counts.late;
  const keys = result.differences.late.slice(0, SAMPLE_KEYS).map((key) => key.keyText);
  return bronzeCount(
    result.table,
    'late_commits',
    late,
    () =>
      `${late} source rows at or below the watermark were missing or older in the warehouse (committed after ` +
      `their extract, beyond EXTRACT_LOOKBACK_SECONDS); ` +
      `${result.repair ? `re-extracted as batch ${result.repair.batchId}` : 'gone again before the repair read them'}; ` +
      `first keys: ${keys.join(', ')}`,
  );
}

/**
 * Source rows whose updated_at moved back below the version the warehouse holds (a restore, a manual fix): silver
 * keeps the newer version, so gold no longer matches the source for them until the row is updated again.
 */
function versionRegressions(result: TableReconciliation): Finding {
  const regressed = result.differences.counts.regressed;
  return bronzeCount(
    result.table,
    'updated_at_regressions',
    regressed,
    () =>
      `${regressed} source rows have an updated_at older than the version the warehouse holds (moved back ` +
      `by a restore or a manual fix); silver keeps the newer one until the row changes again; first keys: ` +
      result.differences.regressed.slice(0, SAMPLE_KEYS).join(', '),
  );
}

function describe(result: TableReconciliation): string {
  if (result.skipped) return `skipped: ${result.skipped}`;
  const { counts } = result.differences;
  const parts = [
    `${result.differingBuckets} of ${result.buckets} key buckets differed, ${result.differences.compared} keys compared`,
    `${counts.deleted} deleted`,
    `${counts.restored} restored`,
    `${counts.late} late${result.repair ? ` (repair batch ${result.repair.batchId}, ${result.repair.rows} rows)` : ''}`,
  ];
  if (counts.regressed > 0) parts.push(`${counts.regressed} with updated_at older than the warehouse's`);
  return parts.join('; ');
}
