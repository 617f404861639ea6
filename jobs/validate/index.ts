import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { type CheckOptions, contractFor, type DataContract } from '../contracts/data-contracts.ts';
import { contractCheckOptions } from '../contracts/settings.ts';
import { BatchDataError } from '../ops/batch-errors.ts';
import { heldBackLines, isolateBatchFailure, reportBatchFailures } from '../ops/batch-failures.ts';
import { type BatchRow, batchesAwaitingValidation, markValidated } from '../ops/batches.ts';
import { recordStep } from '../ops/pipeline-runs.ts';
import { validateLineage } from './lineage.ts';
import type { ValidatedBatch, ValidationOutcome, ValidationTarget } from './outcome.ts';
import { openRawRecords } from './raw-records.ts';
import { type ValidationOptions, validateRecords } from './records.ts';
import { startValidationThreads, THREADS_MIN_ROWS, threadCount, type ValidationThreads } from './threads.ts';

// The job's entry names what other jobs may use of it (jobs/job-layout.test.ts); the types live apart for threads.ts.
export type { ValidatedBatch, ValidationOutcome, ValidationTarget } from './outcome.ts';
export {
  judge,
  openRawRecords,
  parseEvent,
  type RawRecord,
  type RawRecords,
  readCsvRecords,
  readEnvelopeRecords,
} from './raw-records.ts';

export {
  ObjectWriter,
  openStagedObject,
  STAGING_META_COLUMNS,
  type StagedCsvWriter,
  stagedRowFormat,
  stagingColumns,
  type ValidationOptions,
  validateRecords,
  writeStagedRow,
} from './records.ts';

/**
 * Checks every raw batch not yet validated against its data contract: passing rows to staging/ (CSV ready for
 * COPY), failing rows to quarantine/ with every reason. Invariant 1 is enforced, not hoped for: a batch whose
 * rows in != staged + quarantined (or whose object cannot be read) is marked failed and the job goes on with the
 * next one. `batchIds` limits the run to those batches (`ecomm batches retry`).
 */
export async function runValidate(
  context: JobContext,
  options: { batchIds?: string[]; threadsMinRows?: number } = {},
): Promise<ValidatedBatch[]> {
  const warehouse = await context.warehouse();
  const batches = (await batchesAwaitingValidation(warehouse)).filter(
    (batch) => !options.batchIds || options.batchIds.includes(batch.batch_id),
  );
  const threads = threadsFor(context, batches, options.threadsMinRows ?? THREADS_MIN_ROWS);
  const results = new Map<string, ValidatedBatch>();
  const queue = [...batches];
  let stopped: { error: unknown } | undefined;
  // One lane per thread (one in all without threads): a lane takes the next batch until none is left or one
  // failed in a way that ends the job (an outage, a stop request); the batches in hand are finished first.
  const lane = async () => {
    for (let batch = queue.shift(); batch && !stopped; batch = queue.shift()) {
      try {
        context.throwIfStopping();
        results.set(batch.batch_id, await validateAndRecord(context, batch, threads));
      } catch (error) {
        // A corrupt or truncated object fails its batch only; an outage or a stop request ends the job.
        try {
          await isolateBatchFailure(context, batch.batch_id, 'validate', error);
        } catch (ending) {
          stopped ??= { error: ending };
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: threads?.size ?? 1 }, lane));
  } finally {
    await threads?.close();
  }
  if (stopped) throw stopped.error;
  await reportBatchFailures(warehouse, { runId: context.runId, now: context.now() }, 'batch');
  return batches.flatMap((batch) => results.get(batch.batch_id) ?? []);
}

/**
 * Worker threads for this run's batches (threads.ts), or null to validate on this thread: one batch, too few rows
 * to pay for starting threads, VALIDATE_WORKERS=1, or a lake the caller opened (a test's instance a thread cannot
 * share).
 */
function threadsFor(context: JobContext, batches: BatchRow[], minRows: number): ValidationThreads | null {
  const size = threadCount(context.config.VALIDATE_WORKERS, batches.length);
  const rows = batches.reduce((sum, batch) => sum + Number(batch.rows_raw ?? 0), 0);
  if (size < 2 || rows < minRows || context.sharedLake) return null;
  return startValidationThreads(size);
}

/** `ecomm validate`: one line per batch validated, then one per batch held back (the job still exits 0). */
export async function run(context: JobContext, _options: object, output: PrintLine): Promise<number> {
  for (const batch of await runValidate(context)) {
    output(
      `validate ${batch.batchId}: ${batch.rowsIn} in, ${batch.staged} staged, ${batch.quarantined} quarantined`,
    );
  }
  for (const line of await heldBackLines(context, 'validate')) output(line);
  return 0;
}

function validateAndRecord(
  context: JobContext,
  batch: BatchRow,
  threads: ValidationThreads | null,
): Promise<ValidatedBatch> {
  return recordStep(
    context,
    { job: 'validate', step: batch.source, batchId: batch.batch_id },
    () => validateBatch(context, batch, threads),
    {
      outcome: (validated) => ({
        rowsIn: validated.rowsIn,
        rowsOut: validated.staged,
        rowsQuarantined: validated.quarantined,
        message:
          validated.rescued > 0 ? `${validated.rescued} rows carried undeclared fields (rescued)` : null,
      }),
      lineage: (startedAt, validated, error) => validateLineage(context, batch, startedAt, validated, error),
    },
  );
}

async function validateBatch(
  context: JobContext,
  batch: BatchRow,
  threads: ValidationThreads | null,
): Promise<ValidatedBatch> {
  const target: ValidationTarget = {
    batchId: batch.batch_id,
    source: batch.source,
    ingestionDate: batch.ingestion_date,
    rawKey: batch.raw_key,
  };
  const options = {
    check: checkOptionsOf(context),
    piiHashKey: await context.piiHashKey(),
    replacesQuarantine: batch.quarantine_key !== null,
  };
  const result = threads
    ? await threads.validate({ lakeUrl: context.config.LAKE_URL, source: batch.source, target, ...options })
    : await validateOnThisThread(context.lake(), target, options);
  if (result.rowsIn !== batch.rows_raw) {
    throw new BatchDataError(
      `batch ${batch.batch_id}: rows do not reconcile (ledger ${batch.rows_raw} raw, read ${result.rowsIn} ` +
        `from ${batch.raw_key}, staged ${result.staged} + quarantined ${result.quarantined})`,
      { batchId: batch.batch_id },
    );
  }
  const warehouse = await context.warehouse();
  await markValidated(warehouse, batch.batch_id, {
    stagedKey: result.stagedKey,
    quarantineKey: result.quarantineKey,
    staged: result.staged,
    quarantined: result.quarantined,
    rescued: result.rescued,
    at: context.now(),
  });
  context.log.info({ job: 'validate', ...result, reasons: undefined }, 'validated');
  return result;
}

async function validateOnThisThread(
  lake: ObjectStore,
  target: ValidationTarget,
  options: ValidationOptions,
): Promise<ValidationOutcome> {
  const contract = contractFor(target.source);
  return validateRecords(
    lake,
    contract,
    target,
    await openRawRecords(lake, target.rawKey, contract),
    options,
  );
}

/** The options every contract check of a job takes: the job's clock and the configured time windows. */
export function checkOptionsOf(context: JobContext): CheckOptions {
  return contractCheckOptions(context.config, context.now());
}

export type { DataContract };
