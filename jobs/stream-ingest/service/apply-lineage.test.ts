import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalStore } from '../../../adapters/storage/local.ts';
import { loadConfig } from '../../config.ts';
import { createJobContext } from '../../context.ts';
import { useLineageSink } from '../../lineage/emitter.ts';
import { memoryLineageSink } from '../../lineage/sink.ts';
import { loadModels } from '../../models/models.ts';
import type { PendingStreamBatch } from '../../ops/batches.ts';
import { applyLineage } from './apply-lineage.ts';

function setup(intervalMs: number) {
  const folder = mkdtempSync(join(tmpdir(), 'apply-lineage-'));
  const context = createJobContext(loadConfig({ LAKE_URL: `file://${folder}/lake`, LOG_LEVEL: 'silent' }), {
    shared: { lake: openLocalStore(`file://${folder}/lake`) },
  });
  const sink = memoryLineageSink();
  useLineageSink(context, sink);
  return { sink, lineage: applyLineage(context, loadModels(), intervalMs) };
}

const batch = (source: string, rows: number, at: string) =>
  ({ batch_id: `${source}-${at}`, source, rows_raw: rows, extracted_at: new Date(at) }) as PendingStreamBatch;

/** Output row counts of the COMPLETE events, by job and dataset name. */
const counts = (events: ReturnType<typeof memoryLineageSink>['events']) =>
  events
    .filter((event) => event.eventType === 'COMPLETE')
    .flatMap((event) =>
      event.outputs.map((output) => [
        `${event.job.name} ${output.name.split('/').slice(-2).join('/')}`,
        output.outputFacets?.outputStatistics?.rowCount,
      ]),
    );

describe("the stream service's lineage", () => {
  it('sums rounds and reports them once per interval and when flushed: topics into raw, raw into silver', async () => {
    const { sink, lineage } = setup(60_000);
    const startedAt = new Date('2026-10-01T10:00:05Z');
    await lineage.add(
      [
        {
          batch: batch('clickstream', 100, '2026-10-01T10:00:01Z'),
          staged: 98,
          quarantined: 2,
          deadLettered: 2,
        },
        {
          batch: batch('order-events', 10, '2026-10-01T10:00:02Z'),
          staged: 10,
          quarantined: 0,
          deadLettered: 0,
        },
      ],
      startedAt,
    );
    await lineage.add(
      [
        {
          batch: batch('clickstream', 50, '2026-10-01T10:00:03Z'),
          staged: 50,
          quarantined: 0,
          deadLettered: 0,
        },
      ],
      new Date('2026-10-01T10:00:06Z'),
    );
    expect(sink.events).toEqual([]);
    await lineage.flush();
    const jobs = sink.events.filter((event) => event.eventType === 'COMPLETE').map((event) => event.job.name);
    expect(jobs).toEqual([
      'stream-ingest',
      'stream-ingest.apply.clickstream',
      'stream-ingest.apply.order-events',
    ]);
    expect(counts(sink.events)).toEqual(
      expect.arrayContaining([
        ['stream-ingest raw/source=clickstream', 150],
        ['stream-ingest raw/source=order-events', 10],
        ['stream-ingest.apply.clickstream staging/source=clickstream', 148],
        ['stream-ingest.apply.clickstream quarantine/source=clickstream', 2],
        ['stream-ingest.apply.clickstream dead-letter', 2],
        ['stream-ingest.apply.clickstream postgres.bronze.clickstream_events', 148],
        ['stream-ingest.apply.clickstream postgres.silver.clickstream_events', undefined],
      ]),
    );
    const ingest = sink.events.find(
      (event) => event.job.name === 'stream-ingest' && event.eventType === 'START',
    );
    expect(ingest?.eventTime).toBe('2026-10-01T10:00:01.000Z');
    // Nothing new: a flush reports nothing again.
    const before = sink.events.length;
    await lineage.flush();
    expect(sink.events.length).toBe(before);
  });

  it('reports at once when the interval has passed', async () => {
    const { sink, lineage } = setup(0);
    await lineage.add(
      [
        {
          batch: batch('clickstream', 5, '2026-10-01T10:00:01Z'),
          staged: 5,
          quarantined: 0,
          deadLettered: 0,
        },
      ],
      new Date(),
    );
    expect(sink.events.some((event) => event.job.name === 'stream-ingest.apply.clickstream')).toBe(true);
  });
});
