/**
 * The stream service's lineage. Stage 1 writes in the consumer's hot path, so the applier, which sees every batch
 * once it is applied, reports both stages: the topics into raw/ (`stream-ingest`) and, per topic, raw/ into
 * staging, quarantine, the dead-letter topic, bronze and silver (`stream-ingest.apply.<topic>`). Rounds come as
 * often as batches are committed (every second or so per partition); one step per round would fill the lineage
 * store, so rounds are summed and reported once per interval, and once more when the applier stops.
 */
import type { JobContext } from '../../context.ts';
import type { Model } from '../../models/models.ts';
import type { PendingStreamBatch } from '../../ops/batches.ts';
import { streamApplyLineage, streamIngestLineage } from '../lineage.ts';

export const LINEAGE_INTERVAL_MS = 60_000;

export interface AppliedBatch {
  batch: PendingStreamBatch;
  staged: number;
  quarantined: number;
  deadLettered: number;
}

interface TopicTotals {
  /** When the first batch summed here was applied (its round began). */
  startedAt: Date;
  events: number;
  staged: number;
  quarantined: number;
  deadLettered: number;
}

export interface ApplyLineage {
  /** Adds a round; reports what has been summed when the interval has passed since the last report. */
  add(round: AppliedBatch[], startedAt: Date): Promise<void>;
  /** Reports what has been summed, if anything. */
  flush(): Promise<void>;
}

export function applyLineage(
  context: JobContext,
  models: Model[],
  intervalMs = LINEAGE_INTERVAL_MS,
): ApplyLineage {
  let totals = new Map<string, TopicTotals>();
  let firstWritten: Date | undefined;
  let lastReport = Date.now();

  const flush = async () => {
    lastReport = Date.now();
    if (totals.size === 0 || !firstWritten) return;
    const reported = totals;
    const ingestStartedAt = firstWritten;
    totals = new Map();
    firstWritten = undefined;
    await streamIngestLineage(
      context,
      ingestStartedAt,
      [...reported].map(([topic, sums]) => ({ topic, events: sums.events })),
    );
    for (const [topic, sums] of reported) {
      await streamApplyLineage(context, { topic, ...sums, models });
    }
  };

  return {
    async add(round, startedAt) {
      for (const { batch, staged, quarantined, deadLettered } of round) {
        const written = new Date(batch.extracted_at);
        if (!firstWritten || written < firstWritten) firstWritten = written;
        const sums = totals.get(batch.source) ?? {
          startedAt,
          events: 0,
          staged: 0,
          quarantined: 0,
          deadLettered: 0,
        };
        sums.events += batch.rows_raw;
        sums.staged += staged;
        sums.quarantined += quarantined;
        sums.deadLettered += deadLettered;
        totals.set(batch.source, sums);
      }
      if (Date.now() - lastReport >= intervalMs) await flush();
    },
    flush,
  };
}
