import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { run as runBatchesTool } from '../jobs/batches/index.ts';
import { generate } from '../jobs/generate/generate.ts';
import { generateStoreData } from '../jobs/generate/store-data.ts';
import { RETENTION_GAP_CHECK } from '../jobs/ops/stream-gaps.ts';
import { runQuality } from '../jobs/quality/index.ts';
import { runStreamIngest } from '../jobs/stream-ingest/index.ts';
import { findRetentionGaps, ledgerNextOffsets } from '../jobs/stream-ingest/retention-gaps.ts';
import { runWatchdog } from '../jobs/watchdog/index.ts';
import { streamRetentionChecks } from '../jobs/watchdog/stream-retention.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { openServerPlatform, type ServerPlatform, TEST_AS_OF } from './harness.ts';

/**
 * Retention on the real broker: the broker's retention deletes a partition's oldest messages by moving its log start
 * offset forward. `deleteTopicRecords` moves it exactly there (the same DeleteRecords a retention-driven trim
 * amounts to for a reader), so the number of events lost is known to the event.
 */
describe('events deleted by retention before they were read', () => {
  let platform: ServerPlatform;
  let kafka: Kafka;
  const topic = 'clickstream';
  const physical = () => `${platform.settings.STREAM_TOPIC_PREFIX}${topic}`;
  const publish = (count: number, from: number) =>
    platform.stream.publish(
      topic,
      Array.from({ length: count }, (_, index) => ({
        key: `session-${from + index}`,
        value: JSON.stringify({ event_id: `e-${from + index}` }),
      })),
    );

  beforeAll(async () => {
    platform = await openServerPlatform('gaps', { stream: 'kafka', source: 'pglite' });
    kafka = new Kafka({ brokers: [loadServiceEnv().TEST_KAFKA_BROKERS], logLevel: logLevel.NOTHING });
  }, 120_000);
  afterAll(async () => {
    await platform?.dispose();
  });

  it('finds the exact count after the group fell behind retention, raises it once, and reads on', async () => {
    const context = platform.context();
    await runStreamIngest(context); // creates the topics
    await publish(120, 0);
    expect((await runStreamIngest(context)).reduce((sum, batch) => sum + batch.events, 0)).toBe(120);
    const committed = await platform.stream.endOffsets(topic);

    // While the group is away, more events arrive and retention deletes the oldest of them on one partition.
    await publish(90, 120);
    const ends = await platform.stream.endOffsets(topic);
    const trimmed = ends.find((end, index) => end.offset - (committed[index]?.offset ?? 0) >= 5);
    if (!trimmed) throw new Error('no partition got at least 5 new events');
    const before = committed.find((entry) => entry.partition === trimmed.partition)?.offset ?? 0;
    const logStart = trimmed.offset - 2; // keep the last two events
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [physical()] }); // deleteTopicRecords needs the leaders known
    await admin.deleteTopicRecords({
      topic: physical(),
      partitions: [{ partition: trimmed.partition, offset: String(logStart) }],
    });
    await admin.disconnect();
    expect((await platform.stream.startOffsets(topic))[trimmed.partition]?.offset).toBe(logStart);

    const resumed = await runStreamIngest(context);
    const lost = logStart - before;
    const newEvents = ends.reduce((sum, end, index) => sum + end.offset - (committed[index]?.offset ?? 0), 0);
    expect(resumed.reduce((sum, batch) => sum + batch.events, 0)).toBe(newEvents - lost);

    const gaps = await platform.warehouse.query<Record<string, unknown>>(
      'select topic, partition_id, expected_offset, log_start_offset, events_lost, basis from ops.stream_gaps',
    );
    expect(gaps).toEqual([
      {
        topic,
        partition_id: trimmed.partition,
        expected_offset: before,
        log_start_offset: logStart,
        events_lost: lost,
        basis: 'committed',
      },
    ]);
    const findings = await platform.warehouse.query<{
      severity: string;
      status: string;
      failing_rows: number;
      details: string;
    }>('select severity, status, failing_rows, details from ops.dq_findings where check_type = $1', [
      RETENTION_GAP_CHECK,
    ]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'blocking', status: 'fail', failing_rows: lost });
    expect(findings[0]?.details).toContain(`${lost} events of ${topic} partition ${trimmed.partition}`);
    const incidents = await platform.warehouse.query<{ status: string; severity: string }>(
      'select status, severity from ops.incidents where check_type = $1',
      [RETENTION_GAP_CHECK],
    );
    expect(incidents).toEqual([{ status: 'open', severity: 'critical' }]);

    // The next drain is past the gap: nothing new is raised, and the incident stays open (the loss is permanent).
    await runStreamIngest(context);
    const [again] = await platform.warehouse.query<{ n: number }>(
      'select cast(count(*) as integer) as n from ops.stream_gaps',
    );
    expect(again?.n).toBe(1);

    // Until acknowledged, the bronze gate fails on the gap, so what is built from the topic is held back.
    const gapName = `${topic}:p${trimmed.partition}:o${before}`;
    const gate = async () =>
      (await runQuality(platform.context(), 'bronze')).filter(
        (finding) => finding.checkType === RETENTION_GAP_CHECK,
      );
    expect(await gate()).toEqual([
      expect.objectContaining({
        checkId: `${RETENTION_GAP_CHECK}:${gapName}`,
        tableName: 'bronze.clickstream_events',
        severity: 'blocking',
        passed: false,
        failingRows: lost,
      }),
    ]);
    const tool = async (options: Parameters<typeof runBatchesTool>[1]) => {
      const lines: string[] = [];
      const errors: string[] = [];
      const code = await runBatchesTool(
        platform.context(),
        options,
        (line) => lines.push(line),
        (line) => errors.push(line),
      );
      return { code, lines, errors };
    };
    const listed = await tool({ action: 'gaps' });
    expect(listed.lines[0]).toMatch(new RegExp(`^${gapName} .* ${lost} events lost .*OPEN$`));
    const wrong = await tool({ action: 'acknowledge-gap', gap: `${topic}:p9:o0`, reason: 'resent' });
    expect(wrong.code).toBe(2);
    expect(wrong.errors[0]).toContain(`no open retention gap ${topic}:p9:o0; open gaps: ${gapName}`);
    const blank = await tool({ action: 'acknowledge-gap', gap: gapName, reason: '  ' });
    expect(blank.code).toBe(2);
    const acknowledged = await tool({
      action: 'acknowledge-gap',
      gap: gapName,
      reason: 'producer replayed the window',
    });
    expect(acknowledged.code).toBe(0);
    expect(await gate()).toEqual([]);
    const [audit] = await platform.warehouse.query<{ acknowledge_reason: string; acknowledged_at: unknown }>(
      'select acknowledge_reason, acknowledged_at from ops.stream_gaps',
    );
    expect(audit?.acknowledge_reason).toBe('producer replayed the window');
    expect(audit?.acknowledged_at).not.toBeNull();
    expect(
      await platform.warehouse.query('select status from ops.incidents where check_type = $1', [
        RETENTION_GAP_CHECK,
      ]),
    ).toEqual([{ status: 'resolved' }]);
    const again2 = await tool({ action: 'acknowledge-gap', gap: gapName, reason: 'twice' });
    expect(again2.code).toBe(2);

    // A group with no committed offset: measured from the ledger's last batch of the partition, else from offset 0.
    const ledger = await ledgerNextOffsets(platform.warehouse, [topic]);
    const fromLedger = await findRetentionGaps(platform.stream, [topic], [], ledger);
    expect(fromLedger).toEqual([]); // the ledger has read up to the end: nothing missing for this pipeline
    const fromNothing = await findRetentionGaps(platform.stream, [topic], [], new Map());
    expect(fromNothing).toContainEqual({
      topic,
      partition: trimmed.partition,
      expectedOffset: 0,
      logStartOffset: logStart,
      eventsLost: logStart,
      basis: 'none',
    });
  }, 180_000);

  it('starts a new consumer group where the ledger stopped reading, with STREAM_START_POSITION=ledger', async () => {
    await runStreamIngest(platform.context()); // the pipeline's own group is up to date
    await publish(7, 1_000);
    const settings = {
      STREAM_GROUP_ID: `${platform.settings.STREAM_GROUP_ID}-renamed`,
      STREAM_START_POSITION: 'ledger',
    };
    const renamed = await runStreamIngest(platform.context({ settings }));
    // Only what the ledger has not seen: the 7 new events, none of the earlier ones again, and no gap.
    expect(renamed.reduce((sum, batch) => sum + batch.events, 0)).toBe(7);
    expect(await platform.stream.groupOffsets(settings.STREAM_GROUP_ID, [topic])).toEqual(
      await platform.stream.endOffsets(topic),
    );
    const [gaps] = await platform.warehouse.query<{ n: number }>(
      'select cast(count(*) as integer) as n from ops.stream_gaps where group_id = $1',
      [settings.STREAM_GROUP_ID],
    );
    expect(gaps?.n).toBe(0);
  }, 120_000);

  it('warns while unread events near the retention, before the broker deletes them', async () => {
    const probe = `retention-probe-${Date.now()}`;
    await platform.stream.ensureTopics([{ name: probe, partitions: 1, retentionMs: 3_600_000 }]);
    expect(await platform.stream.retentionMs(probe)).toBe(3_600_000);
    const now = new Date();
    const minutesAgo = (minutes: number) => now.getTime() - minutes * 60_000;
    await platform.stream.publish(probe, [
      ...Array.from({ length: 5 }, (_, index) => ({
        key: 'k',
        value: `old-${index}`,
        timestamp: minutesAgo(40),
      })),
      ...Array.from({ length: 3 }, (_, index) => ({
        key: 'k',
        value: `new-${index}`,
        timestamp: minutesAgo(10),
      })),
    ]);
    const group = `${platform.settings.STREAM_GROUP_ID}-probe`;
    await platform.stream.setGroupOffsets(group, [{ topic: probe, partition: 0, offset: 2 }]);
    const check = () =>
      streamRetentionChecks(platform.stream, { groupId: group, topics: [probe], now, alertShare: 0.5 });
    // Three events 40 minutes old are unread: past half of the one-hour retention.
    const [behind] = await check();
    expect(behind).toMatchObject({ passed: false, failingRows: 3, severity: 'critical' });
    expect(behind?.details).toContain(
      `3 events of ${probe} older than 0.5 h are still unread by group ${group} (p0: 3 from offset 2)`,
    );
    await platform.stream.setGroupOffsets(group, [{ topic: probe, partition: 0, offset: 5 }]);
    expect((await check())[0]).toMatchObject({ passed: true, failingRows: 0 });

    // The pipeline's own topics and group, as the hourly watchdog runs it: read up to date, nothing at risk.
    const watchdog = await runWatchdog(platform.context(), { router: null });
    expect(watchdog.findings.filter((finding) => finding.checkType === 'stream_retention')).toEqual([
      expect.objectContaining({ checkId: 'watchdog:stream_retention:clickstream', passed: true }),
      expect.objectContaining({ checkId: 'watchdog:stream_retention:order-events', passed: true }),
    ]);
  }, 120_000);

  it("creates the generator's topics with a retention covering its history, and counts what an older topic loses", async () => {
    const day = 24 * 3_600_000;
    const prefix = `generated-${Date.now()}.`;
    const stream = withTopicPrefix(openKafkaStream(`kafka://${loadServiceEnv().TEST_KAFKA_BROKERS}`), prefix);
    try {
      const now = new Date();
      const options = { db: platform.source, stream, seed: 7, scale: 0.05, asOf: TEST_AS_OF, now };
      // The history is 30 days before an as-of two months back: a 7-day topic would drop every event of it.
      const first = await generate(options);
      expect(first.trimmedByRetention).toEqual([]);
      const oldest = Math.min(...generateStoreData(options).events.map((event) => event.timestamp));
      expect(oldest).toBeLessThan(now.getTime() - 60 * day);
      for (const topic of ['clickstream', 'order-events'])
        expect(await stream.retentionMs(topic)).toBe(now.getTime() - oldest + 7 * day);

      // A topic its owner keeps 3 days: the generator says how many of its events the broker will delete unread.
      const admin = kafka.admin();
      await admin.connect();
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: 2, // TOPIC
            name: `${prefix}clickstream`,
            configEntries: [{ name: 'retention.ms', value: String(3 * day) }],
          },
        ],
      });
      await admin.disconnect();
      const again = await generate({ ...options, replace: true });
      expect(again.trimmedByRetention).toEqual([
        { topic: 'clickstream', retentionMs: 3 * day, events: again.counts.clickstream },
      ]);
    } finally {
      await stream.close();
    }
  }, 120_000);
});
