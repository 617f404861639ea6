/**
 * Retention gaps: events a topic's retention deleted before the pipeline read them. Kafka keeps a partition's
 * messages for its retention only; a consumer group down for longer (or a new group started late) resumes at the
 * oldest message still kept, and without this check every later step would pass with the deleted events silently
 * missing. Before a stream path consumes, each partition's expected next offset is compared with its log start
 * offset: the group's committed offset; with none, the offset after the last batch the ledger (ops.batches) holds
 * for the partition; with neither, 0 (nothing of the partition was ever read). A gap is recorded once in
 * ops.stream_gaps, reported as a blocking finding and a critical incident naming the topic, partition and the number
 * of events lost, and stays open until acknowledged (jobs/ops/stream-gaps.ts).
 */
import type {
  EventStream,
  StreamConsumer,
  TopicPartitionOffset,
} from '../../adapters/stream/event-stream.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';
import { streamBatchId } from '../lake/raw-batch.ts';
import { type RetentionGap, recordRetentionGaps } from '../ops/stream-gaps.ts';

const slot = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Per partition, the offset after the last batch the ledger holds (first offset + events: a lower bound of the
 * next offset when the topic has offset holes, so a gap is never overstated by the ledger).
 */
export async function ledgerNextOffsets(db: SqlDatabase, topics: string[]): Promise<Map<string, number>> {
  if (topics.length === 0) return new Map();
  const rows = await db.query<{ source: string; batch_id: string; rows_raw: string | number }>(
    `select source, batch_id, rows_raw from ops.batches
     where source in (${topics.map((_, index) => `$${index + 1}`).join(', ')})`,
    topics,
  );
  const next = new Map<string, number>();
  for (const row of rows) {
    const match = /_p(\d+)_o(\d+)$/.exec(row.batch_id);
    if (!match) continue;
    const partition = Number(match[1]);
    const firstOffset = Number(match[2]);
    // Only stream batch ids: the id must be exactly what the micro-batcher names.
    if (streamBatchId(row.source, partition, firstOffset) !== row.batch_id) continue;
    const end = firstOffset + Number(row.rows_raw);
    const key = slot(row.source, partition);
    next.set(key, Math.max(next.get(key) ?? 0, end));
  }
  return next;
}

/** The gaps of the given topics for a group with these committed offsets. */
export async function findRetentionGaps(
  stream: EventStream,
  topics: string[],
  committed: TopicPartitionOffset[],
  ledgerNext: Map<string, number>,
  newGroupStart: 'earliest' | 'latest' | 'ledger' = 'earliest',
): Promise<RetentionGap[]> {
  const committedAt = new Map(committed.map((entry) => [slot(entry.topic, entry.partition), entry.offset]));
  const gaps: RetentionGap[] = [];
  for (const topic of topics) {
    for (const { partition, offset: logStartOffset } of await stream.startOffsets(topic)) {
      const key = slot(topic, partition);
      const fromCommitted = committedAt.get(key);
      const fromLedger = ledgerNext.get(key);
      const [expectedOffset, basis]: [number, RetentionGap['basis']] =
        fromCommitted !== undefined
          ? [fromCommitted, 'committed']
          : fromLedger !== undefined
            ? [fromLedger, 'ledger']
            : [0, 'none'];
      // A group told to start at the end skips what came before on purpose: nothing it expected is missing.
      if (basis === 'none' && newGroupStart === 'latest') continue;
      if (logStartOffset > expectedOffset) {
        gaps.push({
          topic,
          partition,
          expectedOffset,
          logStartOffset,
          eventsLost: logStartOffset - expectedOffset,
          basis,
        });
      }
    }
  }
  return gaps;
}

/**
 * The check both stream paths run before consuming: the group's committed offsets against the partitions' log start
 * offsets. Logs each gap; new ones are recorded and raised (recordRetentionGaps). Consumption then goes on from the
 * oldest event still kept: holding back every later event would not bring the deleted ones back.
 */
export async function checkRetentionGaps(
  context: JobContext,
  consumer: StreamConsumer,
  topics: string[],
): Promise<RetentionGap[]> {
  // Nothing ever trimmed (a fresh topic, the embedded log): no gap is possible, and the warehouse is not needed.
  const starts = await Promise.all(topics.map((topic) => context.stream().startOffsets(topic)));
  if (starts.flat().every((start) => start.offset === 0)) return [];
  const db = await context.warehouse();
  const gaps = await findRetentionGaps(
    context.stream(),
    topics,
    await consumer.committed(),
    await ledgerNextOffsets(db, topics),
    context.config.STREAM_START_POSITION,
  );
  for (const gap of gaps)
    context.log.error({ job: 'stream-ingest', ...gap }, 'events deleted by retention before they were read');
  return recordRetentionGaps(db, gaps, {
    runId: context.runId,
    now: context.now(),
    groupId: context.config.STREAM_GROUP_ID,
  });
}

/**
 * `STREAM_START_POSITION=ledger`: a consumer group with no committed offset for a partition (a new group name, a
 * group whose offsets expired) starts where the ledger says the pipeline stopped reading it, the offset after its
 * last recorded batch, instead of re-reading everything kept or skipping to the end. Run before the group's first
 * consumer joins. When they cannot be set (the broker refuses for a group with live members), the partitions keep the
 * adapter's start (the oldest event kept), which replays batches idempotently. Returns the offsets set.
 */
export async function startNewGroupFromLedger(
  context: JobContext,
  topics: string[],
): Promise<TopicPartitionOffset[]> {
  if (context.config.STREAM_START_POSITION !== 'ledger') return [];
  const stream = context.stream();
  const groupId = context.config.STREAM_GROUP_ID;
  const committed = new Set(
    (await stream.groupOffsets(groupId, topics)).map((entry) => slot(entry.topic, entry.partition)),
  );
  const ledger = await ledgerNextOffsets(await context.warehouse(), topics);
  const seeds = [...ledger]
    .filter(([key]) => !committed.has(key))
    .map(([key, offset]) => {
      const [topic = '', partition = '0'] = key.split('\u0000');
      return { topic, partition: Number(partition), offset };
    });
  if (seeds.length === 0) return [];
  try {
    await stream.setGroupOffsets(groupId, seeds);
  } catch (error) {
    context.log.warn(
      { job: 'stream-ingest', groupId, error: (error as Error).message },
      'could not start the group from the ledger; its partitions without offsets start at the oldest event kept',
    );
    return [];
  }
  context.log.info(
    { job: 'stream-ingest', groupId, offsets: seeds },
    'new consumer group started from the ledger',
  );
  return seeds;
}
