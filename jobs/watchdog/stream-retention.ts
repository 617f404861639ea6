/**
 * The watchdog's early warning for retention gaps (jobs/ops/stream-gaps.ts reports them once they happened): per
 * topic, the oldest event the pipeline's consumer group has not read yet against the topic's retention. When that
 * event is older than STREAM_RETENTION_ALERT_SHARE of the retention (half, by default), the broker will delete it
 * unread unless ingestion catches up, so an incident opens while there is still time. It reads the group's committed
 * offsets and the offsets by time from the broker (describe only: the watchdog never joins the group, which would
 * rebalance the stream service), so it works when the stream service is the thing that is down.
 */
import type { EventStream } from '../../adapters/stream/event-stream.ts';
import { OWNERS } from '../alerts/owners.ts';
import type { WatchdogFinding } from './checks.ts';

export const STREAM_RETENTION_CHECK = 'watchdog:stream_retention';

const hours = (ms: number) => `${Math.round((ms / 3_600_000) * 10) / 10} h`;

export async function streamRetentionChecks(
  stream: EventStream,
  options: { groupId: string; topics: string[]; now: Date; alertShare: number },
): Promise<WatchdogFinding[]> {
  const findings: WatchdogFinding[] = [];
  for (const topic of options.topics) {
    const finding = {
      checkId: `${STREAM_RETENTION_CHECK}:${topic}`,
      checkType: 'stream_retention' as const,
      tableName: topic,
      layer: 'bronze',
      owner: OWNERS.platform,
      severity: 'critical' as const,
    };
    try {
      findings.push({ ...finding, ...(await topicAtRisk(stream, topic, options)) });
    } catch (error) {
      findings.push({
        ...finding,
        passed: false,
        failingRows: 0,
        details: `check failed: ${(error as Error).message}`.slice(0, 1000),
      });
    }
  }
  return findings;
}

async function topicAtRisk(
  stream: EventStream,
  topic: string,
  options: { groupId: string; now: Date; alertShare: number },
): Promise<Pick<WatchdogFinding, 'passed' | 'failingRows' | 'details'>> {
  const retention = await stream.retentionMs(topic);
  if (retention === null) return { passed: true, failingRows: 0, details: `${topic} keeps every event` };
  const horizonMs = retention * options.alertShare;
  const horizon = new Date(options.now.getTime() - horizonMs);
  const committed = await stream.groupOffsets(options.groupId, [topic]);
  const newerThanHorizon = await stream.offsetsAt(topic, horizon);
  // A partition the group never committed is a new group's concern: the retention-gap check measures it from the
  // ledger when the group first reads.
  const atRisk = committed.flatMap(({ partition, offset }) => {
    const firstRecent = newerThanHorizon.find((entry) => entry.partition === partition)?.offset ?? offset;
    return firstRecent > offset ? [{ partition, events: firstRecent - offset, from: offset }] : [];
  });
  const events = atRisk.reduce((sum, entry) => sum + entry.events, 0);
  if (events === 0)
    return {
      passed: true,
      failingRows: 0,
      details: `group ${options.groupId} has read every ${topic} event older than ${hours(horizonMs)} (retention ${hours(retention)})`,
    };
  const partitions = atRisk
    .map((entry) => `p${entry.partition}: ${entry.events} from offset ${entry.from}`)
    .join(', ');
  return {
    passed: false,
    failingRows: events,
    details:
      `${events} events of ${topic} older than ${hours(horizonMs)} are still unread by group ${options.groupId} ` +
      `(${partitions}); the topic keeps events ${hours(retention)}, after which the broker deletes them unread. ` +
      'Get stream-ingest consuming again (docs/streaming.md, Retention gaps)',
  };
}
