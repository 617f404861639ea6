/**
 * The retention-gap ledger (ops.stream_gaps): events of a topic partition the broker's retention deleted before the
 * pipeline read them (found by jobs/stream-ingest/retention-gaps.ts). A gap is a blocking bronze finding and a
 * critical incident from the moment it is found until an operator acknowledges it (`ecomm batches acknowledge-gap`,
 * audited in the gap's row and in ops.pipeline_runs): until then the quality gate of every run fails on it and holds
 * back the models built from the topic's bronze table, because their figures silently lack the deleted events.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { reconcileIncidents } from '../alerts/incidents.ts';
import { LAYER_OWNERS } from '../alerts/owners.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { type Finding, recordFindings } from './dq-findings.ts';

export const RETENTION_GAP_CHECK = 'stream_retention_gap';

export interface RetentionGap {
  topic: string;
  partition: number;
  /** Where the group would have resumed. */
  expectedOffset: number;
  /** The oldest offset the broker still keeps. */
  logStartOffset: number;
  eventsLost: number;
  /** What expectedOffset came from. */
  basis: 'committed' | 'ledger' | 'none';
}

/** A gap's name for operators and its check id's tail: `clickstream:p3:o1200`. */
export function gapId(gap: Pick<RetentionGap, 'topic' | 'partition' | 'expectedOffset'>): string {
  return `${gap.topic}:p${gap.partition}:o${gap.expectedOffset}`;
}

export function retentionGapCheckId(
  gap: Pick<RetentionGap, 'topic' | 'partition' | 'expectedOffset'>,
): string {
  return `${RETENTION_GAP_CHECK}:${gapId(gap)}`;
}

function tableOf(topic: string): string {
  try {
    return `bronze.${contractFor(topic).table}`;
  } catch {
    return topic;
  }
}

function gapFinding(gap: RetentionGap, groupId: string, acknowledged: string | null = null): Finding {
  const lost =
    `${gap.eventsLost} events of ${gap.topic} partition ${gap.partition} (offsets ${gap.expectedOffset} to ` +
    `${gap.logStartOffset - 1}) were deleted by the broker's retention before the pipeline read them`;
  return {
    checkId: retentionGapCheckId(gap),
    layer: 'bronze',
    tableName: tableOf(gap.topic),
    checkType: RETENTION_GAP_CHECK,
    severity: 'blocking',
    passed: acknowledged !== null,
    failingRows: acknowledged === null ? gap.eventsLost : 0,
    details:
      acknowledged !== null
        ? `${lost}; acknowledged: ${acknowledged}`
        : `${lost}: group ${groupId} expected offset ${gap.expectedOffset} ` +
          `(${gap.basis === 'none' ? 'nothing read yet' : `from its ${gap.basis}`}), the partition now starts at ` +
          `${gap.logStartOffset}. Recover them from the producer or the source if it can resend, then acknowledge ` +
          `the gap: ecomm batches acknowledge-gap --gap ${gapId(gap)} --reason <text> (docs/streaming.md, Retention gaps)`,
  };
}

function incidentOf(finding: Finding) {
  return {
    checkId: finding.checkId,
    checkType: finding.checkType,
    tableName: finding.tableName,
    severity: 'critical' as const,
    owner: LAYER_OWNERS.bronze ?? 'data-platform',
    passed: finding.passed,
    failingRows: finding.failingRows,
    details: finding.details,
  };
}

/**
 * Records gaps not recorded before (the same partition and expected offset is one gap, however often it is seen) and
 * raises each as a blocking finding and a critical incident. Returns the gaps new in this call.
 */
export async function recordRetentionGaps(
  db: SqlDatabase,
  gaps: RetentionGap[],
  run: { runId: string; now: Date; groupId: string },
): Promise<RetentionGap[]> {
  const fresh: RetentionGap[] = [];
  for (const gap of gaps) {
    const [seen] = await db.query<{ n: number }>(
      `select cast(count(*) as integer) as n from ops.stream_gaps
       where topic = $1 and partition_id = $2 and group_id = $3 and expected_offset = $4`,
      [gap.topic, gap.partition, run.groupId, gap.expectedOffset],
    );
    if (Number(seen?.n ?? 0) > 0) continue;
    await db.query(
      `insert into ops.stream_gaps (topic, partition_id, group_id, expected_offset, log_start_offset, events_lost, basis,
         detected_at, run_id)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        gap.topic,
        gap.partition,
        run.groupId,
        gap.expectedOffset,
        gap.logStartOffset,
        gap.eventsLost,
        gap.basis,
        run.now,
        run.runId,
      ],
    );
    fresh.push(gap);
  }
  if (fresh.length === 0) return fresh;
  const findings = fresh.map((gap) => gapFinding(gap, run.groupId));
  await recordFindings(db, run.runId, findings, run.now);
  await reconcileIncidents(db, findings.map(incidentOf), { runId: run.runId, now: run.now });
  return fresh;
}

/** A gap as ops.stream_gaps holds it. */
export interface StreamGapRow {
  topic: string;
  partition_id: number;
  group_id: string;
  expected_offset: number;
  log_start_offset: number;
  events_lost: number;
  basis: RetentionGap['basis'];
  detected_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  acknowledge_reason: string | null;
}

function gapOf(row: StreamGapRow): RetentionGap {
  return {
    topic: row.topic,
    partition: row.partition_id,
    expectedOffset: row.expected_offset,
    logStartOffset: row.log_start_offset,
    eventsLost: row.events_lost,
    basis: row.basis,
  };
}

/** Every gap recorded, the open ones first, then the most recent first. */
export async function listStreamGaps(db: SqlDatabase): Promise<StreamGapRow[]> {
  const rows = await db.query<StreamGapRow & Record<string, unknown>>(
    `select topic, partition_id, group_id, expected_offset, log_start_offset, events_lost, basis, detected_at,
       acknowledged_at, acknowledged_by, acknowledge_reason
     from ops.stream_gaps
     order by case when acknowledged_at is null then 0 else 1 end, detected_at desc, topic, partition_id`,
  );
  return rows.map((row) => ({
    ...row,
    partition_id: Number(row.partition_id),
    expected_offset: Number(row.expected_offset),
    log_start_offset: Number(row.log_start_offset),
    events_lost: Number(row.events_lost),
  }));
}

/** The quality gate's view: one failing blocking finding per gap not acknowledged yet (once, whichever groups saw it). */
export async function openGapFindings(db: SqlDatabase): Promise<Finding[]> {
  const findings = new Map<string, Finding>();
  for (const row of await listStreamGaps(db)) {
    const finding = gapFinding(gapOf(row), row.group_id);
    if (row.acknowledged_at === null && !findings.has(finding.checkId))
      findings.set(finding.checkId, finding);
  }
  return [...findings.values()];
}

/** A gap id that names no open gap, or a blank reason: the CLI exits 2 with this message. */
export class GapAcknowledgementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GapAcknowledgementError';
  }
}

/**
 * Closes an open gap for good: the operator states why (the events were resent, or the loss is accepted), the gap's
 * rows (every group that saw it) keep who and why, its finding passes and its incident resolves, so the next quality
 * gate lets the models built from the topic be published again. Returns the rows acknowledged.
 */
export async function acknowledgeStreamGap(
  db: SqlDatabase,
  request: { gap: string; reason: string; actor: string | null; runId: string; now: Date },
): Promise<StreamGapRow[]> {
  const reason = request.reason.trim();
  if (reason === '') throw new GapAcknowledgementError('--reason must say why the gap is acknowledged');
  const all = await listStreamGaps(db);
  const matching = all.filter((row) => gapId(gapOf(row)) === request.gap && row.acknowledged_at === null);
  if (matching.length === 0) {
    const open = [
      ...new Set(all.filter((row) => row.acknowledged_at === null).map((row) => gapId(gapOf(row)))),
    ];
    throw new GapAcknowledgementError(
      `no open retention gap ${request.gap}; open gaps: ${open.length > 0 ? open.join(', ') : 'none'} ` +
        '(ecomm batches gaps lists them)',
    );
  }
  const gap = gapOf(matching[0] as StreamGapRow);
  const acknowledged = `${reason} (by ${request.actor ?? 'unknown'})`;
  const finding = gapFinding(gap, (matching[0] as StreamGapRow).group_id, acknowledged);
  await db.transaction(async (tx) => {
    await tx.query(
      `update ops.stream_gaps set acknowledged_at = $4, acknowledged_by = $5, acknowledge_reason = $6
       where topic = $1 and partition_id = $2 and expected_offset = $3 and acknowledged_at is null`,
      [gap.topic, gap.partition, gap.expectedOffset, request.now, request.actor, reason],
    );
    await recordFindings(tx, request.runId, [finding], request.now);
    await reconcileIncidents(tx, [incidentOf(finding)], { runId: request.runId, now: request.now });
  });
  return matching.map((row) => ({
    ...row,
    acknowledged_at: request.now,
    acknowledged_by: request.actor,
    acknowledge_reason: reason,
  }));
}
