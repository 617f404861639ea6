/**
 * Stage 2 of the stream service: takes the service's committed raw batches from the ledger (source_kind 'stream',
 * not loaded yet, oldest first) and, per round of batches:
 *   1. validates each with the same contract code as `ecomm validate` (staging/ CSV, quarantine/ NDJSON with every
 *      reason and the original message),
 *   2. publishes every invalid message to the dead-letter topic (original bytes, reasons in headers),
 *   3. in ONE warehouse transaction: marks the batches validated, loads them into bronze (jobs/load), records a
 *      pipeline_runs row per batch, and brings the incremental silver models up to date for exactly those batches
 *      (jobs/models/build.ts applyIncrementally), after checking that no replay re-registered a batch meanwhile.
 * loaded_at is set in the same transaction as the silver update, so "not loaded" is precisely the work left: a
 * crash anywhere leaves the batch pending and the next round (this process or the next one) does it again, and
 * every step is idempotent by batch id. Writes wait out an unavailable lake, warehouse or broker with backoff.
 * A batch whose own data fails (a corrupt or truncated raw object, a row bronze refuses, a silver cast error) would
 * fail the same way forever: it is marked failed in the ledger (a finding, an incident, an alert) and the round
 * goes on without it, so it never holds back the batches behind it (`ecomm batches retry|skip` clears it).
 */
import type { OutgoingMessage } from '../../../adapters/stream/event-stream.ts';
import { lockForWriteSql } from '../../../sql/dialects/macros.ts';
import type { JobContext } from '../../context.ts';
import { contractFor } from '../../contracts/data-contracts.ts';
import { modelTableOwner } from '../../grants/index.ts';
import { addOrderChange, applyRealtimeKpis, ORDER_EVENTS } from '../../kpis/realtime.ts';
import { loadBatchInTransaction, nameRefusedRow } from '../../load/index.ts';
import { applyIncrementally, type IncrementalChange } from '../../models/build.ts';
import { tableExists } from '../../models/existing.ts';
import { loadModels, type Model } from '../../models/models.ts';
import { recordBatchDecision } from '../../ops/batch-decisions.ts';
import {
  BatchDataError,
  type BatchStep,
  classifyBatchError,
  failedBatchIdIn,
} from '../../ops/batch-errors.ts';
import { failedDecision, reportBatchFailures } from '../../ops/batch-failures.ts';
import {
  markBatchFailed,
  markValidated,
  type PendingStreamBatch,
  pendingStreamBatches,
  stillRegistered,
  streamBacklog,
} from '../../ops/batches.ts';
import { recordRun } from '../../ops/pipeline-runs.ts';
import {
  checkOptionsOf,
  openRawRecords,
  type ValidationOutcome,
  validateRecords,
} from '../../validate/index.ts';
import { type BackpressureState, newBackpressureState, type Persist } from '../backpressure.ts';
import { applyLineage } from './apply-lineage.ts';
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
  /** Batches that failed on their own data and were held back (ops.batches, `ecomm batches`). */
  batchesFailed: number;
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
    batchesFailed: 0,
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
  // No model hashes anything (validation derives the keyed hashes), so the models need no secret.
  const vars = {};
  await persist('broker', () =>
    context.stream().ensureTopics([{ name: DEAD_LETTER_TOPIC, partitions: DEAD_LETTER_PARTITIONS }]),
  );
  const maxEvents = options.maxEventsPerRound ?? 200_000;
  const lineage = applyLineage(context, models);
  const incidents = batchIncidentWatch(context, persist);
  // When each registration was first seen not to reconcile (see validateRound).
  const staleSince = new Map<string, number>();
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
      const checked = await persist('lake', () => validateRound(context, round, staleSince));
      if (checked === 'stale') {
        // Stage 1 is replaying that batch: its new ledger row follows the new raw object in a moment.
        await options.nextWake(STALE_WAIT_MS);
        continue;
      }
      await failBatches(context, persist, checked.failed, startedAt);
      stats.batchesFailed += checked.failed.length;
      const letters = checked.validated.flatMap((entry) => entry.letters);
      await persist('broker', () => publishDeadLetters(context.stream(), letters));
      const applied = await persist('warehouse', () =>
        commitIsolating(context, checked.validated, models, vars, startedAt),
      );
      if (applied instanceof StaleBatchError) {
        context.log.info(
          { job: 'stream-ingest', error: applied.message },
          'batch re-registered; redoing the round',
        );
        continue;
      }
      await failBatches(context, persist, applied.failed, startedAt);
      stats.batchesFailed += applied.failed.length;
      await incidents.afterRound(
        applied.committed.map(({ batch }) => batch.batch_id),
        checked.failed.length + applied.failed.length > 0,
      );
      const validated = applied.committed;
      for (const { outcome } of validated) {
        stats.batchesApplied += 1;
        stats.eventsApplied += outcome.rowsIn;
        stats.staged += outcome.staged;
        stats.quarantined += outcome.quarantined;
        stats.rescued += outcome.rescued;
      }
      stats.deadLettered += letters.length;
      stats.late += applied.late;
      stats.lastAppliedAt = context.now().toISOString();
      context.log.info(
        { job: 'stream-ingest', batches: validated.length, failed: round.length - validated.length, events },
        'applied to silver',
      );
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

/** A batch of the round that failed on its own data, at which step, and why. */
interface FailedBatch {
  batch: PendingStreamBatch;
  step: BatchStep;
  error: unknown;
}

/** How long a registration may keep not reconciling with its raw object before it is failed instead of awaited. */
const STALE_GIVE_UP_MS = 60_000;

/**
 * Staging and quarantine objects for each batch of the round, and the dead letters of its invalid events; batches
 * whose raw object cannot be read are set apart as failed. 'stale' when a batch's raw object holds another number
 * of events than its ledger row, for a while: a replay closed it at another size and its new row comes next.
 */
async function validateRound(
  context: JobContext,
  round: PendingStreamBatch[],
  staleSince: Map<string, number>,
): Promise<{ validated: Validated[]; failed: FailedBatch[] } | 'stale'> {
  const lake = context.lake();
  const checkOptions = checkOptionsOf(context);
  const piiHashKey = await context.piiHashKey();
  const validated: Validated[] = [];
  const failed: FailedBatch[] = [];
  for (const batch of round) {
    const contract = contractFor(batch.source);
    const letters: OutgoingMessage[] = [];
    const target = { batchId: batch.batch_id, rawKey: batch.raw_key };
    let outcome: ValidationOutcome;
    try {
      outcome = await validateRecords(
        lake,
        contract,
        { ...target, source: batch.source, ingestionDate: batch.ingestion_date },
        await openRawRecords(lake, batch.raw_key, contract),
        {
          check: checkOptions,
          piiHashKey,
          onInvalid: (record, reasons) => {
            if (record.envelope) letters.push(deadLetterMessage(record.envelope, reasons, target));
          },
        },
      );
    } catch (error) {
      if (classifyBatchError(error) !== 'data') throw error;
      failed.push({ batch, step: 'validate', error });
      continue;
    }
    if (outcome.rowsIn !== batch.rows_raw) {
      const registration = `${batch.batch_id}@${new Date(batch.extracted_at).getTime()}`;
      const since = staleSince.get(registration) ?? Date.now();
      staleSince.set(registration, since);
      if (Date.now() - since < STALE_GIVE_UP_MS) return 'stale';
      staleSince.delete(registration);
      const error = new BatchDataError(
        `batch ${batch.batch_id}: rows do not reconcile (ledger ${batch.rows_raw} raw, read ${outcome.rowsIn} ` +
          `from ${batch.raw_key} for ${STALE_GIVE_UP_MS / 1000} s)`,
        { batchId: batch.batch_id },
      );
      failed.push({ batch, step: 'validate', error });
      continue;
    }
    validated.push({ batch, outcome, letters });
  }
  return { validated, failed };
}

/**
 * commitRound, with a batch whose own data fails taken out: the one the error names (a load refusal names its
 * batch), or, when the error cannot say (a silver statement over several batches), each batch committed alone to
 * find it. Returns what was committed and what failed; StaleBatchError when a replay re-registered a batch.
 */
async function commitIsolating(
  context: JobContext,
  validated: Validated[],
  models: Model[],
  vars: Record<string, never>,
  startedAt: Date,
): Promise<{ committed: Validated[]; failed: FailedBatch[]; late: number } | StaleBatchError> {
  if (validated.length === 0) return { committed: [], failed: [], late: 0 };
  try {
    const late = await commitRound(context, validated, models, vars, startedAt);
    return { committed: validated, failed: [], late };
  } catch (error) {
    if (error instanceof StaleBatchError) return error;
    if (classifyBatchError(error) !== 'data') throw error;
    const namedId = failedBatchIdIn(error);
    const named = validated.find(({ batch }) => batch.batch_id === namedId);
    if (!named && validated.length > 1) {
      const outcomes = { committed: [] as Validated[], failed: [] as FailedBatch[], late: 0 };
      for (const alone of validated) {
        const outcome = await commitIsolating(context, [alone], models, vars, startedAt);
        if (outcome instanceof StaleBatchError) return outcome;
        outcomes.committed.push(...outcome.committed);
        outcomes.failed.push(...outcome.failed);
        outcomes.late += outcome.late;
      }
      return outcomes;
    }
    const culprit = named ?? (validated[0] as Validated);
    const rest = await commitIsolating(
      context,
      validated.filter((entry) => entry !== culprit),
      models,
      vars,
      startedAt,
    );
    if (rest instanceof StaleBatchError) return rest;
    const failure: FailedBatch = { batch: culprit.batch, step: named ? 'load' : 'apply', error };
    return { ...rest, failed: [failure, ...rest.failed] };
  }
}

/**
 * Records each failed batch: the ledger (out of the flow, its reason naming the refused row), a failed
 * pipeline_runs row, then its finding and incident.
 */
async function failBatches(
  context: JobContext,
  persist: Persist,
  failed: FailedBatch[],
  startedAt: Date,
): Promise<void> {
  for (const { batch, step, error } of failed) {
    const named = await nameRefusedRow(batch, error);
    const reason = (named as Error)?.message ?? String(named);
    const failure = { batchId: batch.batch_id, step, reason, at: context.now(), runId: context.runId };
    await persist('warehouse', async () => {
      const db = await context.warehouse();
      await markBatchFailed(db, failure);
      await recordRun(db, {
        runId: context.runId,
        job: 'stream-ingest',
        step: `apply.${batch.source}`,
        batchId: batch.batch_id,
        status: 'failed',
        startedAt,
        finishedAt: context.now(),
        rowsIn: batch.rows_raw,
        message: `failed at ${step}, held back (ecomm batches retry|skip): ${reason}`,
      });
    });
    await persist('lake', () => recordBatchDecision(context.lake(), failedDecision(failure)));
    context.log.warn(
      { job: 'stream-ingest', batchId: batch.batch_id, step, error: reason },
      'batch failed on its own data: marked failed, the batches behind it go on',
    );
  }
}

/**
 * Findings and incidents of failed batches without a query every round: reported after a failure, after a round
 * that applied a batch whose incident is open (a retry: it resolves), and at least once a minute otherwise.
 */
function batchIncidentWatch(context: JobContext, persist: Persist) {
  let open: Set<string> | undefined;
  let reportedAt = 0;
  const report = async () => {
    const result = await persist('warehouse', async () =>
      reportBatchFailures(await context.warehouse(), { runId: context.runId, now: context.now() }, 'stream'),
    );
    open = new Set(result.open);
    reportedAt = Date.now();
  };
  return {
    async afterRound(applied: string[], failedSome: boolean): Promise<void> {
      const due = !open || Date.now() - reportedAt > INCIDENT_REPORT_MS;
      if (failedSome || due || applied.some((batchId) => open?.has(batchId))) await report();
    },
  };
}

const INCIDENT_REPORT_MS = 60_000;

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
    // A silver event table this service builds first is handed to the models' owner, so a transform can swap it.
    const tableOwner = touched.length > 0 ? await modelTableOwner(tx) : undefined;
    for (const model of touched) {
      const batchIds = validated
        .filter(({ batch }) => tableOf(batch) === model.dependsOn[0])
        .map(({ batch }) => batch.batch_id);
      const now = context.now();
      const onReplace =
        model.name === ORDER_EVENTS
          ? (change: IncrementalChange) => addOrderChange(tx, change, now)
          : undefined;
      await applyIncrementally(tx, model, { vars, batchIds, tableOwner, onReplace });
      const lateRows = await tx.query<{ batch_id: string; n: number }>(
        `select _batch_id as batch_id, cast(count(*) as integer) as n from ${model.name}
         where is_late and _batch_id in (${batchIds.map((_, index) => `$${index + 1}`).join(', ')})
         group by _batch_id`,
        batchIds,
      );
      for (const row of lateRows) lateByBatch.set(row.batch_id, Number(row.n));
    }
    // Under the silver tables' locks: rounds that touch the same realtime table take turns.
    const appliedTo = (silver: string) => {
      const model = touched.find(({ name }) => name === silver);
      if (!model) return [];
      return validated
        .filter(({ batch }) => tableOf(batch) === model.dependsOn[0])
        .map(({ batch }) => batch.batch_id);
    };
    await applyRealtimeKpis(tx, {
      orderBatchIds: appliedTo(ORDER_EVENTS),
      clickstreamBatchIds: appliedTo('silver.clickstream_events'),
      now: context.now(),
    });
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
