import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { openLocalStore } from '../adapters/storage/local.ts';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { openPglite } from '../adapters/warehouse/pglite.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext } from '../jobs/context.ts';
import { realtimeKpiDrift } from '../jobs/kpis/realtime.ts';
import { openRawObject, type RawEnvelope } from '../jobs/lake/raw-batch.ts';
import { topicDatasetOf, warehouseDataset } from '../jobs/lineage/datasets.ts';
import { lineagePath, readLineageEvents } from '../jobs/lineage/graph.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { startService, waitFor } from './stream-harness.ts';

const CLI = new URL('../jobs/cli.ts', import.meta.url).pathname;
const HEALTHCHECK = new URL('../jobs/healthcheck.ts', import.meta.url).pathname;

function event(index: number, padding = 0): string {
  return JSON.stringify({
    event_id: `svc-${index}`,
    event_type: 'page_view',
    occurred_at: new Date(Date.UTC(2026, 9, 1, 10, 0, index % 60)).toISOString(),
    session_id: `s-${index % 17}`,
    device: 'web',
    ...(padding > 0 ? { page_url: `https://shop.example/${'p'.repeat(padding)}` } : {}),
  });
}

/** How many members a group has, which partitions they hold, and whether any partition is held twice. */
async function groupAssignment(brokers: string, groupId: string) {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const members = groups[0]?.members ?? [];
    const held = members.flatMap((member) => {
      const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      return Object.entries(decoded?.assignment ?? {}).flatMap(([topic, partitions]) =>
        partitions.map((partition) => `${topic}/${partition}`),
      );
    });
    return {
      members: members.length,
      partitions: [...new Set(held)].sort(),
      shared: new Set(held).size !== held.length,
    };
  } finally {
    await admin.disconnect();
  }
}

const MAX_EVENTS = 100;
const MAX_BYTES = 65_536;
const MAX_AGE_MS = 1_000;

describe('stream-ingest --follow (the long-running service) on the real broker', () => {
  it('exits 2 at start, naming PII_HASH_KEY, when a real broker runs without the PII key (no demo key there)', async () => {
    const services = loadServiceEnv();
    const folder = mkdtempSync(join(tmpdir(), 'stream-nokey-'));
    const prefix = `nokey-${Date.now().toString(36)}.`;
    try {
      const service = startService({
        LAKE_URL: `file://${folder}/lake`,
        STREAM_URL: `kafka://${services.TEST_KAFKA_BROKERS}`,
        STREAM_TOPIC_PREFIX: prefix,
        STREAM_GROUP_ID: `${prefix}group`,
        WAREHOUSE_URL: `pglite://${folder}/warehouse`,
        ECOMM_DEMO: '1',
        PII_HASH_KEY: '',
      });
      expect(await service.exited).toBe(2);
      expect(service.stderr()).toMatch(/PII_HASH_KEY: secret not found .*only for the laptop demo/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('ingests events in micro-batches closed on size or age, applies them to silver, reports health and lag, and on SIGTERM commits and exits 0', async () => {
    const services = loadServiceEnv();
    const folder = mkdtempSync(join(tmpdir(), 'stream-service-'));
    const prefix = `svc-${Date.now().toString(36)}.`;
    const env = {
      PATH: process.env.PATH ?? '',
      TMPDIR: folder,
      LAKE_URL: `file://${folder}/lake`,
      STREAM_URL: `kafka://${services.TEST_KAFKA_BROKERS}`,
      STREAM_TOPIC_PREFIX: prefix,
      STREAM_GROUP_ID: `${prefix}group`,
      WAREHOUSE_URL: `pglite://${folder}/warehouse`,
      PII_HASH_KEY: 'stream-service-test-key',
      STREAM_BATCH_MAX_EVENTS: String(MAX_EVENTS),
      STREAM_BATCH_MAX_BYTES: String(MAX_BYTES),
      STREAM_BATCH_MAX_AGE_MS: String(MAX_AGE_MS),
    };
    const producer = withTopicPrefix(openKafkaStream(`kafka://${services.TEST_KAFKA_BROKERS}`), prefix);
    await producer.ensureTopics([
      { name: 'clickstream', partitions: 3 },
      { name: 'order-events', partitions: 3 },
    ]);
    await producer.publish(
      'clickstream',
      Array.from({ length: 500 }, (_, i) => ({ key: `s-${i % 17}`, value: event(i) })),
    );

    const service = spawn(process.execPath, [CLI, 'stream-ingest', '--follow', '--health-port', '0'], {
      cwd: folder,
      env,
    });
    let stdout = '';
    let stderr = '';
    service.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    service.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => service.on('exit', (code) => resolve(code)));
    try {
      const base = await waitFor(
        async () => /health on (http:\/\/\S+)\/healthz/.exec(stdout)?.[1],
        'the health endpoint',
      );
      type Status = {
        ready: boolean;
        eventsWritten: number;
        totalLag: number;
        lastFlushAt: string | null;
        lag: unknown[];
        lagStale: boolean;
        backpressure: boolean;
        apply: {
          eventsApplied: number;
          quarantined: number;
          deadLettered: number;
          pendingBatches: number;
        } | null;
      };
      const status = async () => (await (await fetch(`${base}/status`)).json()) as Status;
      await waitFor(
        async () => ((await status()).eventsWritten === 500 ? true : undefined),
        '500 events written',
      );
      // The second wave is made of ~2 KB events: its batches close on bytes before they reach 100 events.
      await producer.publish(
        'clickstream',
        Array.from({ length: 300 }, (_, i) => ({ key: `s-${i % 17}`, value: event(500 + i, 2_000) })),
      );
      const settled = await waitFor(async () => {
        const now = await status();
        return now.eventsWritten === 800 && now.totalLag === 0 && !now.lagStale ? now : undefined;
      }, 'the second wave written and committed');
      expect(settled.ready).toBe(true);
      expect(settled.lastFlushAt).not.toBeNull();
      expect(settled.lag).toHaveLength(6);
      // STREAM_CONSUMERS (default 3) members in the group from this one process, sharing the six partitions.
      expect(await groupAssignment(services.TEST_KAFKA_BROKERS, env.STREAM_GROUP_ID)).toEqual({
        members: 3,
        partitions: [0, 1, 2]
          .flatMap((p) => [`${prefix}clickstream/${p}`, `${prefix}order-events/${p}`])
          .sort(),
        shared: false,
      });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const probe = spawnSync(process.execPath, [HEALTHCHECK], { env: { PATH: env.PATH, TMPDIR: folder } });
      expect(probe.status).toBe(0);

      // Age: an event arriving alone is written about STREAM_BATCH_MAX_AGE_MS later, not held for more.
      await waitFor(
        async () => ((await status()).apply?.eventsApplied === 800 ? true : undefined),
        'all applied',
      );
      const published = performance.now();
      await producer.publish('clickstream', [{ key: 'alone', value: event(800) }]);
      await waitFor(
        async () => ((await status()).eventsWritten === 801 ? true : undefined),
        'the lone event',
        10_000,
      );
      expect(performance.now() - published).toBeLessThan(MAX_AGE_MS + 3_000);
      const applied = await waitFor(async () => {
        const now = await status();
        return now.apply?.eventsApplied === 801 ? now : undefined;
      }, 'the lone event applied');
      expect(applied.apply).toMatchObject({ quarantined: 0, deadLettered: 0, pendingBatches: 0 });
      expect(applied.backpressure).toBe(false);

      const stoppedAt = performance.now();
      service.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      expect(performance.now() - stoppedAt).toBeLessThan(15_000);
      expect(stdout).toMatch(
        /stream-ingest stopped: 801 events in \d+ micro-batches; 801 events applied to silver/,
      );
    } finally {
      service.kill('SIGKILL');
      await producer.close();
    }
    const afterStop = spawnSync(process.execPath, [HEALTHCHECK], { env: { PATH: env.PATH, TMPDIR: folder } });
    expect(afterStop.status).toBe(0); // no service recorded any more: a batch job's container is healthy

    const warehouse = await openPglite(`pglite://${folder}/warehouse`);
    const [ledger] = await warehouse.query<{ rows: number }>(
      "select cast(sum(rows_raw) as integer) as rows from ops.batches where source = 'clickstream'",
    );
    expect(ledger?.rows).toBe(801);
    // Every event reached silver once (the service validated, loaded and applied each batch itself).
    const [silver] = await warehouse.query<{ n: number; ids: number }>(
      'select cast(count(*) as integer) as n, cast(count(distinct event_id) as integer) as ids from silver.clickstream_events',
    );
    expect(silver).toEqual({ n: 801, ids: 801 });
    const pending = await warehouse.query(
      "select batch_id from ops.batches where source_kind = 'stream' and (validated_at is null or loaded_at is null)",
    );
    expect(pending).toEqual([]);
    // The real-time KPIs were kept in the same rounds: 17 sessions, exactly what silver says.
    const [sessions] = await warehouse.query<{ n: number }>(
      'select cast(sum(sessions) as integer) as n from realtime.session_minutes',
    );
    expect(sessions?.n).toBe(17);
    expect(await realtimeKpiDrift(warehouse)).toEqual([]);

    // Size: no batch over STREAM_BATCH_MAX_EVENTS events or STREAM_BATCH_MAX_BYTES value bytes; both limits bind.
    const lake = openLocalStore(`file://${folder}/lake`);
    const sizes: { events: number; bytes: number }[] = [];
    for (const batch of await warehouse.query<{ raw_key: string; rows_raw: number }>(
      "select raw_key, cast(rows_raw as integer) as rows_raw from ops.batches where source = 'clickstream'",
    )) {
      expect(batch.raw_key).toMatch(
        /^raw\/source=clickstream\/ingestion_date=\d{4}-\d{2}-\d{2}\/clickstream_p\d_o\d{12}\.ndjson\.zst$/,
      );
      const envelopes: RawEnvelope[] = [];
      const body = await openRawObject(lake, batch.raw_key);
      for await (const line of createInterface({ input: body })) if (line) envelopes.push(JSON.parse(line));
      expect(envelopes).toHaveLength(batch.rows_raw);
      sizes.push({
        events: envelopes.length,
        bytes: envelopes.reduce((sum, envelope) => sum + Buffer.byteLength(envelope.value ?? ''), 0),
      });
    }
    expect(sizes.every((size) => size.events <= MAX_EVENTS && size.bytes <= MAX_BYTES)).toBe(true);
    expect(sizes.some((size) => size.events === MAX_EVENTS)).toBe(true);
    expect(sizes.some((size) => size.events < MAX_EVENTS && size.bytes > MAX_BYTES - 2_100)).toBe(true);

    // Lineage (to the lake by default): the service's run links the topic to silver through raw/ and bronze, and
    // the applied steps count every event once.
    const events = await readLineageEvents(lake);
    const context = createJobContext(loadConfig(env), { shared: { lake } });
    const path = lineagePath(
      events,
      topicDatasetOf(context, 'clickstream'),
      warehouseDataset(context, 'silver.clickstream_events'),
    );
    expect(path?.map((edge) => edge.job)).toEqual(['stream-ingest', 'stream-ingest.apply.clickstream']);
    const applied = events.filter(
      (lineage) => lineage.eventType === 'COMPLETE' && lineage.job.name === 'stream-ingest.apply.clickstream',
    );
    const bronzeRows = applied
      .flatMap((lineage) => lineage.outputs)
      .filter((output) => output.name.endsWith('bronze.clickstream_events'))
      .reduce((sum, output) => sum + (output.outputFacets?.outputStatistics?.rowCount ?? 0), 0);
    expect(bronzeRows).toBe(801);
    expect(applied.every((lineage) => lineage.run.facets?.parent?.job.name === 'stream-ingest')).toBe(true);
    await warehouse.close();
    rmSync(folder, { recursive: true, force: true });
  });
});
