/**
 * `ecomm rebuild [--force]`: disaster recovery. Rebuilds bronze, silver and gold in the configured warehouse
 * (WAREHOUSE_URL, or the global `--warehouse-url`: point it at a fresh database) from the lake alone:
 *
 * 1. every batch of the lake is registered in ops.batches: a staged batch as validated (its staged and quarantine
 *    objects exactly as the live load took them; no contract is re-applied, so gold does not depend on when the
 *    rebuild runs), a batch with only a raw object as new (validated now, as the next live run would);
 * 2. the decisions the lake keeps (`decisions/`) are honoured: a skipped batch stays out, a failed one is held back
 *    again with its step and reason, for `ecomm batches` in the new warehouse;
 * 3. validate and load run as they always do (load order follows the objects' times); the tombstones of
 *    `ecomm reconcile` (`tombstones/`) go back into bronze.source_deletes; each table's watermark is recovered from
 *    the raw object of its latest regular extract;
 * 4. transform builds silver and gold behind their gates.
 *
 * A warehouse that already holds batches or bronze rows is refused unless `--force`, which empties bronze, the
 * ledger, the watermarks and the quarantined rows first (ops history stays). Audited in ops.operations of the
 * rebuilt warehouse. Runbook: docs/runbooks/rebuild.md.
 */
import { createInterface } from 'node:readline';
import { redactUrl } from '../../adapters/redact.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { contractFor, DATA_CONTRACTS } from '../contracts/data-contracts.ts';
import { runLoad } from '../load/index.ts';
import { type BatchDecision, readBatchDecisions } from '../ops/batch-decisions.ts';
import { listBatches, registerBatch } from '../ops/batches.ts';
import { auditedOperation } from '../ops/operations.ts';
import { TOMBSTONE_COLUMNS } from '../reconcile/index.ts';
import { runTransform } from '../transform/index.ts';
import { openRawRecords, readCsvRecords, runValidate } from '../validate/index.ts';
import {
  type LakeBatch,
  lakeBatches,
  type RecoveredWatermark,
  recoverWatermarks,
  tombstoneObjects,
} from './inventory.ts';

export interface RebuildOptions {
  /** Rebuild into a warehouse that already holds batches or bronze rows, emptying them first. */
  force?: boolean;
}

/** A target the rebuild must not write into: the CLI exits 2 with this message. */
export class RebuildRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RebuildRefusedError';
  }
}

export interface RebuildResult {
  batches: number;
  loaded: number;
  skipped: string[];
  failed: string[];
  tombstones: number;
  watermarks: RecoveredWatermark[];
  /** Failing blocking checks; empty when every silver and gold model was published. */
  blockedBy: string[];
  /** The models those checks held back (not published); every other model was. */
  heldBack: string[];
}

const printToStderr: PrintLine = (line) => process.stderr.write(`${line}\n`);

/** Tables a rebuild empties under --force: what it writes again from the lake. Ops history is kept. */
const REBUILT_OPS_TABLES = ['ops.batches', 'ops.watermarks', 'ops.quarantine_rows'];

export async function runRebuild(context: JobContext, options: RebuildOptions = {}): Promise<RebuildResult> {
  const db = await context.warehouse();
  const occupied = await occupiedTables(db);
  if (occupied.length > 0 && !options.force) {
    throw new RebuildRefusedError(
      `the warehouse ${redactUrl(context.config.WAREHOUSE_URL)} is not empty (${occupied.join(', ')}): ` +
        'rebuild into a fresh database (--warehouse-url or WAREHOUSE_URL), or pass --force to empty bronze and ' +
        'the ledger there first',
    );
  }
  return auditedOperation(
    context,
    db,
    {
      name: 'rebuild',
      parameters: `lake=${context.lake().url} target=${redactUrl(context.config.WAREHOUSE_URL)}${options.force ? ' force' : ''}`,
    },
    async () => {
      if (occupied.length > 0) await emptyRebuiltTables(db);
      return rebuild(context, db);
    },
    (result) => ({
      status: result.blockedBy.length > 0 ? 'failed' : 'succeeded',
      batchIds: [],
      message: describe(result),
    }),
  );
}

async function rebuild(context: JobContext, db: SqlDatabase): Promise<RebuildResult> {
  const lake = context.lake();
  const batches = (await lakeBatches(lake)).sort(byTime);
  const decisions = await readBatchDecisions(lake);
  for (const batch of batches) {
    context.throwIfStopping();
    await registerLakeBatch(context, db, batch, decisions.get(batch.batchId));
  }
  await runValidate(context);
  await runLoad(context);
  const tombstones = await restoreTombstones(context, db);
  const watermarks = await recoverWatermarks(lake, batches);
  for (const watermark of watermarks) {
    await db.query('delete from ops.watermarks where source = $1', [watermark.source]);
    await db.query(
      'insert into ops.watermarks (source, watermark_at, batch_id, moved_at) values ($1, $2, $3, $4)',
      [watermark.source, watermark.watermarkAt, watermark.batchId, context.now()],
    );
  }
  const transformed = await runTransform(context, ['silver', 'gold']);
  const loaded = await listBatches(db, { status: 'loaded', limit: 1 });
  const failed = await listBatches(db, { status: 'failed', limit: 1000 });
  const skipped = await listBatches(db, { status: 'skipped', limit: 1000 });
  return {
    batches: batches.length,
    loaded: loaded.total,
    skipped: skipped.batches.map((batch) => batch.batch_id),
    failed: failed.batches.map((batch) => batch.batch_id),
    tombstones,
    watermarks,
    blockedBy: transformed.blockedBy,
    heldBack: transformed.blocked.map((model) => model.name),
  };
}

/** The live load order, as near as the lake tells it: by when each batch's objects were written. */
function byTime(left: LakeBatch, right: LakeBatch): number {
  const time = (batch: LakeBatch) => (batch.raw ?? batch.staged)?.lastModified.getTime() ?? 0;
  return time(left) - time(right) || (left.batchId < right.batchId ? -1 : 1);
}

/**
 * One batch into the ledger: validated when its staged object exists (counts read from the objects), new when only
 * raw exists; then the lake's decision about it, if any.
 */
async function registerLakeBatch(
  context: JobContext,
  db: SqlDatabase,
  batch: LakeBatch,
  decision: BatchDecision | undefined,
): Promise<void> {
  const lake = context.lake();
  // A CRM stream is extracted in windows like an OLTP table: a table batch too.
  const kind = DATA_CONTRACTS.some(
    (contract) => contract.source === batch.source && contract.format === 'csv',
  )
    ? 'table'
    : 'topic';
  const extractedAt = (batch.raw ?? batch.staged)?.lastModified ?? context.now();
  if (batch.staged) {
    const staged = await countStaged(context, batch.staged.key);
    const quarantined = batch.quarantine ? await countLines(context, batch.quarantine.key) : 0;
    await registerBatch(db, {
      batchId: batch.batchId,
      source: batch.source,
      kind,
      ingestionDate: batch.ingestionDate,
      rawKey: batch.raw?.key ?? staged.sourceFile ?? batch.staged.key,
      rows: staged.rows + quarantined,
      at: extractedAt,
    });
    await db.query(
      `update ops.batches set staged_key = $2, quarantine_key = $3, rows_staged = $4, rows_quarantined = $5,
         validated_at = $6 where batch_id = $1`,
      [
        batch.batchId,
        batch.staged.key,
        batch.quarantine?.key ?? null,
        staged.rows,
        quarantined,
        batch.staged.lastModified,
      ],
    );
  } else if (batch.raw) {
    let rows = 0;
    for await (const _record of await openRawRecords(lake, batch.raw.key, contractFor(batch.source)))
      rows += 1;
    await registerBatch(db, {
      batchId: batch.batchId,
      source: batch.source,
      kind,
      ingestionDate: batch.ingestionDate,
      rawKey: batch.raw.key,
      rows,
      at: extractedAt,
    });
  }
  if (decision?.decision === 'skipped') {
    await db.query('update ops.batches set skipped_at = $2, skip_reason = $3 where batch_id = $1', [
      batch.batchId,
      new Date(decision.at),
      decision.reason,
    ]);
  } else if (decision?.decision === 'failed') {
    await db.query(
      `update ops.batches set failed_at = $2, failed_step = $3, failure_reason = $4, failed_run_id = $5
       where batch_id = $1`,
      [batch.batchId, new Date(decision.at), decision.step, decision.reason, decision.run_id],
    );
  }
}

/** Rows of a staged CSV (its header aside), and the raw object they came from (`_source_file`). */
async function countStaged(
  context: JobContext,
  key: string,
): Promise<{ rows: number; sourceFile: string | null }> {
  let rows = 0;
  let sourceFile: string | null = null;
  for await (const record of readCsvRecords(await context.lake().get(key))) {
    rows += 1;
    if (sourceFile === null && typeof record.fields?._source_file === 'string')
      sourceFile = record.fields._source_file;
  }
  return { rows, sourceFile };
}

async function countLines(context: JobContext, key: string): Promise<number> {
  let lines = 0;
  const body = await context.lake().get(key);
  for await (const line of createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY }))
    if (line !== '') lines += 1;
  return lines;
}

async function restoreTombstones(context: JobContext, db: SqlDatabase): Promise<number> {
  let restored = 0;
  for (const object of await tombstoneObjects(context.lake())) {
    restored += await db.transaction(async (tx) => {
      // A rerun with --force emptied bronze first; the key is the tombstone batch, as a load's is.
      const batchId = object.key.slice(object.key.lastIndexOf('/') + 1, -'.csv'.length);
      await tx.query('delete from bronze.source_deletes where _batch_id = $1', [batchId]);
      return tx.copyFromCsv('bronze.source_deletes', TOMBSTONE_COLUMNS, {
        store: context.lake(),
        key: object.key,
      });
    });
  }
  return restored;
}

/** Tables holding what a rebuild writes: any row there means the target is not fresh. */
async function occupiedTables(db: SqlDatabase): Promise<string[]> {
  const tables = [...REBUILT_OPS_TABLES, ...(await landingTables(db))];
  const occupied: string[] = [];
  for (const table of tables) {
    const [row] = await db.query<{ n: number }>(`select cast(count(*) as integer) as n from ${table}`);
    if (Number(row?.n ?? 0) > 0) occupied.push(`${table}: ${row?.n} rows`);
  }
  return occupied;
}

async function emptyRebuiltTables(db: SqlDatabase): Promise<void> {
  const tables = [...REBUILT_OPS_TABLES, ...(await landingTables(db))];
  await db.transaction(async (tx) => {
    for (const table of tables) await tx.query(`delete from ${table}`);
  });
}

/** The tables loads write: bronze, and the restricted `pii` landing tables (rows with personal data in clear). */
async function landingTables(db: SqlDatabase): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>(
    `select table_schema || '.' || table_name as table_name from information_schema.tables
     where table_schema in ('bronze', 'pii') order by table_schema, table_name`,
  );
  return rows.map((row) => row.table_name);
}

function describe(result: RebuildResult): string {
  return (
    `${result.batches} batches in the lake, ${result.loaded} loaded into bronze, ${result.skipped.length} skipped, ` +
    `${result.failed.length} held back; ${result.tombstones} tombstones; watermarks of ` +
    `${result.watermarks.map((watermark) => watermark.source).join(', ') || 'no table'}` +
    (result.blockedBy.length > 0
      ? `; blocking checks failed: ${result.blockedBy.join(', ')}; held back (not published): ${result.heldBack.join(', ')}`
      : '; silver and gold built')
  );
}

/**
 * `ecomm rebuild`: what was rebuilt, then what to check. Exit 0 when silver and gold were published, 1 when a
 * blocking check held models back, 2 when the target is not empty and --force was not given.
 */
export async function run(
  context: JobContext,
  options: RebuildOptions,
  output: PrintLine,
  errors: PrintLine = printToStderr,
): Promise<number> {
  let result: RebuildResult;
  try {
    result = await runRebuild(context, options);
  } catch (error) {
    if (!(error instanceof RebuildRefusedError)) throw error;
    errors(`ecomm: rebuild: ${error.message}`);
    return 2;
  }
  output(`rebuild ${describe(result)}`);
  for (const watermark of result.watermarks)
    output(
      `  watermark ${watermark.source.padEnd(12)} ${watermark.watermarkAt} (batch ${watermark.batchId})`,
    );
  if (result.failed.length > 0) output(`  held back again (ecomm batches list): ${result.failed.join(', ')}`);
  return result.blockedBy.length > 0 ? 1 : 0;
}
