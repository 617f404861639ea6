/**
 * `ecomm quarantine replay --batch <id>`: after a contract fix, re-validates the quarantined rows of one batch
 * with the contracts as they are now. Rows that pass are staged as a new batch `<id>_replay_<n>` in the ledger,
 * which the ordinary load step loads (idempotent by batch id); rows that still fail are reported with their
 * reasons. The audit trail stays whole: the raw object and the original quarantine object are never touched,
 * ops.quarantine_rows keeps the original verdicts, and ops.quarantine_replays records every re-validated row with
 * the replay batch it went into. A row promoted once is never promoted again, so a second replay adds nothing.
 *
 * The records are read again from the raw object (raw/ is never rewritten), not from the quarantine copy: that
 * is where an event's stream position (partition, offset, publish time) is, and it is byte for byte what arrived.
 */
import { createInterface } from 'node:readline';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { SqlDatabase, SqlParam } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';
import { contractFor as currentContractFor, type DataContract } from '../contracts/data-contracts.ts';
import { lakeKey } from '../lake/layout.ts';
import { type LoadedBatch, runLoad } from '../load/index.ts';
import { markValidated, registerBatch } from '../ops/batches.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import {
  checkOptionsOf,
  judge,
  openRawRecords,
  openStagedObject,
  type StagedCsvWriter,
  stagedRowFormat,
  writeStagedRow,
} from '../validate/index.ts';
import { replayLineage } from './lineage.ts';

export interface ReplayOptions {
  batchId: string;
  /** The contracts to validate with (default: the current ones); tests pass a fixed contract here. */
  contractFor?: (source: string) => DataContract;
  /** Run the load step afterwards, so promoted rows reach bronze in the same command (the CLI does). */
  load?: boolean;
}

export interface ReplayReport {
  batchId: string;
  source: string;
  /** The batch the promoted rows were staged as; null when none passed. */
  replayBatchId: string | null;
  stagedKey: string | null;
  /** Rows in the batch's quarantine. */
  quarantined: number;
  /** Quarantined rows an earlier replay already promoted: skipped. */
  alreadyPromoted: number;
  /** Rows re-validated by this replay. */
  examined: number;
  promoted: number;
  stillFailing: number;
  /** Reasons of the rows still failing, with how many rows give each. */
  reasons: Record<string, number>;
  /** The first rows still failing (at most 100). */
  failing: { rowNumber: number; reasons: string[] }[];
  /** Batches the load step loaded when `load` was set. */
  loaded: LoadedBatch[] | null;
}

interface LedgerBatch {
  batch_id: string;
  source: string;
  source_kind: 'table' | 'topic' | 'stream';
  ingestion_date: string;
  raw_key: string;
  quarantine_key: string | null;
  validated_at: unknown;
}

export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayError';
  }
}

const INSERT_CHUNK = 500;
const FAILING_SAMPLE = 100;

async function readBatch(db: SqlDatabase, batchId: string): Promise<LedgerBatch> {
  const [batch] = await db.query<LedgerBatch & Record<string, unknown>>(
    `select batch_id, source, source_kind, cast(ingestion_date as varchar(10)) as ingestion_date, raw_key,
       quarantine_key, validated_at
     from ops.batches where batch_id = $1`,
    [batchId],
  );
  if (!batch) throw new ReplayError(`no batch ${batchId} in the ledger (ops.batches)`);
  if (batch.validated_at === null)
    throw new ReplayError(`batch ${batchId} is not validated yet: run validate first`);
  return batch;
}

async function quarantinedRowNumbers(lake: ObjectStore, key: string): Promise<Set<number>> {
  const rows = new Set<number>();
  for await (const line of createInterface({
    input: await lake.get(key),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    if (line !== '') rows.add(Number((JSON.parse(line) as { row_number: number }).row_number));
  }
  return rows;
}

export async function replayQuarantine(context: JobContext, options: ReplayOptions): Promise<ReplayReport> {
  const db = await context.warehouse();
  const startedAt = context.now();
  const batch = await readBatch(db, options.batchId);
  const log = context.log.child({ job: 'quarantine-replay', step: batch.source, batchId: batch.batch_id });
  const contract = (options.contractFor ?? currentContractFor)(batch.source);
  const lake = context.lake();
  const report: ReplayReport = {
    batchId: batch.batch_id,
    source: batch.source,
    replayBatchId: null,
    stagedKey: null,
    quarantined: 0,
    alreadyPromoted: 0,
    examined: 0,
    promoted: 0,
    stillFailing: 0,
    reasons: {},
    failing: [],
    loaded: null,
  };
  try {
    const quarantined = batch.quarantine_key
      ? await quarantinedRowNumbers(lake, batch.quarantine_key)
      : new Set<number>();
    report.quarantined = quarantined.size;
    const history = await db.query<{ row_number: unknown; status: string; replay_batch_id: string }>(
      'select row_number, status, replay_batch_id from ops.quarantine_replays where batch_id = $1',
      [batch.batch_id],
    );
    const promotedBefore = new Set(
      history.filter((row) => row.status === 'promoted').map((row) => Number(row.row_number)),
    );
    const pending = new Set([...quarantined].filter((row) => !promotedBefore.has(row)));
    report.alreadyPromoted = quarantined.size - pending.size;
    const replayBatchId = `${batch.batch_id}_replay_${new Set(history.map((row) => row.replay_batch_id)).size + 1}`;
    const stagedKey = lakeKey('staging', batch.source, batch.ingestion_date, replayBatchId, 'csv');

    const outcomes: { rowNumber: number; promoted: boolean; reasons: string[] }[] = [];
    let staging: StagedCsvWriter | null = null;
    let rescued = 0;
    if (pending.size > 0) {
      const checkOptions = checkOptionsOf(context);
      const format = stagedRowFormat(contract, {
        batchId: replayBatchId,
        sourceFile: batch.raw_key,
        piiHashKey: await context.piiHashKey(),
      });
      const records = await openRawRecords(lake, batch.raw_key, contract);
      try {
        for await (const record of records) {
          if (!pending.has(record.rowNumber)) continue;
          report.examined += 1;
          const verdict = judge(contract, record, checkOptions);
          if (verdict.reasons.length > 0) {
            outcomes.push({ rowNumber: record.rowNumber, promoted: false, reasons: verdict.reasons });
            report.stillFailing += 1;
            for (const reason of verdict.reasons) report.reasons[reason] = (report.reasons[reason] ?? 0) + 1;
            if (report.failing.length < FAILING_SAMPLE)
              report.failing.push({ rowNumber: record.rowNumber, reasons: verdict.reasons });
            continue;
          }
          staging ??= openStagedObject(lake, stagedKey, contract);
          if (verdict.rescued) rescued += 1;
          await writeStagedRow(staging, format, verdict, record);
          outcomes.push({ rowNumber: record.rowNumber, promoted: true, reasons: [] });
          report.promoted += 1;
        }
        if (report.examined !== pending.size) {
          throw new ReplayError(
            `batch ${batch.batch_id}: ${pending.size} quarantined rows to replay, ${report.examined} found in ${batch.raw_key}`,
          );
        }
        if (staging) await staging.finish();
      } catch (error) {
        // No staged object from a replay that failed: the store keeps nothing of an aborted upload.
        staging?.abort(error);
        throw error;
      }
    }
    if (outcomes.length > 0) {
      const now = context.now();
      await db.transaction(async (tx) => {
        if (report.promoted > 0) {
          await registerBatch(tx, {
            batchId: replayBatchId,
            source: batch.source,
            // A service batch's promoted rows are loaded by the batch load job, like any replay.
            kind: batch.source_kind === 'stream' ? 'topic' : batch.source_kind,
            ingestionDate: batch.ingestion_date,
            rawKey: batch.raw_key,
            rows: report.promoted,
            at: now,
          });
          await markValidated(tx, replayBatchId, {
            stagedKey,
            quarantineKey: null,
            staged: report.promoted,
            quarantined: 0,
            rescued,
            at: now,
          });
        }
        await recordReplays(tx, batch.batch_id, replayBatchId, outcomes, context.runId, now);
      });
    }
    if (report.promoted > 0) {
      report.replayBatchId = replayBatchId;
      report.stagedKey = stagedKey;
    }
    await recordRun(db, {
      runId: context.runId,
      job: 'quarantine-replay',
      step: batch.source,
      batchId: report.replayBatchId ?? batch.batch_id,
      status: report.examined > 0 ? 'succeeded' : 'skipped',
      startedAt,
      finishedAt: context.now(),
      rowsIn: report.examined,
      rowsOut: report.promoted,
      rowsQuarantined: report.stillFailing,
      message:
        `replay of ${batch.batch_id}: ${report.promoted} promoted, ${report.stillFailing} still failing, ` +
        `${report.alreadyPromoted} promoted earlier`,
    });
    await replayLineage(context, batch.source, startedAt, report.promoted);
    log.info(
      {
        replayBatchId: report.replayBatchId,
        examined: report.examined,
        promoted: report.promoted,
        stillFailing: report.stillFailing,
        alreadyPromoted: report.alreadyPromoted,
      },
      'quarantine replayed',
    );
  } catch (error) {
    await recordRun(db, {
      runId: context.runId,
      job: 'quarantine-replay',
      step: batch.source,
      batchId: batch.batch_id,
      status: 'failed',
      startedAt,
      finishedAt: context.now(),
      message: (error as Error).message,
    });
    await replayLineage(context, batch.source, startedAt, 0, error);
    throw error;
  }
  if (options.load) report.loaded = await runLoad(context);
  return report;
}

async function recordReplays(
  db: SqlDatabase,
  batchId: string,
  replayBatchId: string,
  outcomes: { rowNumber: number; promoted: boolean; reasons: string[] }[],
  runId: string,
  at: Date,
): Promise<void> {
  for (let start = 0; start < outcomes.length; start += INSERT_CHUNK) {
    const params: SqlParam[] = [];
    const tuples = outcomes.slice(start, start + INSERT_CHUNK).map((outcome, index) => {
      params.push(
        batchId,
        outcome.rowNumber,
        replayBatchId,
        outcome.promoted ? 'promoted' : 'failed',
        outcome.promoted ? null : outcome.reasons.join('; ').slice(0, 4000),
        runId,
        at,
      );
      const base = index * 7;
      return `(${Array.from({ length: 7 }, (_, offset) => `$${base + offset + 1}`).join(', ')})`;
    });
    await db.query(
      `insert into ops.quarantine_replays (batch_id, row_number, replay_batch_id, status, reasons, run_id, replayed_at)
       values ${tuples.join(', ')}`,
      params,
    );
  }
}

/** What a person reads after `ecomm quarantine replay`. */
export function formatReplayReport(report: ReplayReport): string[] {
  const lines = [
    `replay ${report.batchId} (${report.source}): ${report.quarantined} quarantined, ` +
      `${report.alreadyPromoted} promoted earlier, ${report.examined} re-validated`,
    `  promoted ${report.promoted}${report.replayBatchId ? ` -> batch ${report.replayBatchId} (${report.stagedKey})` : ''}`,
    `  still failing ${report.stillFailing}`,
  ];
  const reasons = Object.entries(report.reasons).sort((a, b) => b[1] - a[1]);
  for (const [reason, count] of reasons.slice(0, 10))
    lines.push(`    ${String(count).padStart(6)}  ${reason}`);
  for (const batch of report.loaded ?? [])
    lines.push(`  loaded ${batch.batchId}: ${batch.rows} rows -> bronze.${batch.table}`);
  return lines;
}
