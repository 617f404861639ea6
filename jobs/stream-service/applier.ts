/**
 * Stage 2 of the stream service: takes the service's committed raw batches from the ledger (source_kind 'stream',
 * not loaded yet, oldest first) and, per round of batches:
 *   1. validates each with the same contract code as `ecomm validate` (staging/ CSV, quarantine/ NDJSON with every
 *      reason and the original message),
 *   2. publishes every invalid message to the dead-letter topic (original bytes, reasons in headers),
 *   3. in ONE warehouse transaction: marks the batches validated, loads them into bronze (jobs/load.ts), records a
 *      pipeline_runs row per batch, and brings the incremental silver models up to date for exactly those batches
 *      (jobs/transform/build.ts applyIncrementally), after checking that no replay re-registered a batch meanwhile.
 * loaded_at is set in the same transaction as the silver update, so "not loaded" is precisely the work left: a
 * crash anywhere leaves the batch pending and the next round (this process or the next one) does it again, and
 * every step is idempotent by batch id. Writes wait out an unavailable lake, warehouse or broker with backoff.
 */
import type { OutgoingMessage } from '../../adapters/stream/event-stream.ts';
import { lockForWriteSql } from '../../sql/dialects/macros.ts';
import type { JobContext } from '../context.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { loadBatchInTransaction } from '../load.ts';
import {
  markValidated,
  type PendingStreamBatch,
  pendingStreamBatches,
  stillRegistered,
  streamBacklog,
} from '../ops/batches.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import { applyIncrementally, tableExists } from '../transform/build.ts';
import { loadModels, type Model } from '../transform/models.ts';
import { checkOptionsOf, openRawRecords, type ValidationOutcome, validateRecords } from '../validate.ts';
import { applyLineage } from './apply-lineage.ts';
import { type BackpressureState, newBackpressureState, type Persist } from './backpressure.ts';
import {
  DEAD_LETTER_PARTITIONS,
  DEAD_LETTER_TOPIC,
  deadLetterMessage,
  publishDeadLetters,
} from './dead-letter.ts';

/** What the applier has done, for /status. */
export interface ApplyStats {
  batchesApplied: number;
  eventsApplied: number;
  staged: number;
  quarantined: number;
  deadLettered: number;
  /** Events that carried undeclared fields (kept in _rescued_data). */
  rescued: number;
  /** Events that reached silver flagged late (occurred more than a day before they were published). */
  late: number;
  lastAppliedAt: string | null;
  /** Ledger batches of the service still to apply, and their events (all replicas). */
  pendingBatches: number;
  pendingEvents: number;
  backpressure: BackpressureState;
}

export function newApplyStats(): ApplyStats {
  return {
    batchesApplied: 0,
    eventsApplied: 0,
    staged: 0,
    quarantined: 0,
    deadLettered: 0,
    rescued: 0,
    late: 0,
    lastAppliedAt: null,
    pendingBatches: 0,
    pendingEvents: 0,
    backpressure: newBackpressureState(),
  };
}

export interface ApplierOptions {
  stats: ApplyStats;
  persist: Persist;
  /** Finish the round in hand, then return. */
  stop: AbortSignal;
  /** Resolves when stage 1 has committed a new batch (or after idleMs). */
  nextWake: (idleMs: number) => Promise<void>;
  /** Events per round at most (at least one batch). */
  maxEventsPerRound?: number;
  idleMs?: number;
  onStats?: (stats: ApplyStats) => void;
}

/** A batch whose ledger row changed under a round (a replay registered it again): the round is redone. */
class StaleBatchError extends Error {}

const BATCH_LOOKAHEAD = 500;
const STALE_WAIT_MS = 200;

export async function runApplier(context: JobContext, options: ApplierOptions): Promise<void> {
  const { stats, persist } = options;
  const models = loadModels().filter((model) => model.incrementalKey !== undefined);
  // Silver models hash nothing (pii_hash is a gold macro), so the applier needs no secret.
  const vars = {};
  await persist('broker', () =>
    context.stream().ensureTopics([{ name: DEAD_LETTER_TOPIC, partitions: DEAD_LETTER_PARTITIONS }]),
  );
  const maxEvents = options.maxEventsPerRound ?? 200_000;
  const lineage = applyLineage(context, models);
  try {
    while (!options.stop.aborted) {
      const pending = await persist('warehouse', async () =>
        pendingStreamBatches(await context.warehouse(), BATCH_LOOKAHEAD),
      );
      if (pending.length === 0) {
        stats.pendingBatches = 0;
        stats.pendingEvents = 0;
        options.onStats?.(stats);
        await options.nextWake(options.idleMs ?? 1_000);
        continue;
      }
      const round: PendingStreamBatch[] = [];
      let events = 0;
      for (const batch of pending) {
        if (round.length > 0 && events + batch.rows_raw > maxEvents) break;
        round.push(batch);
        events += batch.rows_raw;
      }
      const startedAt = context.now();
      // Validation and dead letters once per round (lake and broker writes, retried on their own); the warehouse
      // transaction is retried alone, so an outage there does not publish the same dead letters again and again.
      const validated = await persist('lake', () => validateRound(context, round));
      if (validated === 'stale') {
        // Stage 1 is replaying that batch: its new ledger row follows the new raw object in a moment.
        await options.nextWake(STALE_WAIT_MS);
        continue;
      }
      const letters = validated.flatMap((entry) => entry.letters);
      await persist('broker', () => publishDeadLetters(context.stream(), letters));
      const applied = await persist('warehouse', () =>
        commitRound(context, validated, models, vars, startedAt).catch((error: unknown) => {
          if (error instanceof StaleBatchError) return error;
          throw error;
        }),
      );
      if (applied instanceof StaleBatchError) {
        context.log.info(
          { job: 'stream-ingest', error: applied.message },
          'batch re-registered; redoing the round',
        );
        continue;
      }
      for (const { outcome } of validated) {
        stats.batchesApplied += 1;
        stats.eventsApplied += outcome.rowsIn;
        stats.staged += outcome.staged;
        stats.quarantined += outcome.quarantined;
        stats.rescued += outcome.rescued;
      }
      stats.deadLettered += letters.length;
      stats.late += applied;
      stats.lastAppliedAt = context.now().toISOString();
      context.log.info({ job: 'stream-ingest', batches: round.length, events }, 'applied to silver');
      await lineage.add(
        validated.map(({ batch, outcome, letters }) => ({
          batch,
          staged: outcome.staged,
          quarantined: outcome.quarantined,
          deadLettered: letters.length,
        })),
        startedAt,
      );
      const backlog = await persist('warehouse', async () => streamBacklog(await context.warehouse()));
      stats.pendingBatches = backlog.batches;
      stats.pendingEvents = backlog.events;
      options.onStats?.(stats);
    }
  } finally {
    // What was applied is reported even when the applier stops or fails.
    await lineage.flush();
  }
}

interface Validated {
  batch: PendingStreamBatch;
  outcome: ValidationOutcome;
  letters: OutgoingMessage[];
}

/** Staging and quarantine objects for each batch of the round, and the dead letters of its invalid events. */
async function validateRound(
  context: JobContext,
  round: PendingStreamBatch[],
): Promise<Validated[] | 'stale'> {
  const lake = context.lake();
  const checkOptions = checkOptionsOf(context);
  const validated: Validated[] = [];
  for (const batch of round) {
    const contract = contractFor(batch.source);
    const letters: OutgoingMessage[] = [];
    const target = { batchId: batch.batch_id, rawKey: batch.raw_key };
    const outcome = await validateRecords(
      lake,
      contract,
      { ...target, source: batch.source, ingestionDate: batch.ingestion_date },
      await openRawRecords(lake, batch.raw_key, contract),
      {
        check: checkOptions,
        onInvalid: (record, reasons) => {
          if (record.envelope) letters.push(deadLetterMessage(record.envelope, reasons, target));
        },
      },
    );
    // A replay closed this batch at another size and replaced its raw object; its new ledger row comes next.
    if (outcome.rowsIn !== batch.rows_raw) return 'stale';
    validated.push({ batch, outcome, letters });
  }
  return validated;
}

/**
 * One transaction: validated, loaded into bronze, applied to silver, recorded. Returns the late events the round
 * put into silver; throws StaleBatchError (rolled back) when a replay registered one of its batches again.
 */
async function commitRound(
  context: JobContext,
  validated: Validated[],
  models: Model[],
  vars: Record<string, never>,
  startedAt: Date,
): Promise<number> {
  const db = await context.warehouse();
  return db.transaction(async (tx) => {
    const tableOf = (batch: PendingStreamBatch) => `bronze.${contractFor(batch.source).table}`;
    const tables = [...new Set(validated.map(({ batch }) => tableOf(batch)))].sort();
    const touched = models.filter((model) => tables.includes(model.dependsOn[0] ?? ''));
    // Every lock up front, in one order, so two appliers (replicas) queue instead of deadlocking.
    for (const table of tables) await tx.exec(lockForWriteSql(table, tx.dialect));
    for (const model of touched)
      if (await tableExists(tx, model.name)) await tx.exec(lockForWriteSql(model.name, tx.dialect));
    for (const { batch, outcome } of validated) {
      await markValidated(tx, batch.batch_id, {
        stagedKey: outcome.stagedKey,
        quarantineKey: outcome.quarantineKey,
        staged: outcome.staged,
        quarantined: outcome.quarantined,
        rescued: outcome.rescued,
        at: context.now(),
      });
      await loadBatchInTransaction(context, tx, {
        ...batch,
        staged_key: outcome.stagedKey,
        quarantine_key: outcome.quarantineKey,
        rows_staged: outcome.staged,
        rows_quarantined: outcome.quarantined,
      });
    }
    const lateByBatch = new Map<string, number>();
    for (const model of touched) {
      const batchIds = validated
        .filter(({ batch }) => tableOf(batch) === model.dependsOn[0])
        .map(({ batch }) => batch.batch_id);
      await applyIncrementally(tx, model, { vars, batchIds });
      const lateRows = await tx.query<{ batch_id: string; n: number }>(
        `select _batch_id as batch_id, cast(count(*) as integer) as n from ${model.name}
         where is_late and _batch_id in (${batchIds.map((_, index) => `$${index + 1}`).join(', ')})
         group by _batch_id`,
        batchIds,
      );
      for (const row of lateRows) lateByBatch.set(row.batch_id, Number(row.n));
    }
    for (const { batch } of validated) {
      if (!(await stillRegistered(tx, batch.batch_id, batch.extracted_at)))
        throw new StaleBatchError(`${batch.batch_id} was registered again while it was being applied`);
    }
    const finishedAt = context.now();
    for (const { batch, outcome, letters } of validated) {
      await recordRun(tx, {
        runId: context.runId,
        job: 'stream-ingest',
        step: `apply.${batch.source}`,
        batchId: batch.batch_id,
        status: 'succeeded',
        startedAt,
        finishedAt,
        rowsIn: outcome.rowsIn,
        rowsOut: outcome.staged,
        rowsQuarantined: outcome.quarantined,
        message: `loaded and applied to silver; ${letters.length} dead-lettered; ${outcome.rescued} rescued; ${lateByBatch.get(batch.batch_id) ?? 0} late`,
      });
    }
    return [...lateByBatch.values()].reduce((sum, n) => sum + n, 0);
  });
}
