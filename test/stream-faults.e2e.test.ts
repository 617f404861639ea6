/**
 * The stream service under faults, against a real Kafka broker: a private single-node Kafka started from the test
 * services' jars with their broker settings (scripts/services/kafka-node.ts), so this suite can restart it and use
 * 2 s group sessions without disturbing the suites that share the services' broker; PostgreSQL (a database per
 * test) as the warehouse; a local folder, or moto's S3 API behind a fault proxy, as the lake.
 *
 * Each test ends with the same checks: every produced event is in raw/ at least once (and raw/ covers every offset
 * of every partition), silver holds every produced event id exactly once and nothing else, a full rebuild of the
 * silver models gives the same rows, every batch reconciles (raw = staged + quarantined = loaded = in bronze),
 * the group's committed offsets are the end offsets, and the real-time KPI tables equal their recomputation from
 * silver.
 *
 * STREAM_FAULT_SEED replays the crash test's random kill moments; STREAM_FAULT_TRIALS changes their number.
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../adapters/storage/fault-proxy.ts';
import { openLocalStore } from '../adapters/storage/local.ts';
import type { ObjectStore } from '../adapters/storage/object-store.ts';
import { openS3Store } from '../adapters/storage/s3.ts';
import type { EventStream, OutgoingMessage } from '../adapters/stream/event-stream.ts';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { realtimeKpiDrift } from '../jobs/kpis/realtime.ts';
import { buildModels } from '../jobs/models/build.ts';
import { loadModels } from '../jobs/models/models.ts';
import { ensureWarehouseSchema } from '../jobs/ops/warehouse-schema.ts';
import { ledgerChecks } from '../jobs/quality/ledger-checks.ts';
import { DEAD_LETTER_HEADERS } from '../jobs/stream-ingest/service/dead-letter.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { type KafkaNode, startKafkaNode } from '../scripts/services/kafka-node.ts';
import {
  clickEvent,
  committedOffsets,
  createTestDatabase,
  orderEvent,
  type RunningService,
  rawCoverage,
  rawEnvelopes,
  rawEventIds,
  seededRandom,
  silverCounts,
  startService,
  waitFor,
} from './stream-harness.ts';

const services = loadServiceEnv();
const TOPICS = ['clickstream', 'order-events'];
const SILVER = { clickstream: 'silver.clickstream_events', 'order-events': 'silver.order_events' } as const;
let node: KafkaNode;
const running: RunningService[] = [];

beforeAll(async () => {
  node = await startKafkaNode(mkdtempSync(join(tmpdir(), 'stream-faults-kafka-')));
}, 180_000);

afterAll(async () => {
  for (const service of running) service.child.kill('SIGKILL');
  await node?.dispose();
});

/**
 * The events the fault tests publish, varied so the real-time KPIs have something to count: spread over the last
 * 30 minutes, orders created with a total (contract v2) or cancelled, sessions that end in a purchase. A double or
 * a lost application shows in the KPI drift check.
 */
function kpiClickEvent(id: string, at: Date): string {
  const n = idNumber(id);
  return clickEvent(id, minutesBefore(at, n % 30), {
    session_id: `s-${n % 97}`,
    event_type: n % 11 === 0 ? 'purchase' : 'page_view',
  });
}

function kpiOrderEvent(id: string, at: Date, orderId: number): string {
  const n = idNumber(id);
  if (n % 5 === 0) return orderEvent(id, minutesBefore(at, n % 30), orderId);
  return JSON.stringify({
    event_id: id,
    event_type: n % 3 === 0 ? 'order_status_changed' : 'order_created',
    occurred_at: minutesBefore(at, n % 30).toISOString(),
    order_id: orderId,
    status: n % 3 === 0 ? 'cancelled' : 'pending',
    schema_version: 2,
    order_total: (n % 50) * 3.25,
    currency: ['USD', 'EUR', 'GBP'][n % 3],
  });
}

function idNumber(id: string): number {
  return Number(/\d+$/.exec(id)?.[0] ?? id.length);
}

function minutesBefore(at: Date, minutes: number): Date {
  return new Date(at.getTime() - minutes * 60_000);
}

/** One test's world: topics under a fresh prefix, a consumer group, a warehouse database, a lake. */
async function world(label: string, lakeUrl?: (folder: string) => string) {
  const prefix = `${label}-${randomInt(1e9).toString(36)}.`;
  const folder = mkdtempSync(join(tmpdir(), `stream-faults-${label}-`));
  const database = await createTestDatabase(`faults_${label}`);
  const stream = withTopicPrefix(
    openKafkaStream(`kafka://${node.brokers}?clientId=fault-producer&retries=8&initialRetryTime=200`),
    prefix,
  );
  await stream.ensureTopics(TOPICS.map((name) => ({ name, partitions: 3 })));
  const warehouse = await openPostgres(database.url);
  await ensureWarehouseSchema(warehouse);
  const env: Record<string, string> = {
    LAKE_URL: lakeUrl ? lakeUrl(folder) : `file://${folder}/lake`,
    // 2 s sessions (the private broker allows them): a SIGKILLed member's partitions move on quickly.
    STREAM_URL: `kafka://${node.brokers}?clientId=fault-service&sessionTimeout=2000&heartbeatInterval=300&rebalanceTimeout=5000&retries=4&initialRetryTime=100`,
    STREAM_TOPIC_PREFIX: prefix,
    STREAM_GROUP_ID: `${prefix}group`,
    WAREHOUSE_URL: database.url,
    STREAM_BATCH_MAX_EVENTS: '150',
    STREAM_BATCH_MAX_AGE_MS: '250',
    STREAM_BACKOFF_MAX_MS: '500',
    ECOMM_SHUTDOWN_GRACE_SECONDS: '20',
    AWS_ACCESS_KEY_ID: services.TEST_S3_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: services.TEST_S3_SECRET_ACCESS_KEY,
    AWS_REGION: services.TEST_S3_REGION,
  };
  const start = (overrides: Record<string, string> = {}) => {
    const service = startService({ ...env, ...overrides });
    running.push(service);
    return service;
  };
  return {
    prefix,
    folder,
    env,
    stream,
    warehouse,
    start,
    lake: openLocalStore(`file://${folder}/lake`) as ObjectStore,
    async dispose() {
      await warehouse.close();
      await stream.close();
      await database.dispose();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
type World = Awaited<ReturnType<typeof world>>;

/** Publishes until the broker takes it (a publish during a broker restart is simply tried again). */
async function publish(stream: EventStream, topic: string, messages: OutgoingMessage[]): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await stream.publish(topic, messages);
      return;
    } catch (error) {
      if (attempt >= 60) throw error;
      await sleep(250);
    }
  }
}

/** Publishes planned messages in small chunks over time, in the background. */
function trickle(stream: EventStream, topic: string, messages: OutgoingMessage[], chunk = 50, everyMs = 100) {
  let stopped = false;
  const done = (async () => {
    for (let start = 0; start < messages.length && !stopped; start += chunk) {
      await publish(stream, topic, messages.slice(start, start + chunk));
      await sleep(everyMs);
    }
  })();
  return { done, stop: () => (stopped = true) };
}

/**
 * Publishes generated messages in small chunks until stopped, in the background: for tests that must keep events
 * flowing until something has happened. `ids` holds the event id of every message published.
 */
function flow(
  stream: EventStream,
  topic: string,
  make: (index: number) => { id: string; message: OutgoingMessage },
  chunk: number,
  everyMs: number,
) {
  const ids = new Set<string>();
  let stopped = false;
  let index = 0;
  const done = (async () => {
    while (!stopped) {
      const made = Array.from({ length: chunk }, () => make(index++));
      await publish(
        stream,
        topic,
        made.map(({ message }) => message),
      );
      for (const { id } of made) ids.add(id);
      await sleep(everyMs);
    }
  })();
  return {
    ids,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/**
 * Waits until the service has committed everything and the ledger holds no batch left to apply (read from the
 * warehouse: the service's own counters lag a round behind), then stops it with SIGTERM.
 */
async function finish(service: RunningService, warehouse: SqlDatabase, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    async () => {
      const status = await service.status();
      // Fresh figures only: a stale (last known) lag could predate the last events produced.
      if (status.lagStale || status.totalLag !== 0 || status.lag.length !== 6) return undefined;
      const [pending] = await warehouse.query<{ n: number }>(
        "select cast(count(*) as integer) as n from ops.batches where source_kind = 'stream' and loaded_at is null",
      );
      return pending?.n === 0 ? true : undefined;
    },
    'every event committed and applied',
    timeoutMs,
    200,
  );
  service.child.kill('SIGTERM');
  expect(await service.exited, service.stderr().slice(-3000)).toBe(0);
}

/** The guarantees every fault test ends with (see the header). */
async function expectDeliveredExactlyOnce(
  w: World,
  produced: Record<'clickstream' | 'order-events', Set<string>>,
  lake: ObjectStore = w.lake,
): Promise<void> {
  const topics = ['clickstream', 'order-events'] as const;
  for (const topic of topics) {
    const envelopes = await rawEnvelopes(lake, topic);
    const inRaw = rawEventIds(envelopes);
    const missing = [...produced[topic]].filter((id) => !inRaw.has(id));
    expect(missing, `${topic}: produced events missing from raw/`).toEqual([]);
    const ends = await w.stream.endOffsets(topic);
    const coverage = rawCoverage(envelopes);
    for (const end of ends)
      expect(coverage.get(end.partition) ?? 0, `${topic} p${end.partition} in raw/`).toBe(end.offset);

    const counts = await silverCounts(w.warehouse, SILVER[topic]);
    const doubled = [...counts].filter(([, n]) => n !== 1);
    expect(doubled, `${topic}: event ids in silver more than once`).toEqual([]);
    expect([...counts.keys()].sort(), `${topic}: silver holds exactly the produced events`).toEqual(
      [...produced[topic]].sort(),
    );
  }
  const committed = await committedOffsets(
    node.brokers,
    `${w.prefix}group`,
    TOPICS.map((t) => `${w.prefix}${t}`),
  );
  for (const topic of topics) {
    for (const end of await w.stream.endOffsets(topic)) {
      const entry = committed.find((c) => c.topic === `${w.prefix}${topic}` && c.partition === end.partition);
      expect(entry?.offset ?? 0, `${topic} p${end.partition} committed`).toBe(end.offset);
    }
  }
  const reconciliation = (await ledgerChecks(w.warehouse, new Date())).filter(
    (finding) => finding.checkType === 'row_count_reconciliation',
  );
  expect(reconciliation.filter((finding) => !finding.passed)).toEqual([]);
  // The real-time KPIs changed in the same transactions as silver: exactly what a recomputation from silver gives.
  expect(await realtimeKpiDrift(w.warehouse), 'realtime KPIs differ from silver').toEqual([]);
  // Incremental silver equals a full rebuild with the same model SQL.
  const snapshot = async (table: string) =>
    (await w.warehouse.query(`select t::text as row_text from ${table} t order by 1`)).map(
      (row) => row.row_text,
    );
  const before = [await snapshot(SILVER.clickstream), await snapshot(SILVER['order-events'])];
  await buildModels(w.warehouse, loadModels(), { vars: {}, only: Object.values(SILVER) });
  expect([await snapshot(SILVER.clickstream), await snapshot(SILVER['order-events'])]).toEqual(before);
}

describe('stream service under faults (real Kafka broker)', () => {
  it('crash: SIGKILL at random moments, restart; every event in raw at least once and in silver exactly once', async () => {
    const seed = Number(process.env.STREAM_FAULT_SEED ?? randomInt(2 ** 31));
    const trials = Number(process.env.STREAM_FAULT_TRIALS ?? 20);
    process.stdout.write(
      `[stream faults] crash test seed ${seed} (STREAM_FAULT_SEED=${seed} replays it), ${trials} trials\n`,
    );
    const random = seededRandom(seed);
    const w = await world('crash');
    try {
      const at = new Date();
      const clicks = Array.from({ length: 2_400 }, (_, i) => `c-${i}`);
      const orders = Array.from({ length: 300 }, (_, i) => `o-${i}`);
      // 300 redeliveries of earlier click events (same event id, same body): silver must keep one of each.
      const repeats = Array.from(
        { length: 300 },
        () => clicks[Math.floor(random() * clicks.length)] as string,
      );
      const clickMessages = [...clicks, ...repeats].map((id) => ({
        key: `k-${id}`,
        value: kpiClickEvent(id, at),
      }));
      const orderMessages = orders.map((id, i) => ({
        key: `k-${i % 40}`,
        value: kpiOrderEvent(id, at, i % 40),
      }));
      const waves = trials + 1;
      const slice = <T>(list: T[], wave: number) =>
        list.slice(Math.floor((list.length * wave) / waves), Math.floor((list.length * (wave + 1)) / waves));
      const kills: number[] = [];
      let progressed = 0;
      let killedWithWorkInHand = 0;
      const ledger = async () =>
        (
          await w.warehouse.query<{ batches: number; pending: number }>(
            `select cast(count(*) as integer) as batches,
               cast(coalesce(sum(case when loaded_at is null then 1 else 0 end), 0) as integer) as pending
             from ops.batches`,
          )
        )[0] ?? { batches: 0, pending: 0 };
      for (let trial = 0; trial < trials; trial += 1) {
        const before = await ledger();
        const service = w.start({ STREAM_BATCH_MAX_EVENTS: '25' });
        // The wave arrives while the service starts and consumes: small batches, many writes in flight.
        const waves = [
          trickle(w.stream, 'clickstream', slice(clickMessages, trial), 15, 60),
          trickle(w.stream, 'order-events', slice(orderMessages, trial), 2, 60),
        ];
        const started = performance.now();
        if (random() < 0.25) {
          // Killed while starting: joining the group, or reading its first fetch.
          await sleep(100 + random() * 1_400);
        } else {
          // Killed in the middle of the work: after its first flush, while batches are written, committed, applied.
          await waitFor(
            async () => ((await service.status()).eventsWritten > 0 ? true : undefined),
            'a flush',
            30_000,
            25,
          );
          await sleep(random() * 600);
        }
        kills.push(Math.round(performance.now() - started));
        service.child.kill('SIGKILL');
        await service.exited;
        await Promise.all(waves.map((wave) => wave.done));
        const after = await ledger();
        if (after.batches > before.batches) progressed += 1;
        if (after.pending > 0) killedWithWorkInHand += 1;
      }
      await publish(w.stream, 'clickstream', slice(clickMessages, trials));
      await publish(w.stream, 'order-events', slice(orderMessages, trials));
      process.stdout.write(
        `[stream faults] SIGKILL ${kills.join(', ')} ms after start; ${progressed} of ${trials} runs wrote batches, ` +
          `${killedWithWorkInHand} died with committed batches not yet applied\n`,
      );
      // Not vacuous: most kills land while the service is consuming, not before it starts.
      expect(progressed).toBeGreaterThanOrEqual(Math.ceil(trials / 2));
      const last = w.start();
      await finish(last, w.warehouse);
      await expectDeliveredExactlyOnce(w, { clickstream: new Set(clicks), 'order-events': new Set(orders) });
    } finally {
      await w.dispose();
    }
  }, 300_000);

  it('broker restart in the middle of consumption: the service recovers by itself, same guarantees', async () => {
    const w = await world('broker');
    try {
      const at = new Date();
      const clicks = Array.from({ length: 2_000 }, (_, i) => `b-${i}`);
      const orders = Array.from({ length: 200 }, (_, i) => `bo-${i}`);
      const service = w.start();
      // 10 s of publishing at least: the restart must land while events still arrive, even when the service's first
      // status answer comes late on a loaded machine (at 2.5 s, a run consumed everything before it).
      const producing = trickle(
        w.stream,
        'clickstream',
        clicks.map((id) => ({ key: `k-${id}`, value: kpiClickEvent(id, at) })),
        10,
        50,
      );
      await publish(
        w.stream,
        'order-events',
        orders.map((id, i) => ({ key: `k-${i}`, value: kpiOrderEvent(id, at, i) })),
      );
      const atRestart = await waitFor(async () => {
        const status = await service.status();
        return status.eventsWritten >= 300 ? status : undefined;
      }, 'consumption');
      // In the middle: the producer is still publishing, and most events are still to come.
      expect(atRestart.eventsWritten).toBeLessThan(clicks.length);
      await node.restart({ downMs: 2_000 });
      await producing.done;
      expect(service.child.exitCode).toBeNull();
      await finish(service, w.warehouse);
      await expectDeliveredExactlyOnce(w, { clickstream: new Set(clicks), 'order-events': new Set(orders) });
    } finally {
      await w.dispose();
    }
  }, 240_000);

  it('rebalance: a second replica joins and leaves during consumption, same guarantees', async () => {
    const w = await world('rebalance');
    try {
      const at = new Date();
      // Events flow until the second replica has come and gone: it only writes once it holds partitions with
      // events it has not seen, however long the group takes to rebalance.
      const clicks = flow(
        w.stream,
        'clickstream',
        (i) => ({ id: `r-${i}`, message: { key: `k-r-${i}`, value: kpiClickEvent(`r-${i}`, at) } }),
        20,
        50,
      );
      const orders = flow(
        w.stream,
        'order-events',
        (i) => ({ id: `ro-${i}`, message: { key: `k-${i}`, value: kpiOrderEvent(`ro-${i}`, at, i) } }),
        2,
        50,
      );
      const first = w.start();
      await waitFor(
        async () => ((await first.status()).eventsWritten > 0 ? true : undefined),
        'the first replica',
      );
      const second = w.start();
      await waitFor(
        async () => ((await second.status()).eventsWritten > 0 ? true : undefined),
        'the second replica to get partitions and write',
        120_000,
      );
      second.child.kill('SIGTERM');
      expect(await second.exited, second.stderr().slice(-2000)).toBe(0);
      // The first replica takes the partitions back while events still arrive.
      const writtenWhenSecondLeft = (await first.status()).eventsWritten;
      await waitFor(
        async () => ((await first.status()).eventsWritten > writtenWhenSecondLeft ? true : undefined),
        'the first replica to write again after the second left',
      );
      await Promise.all([clicks.stop(), orders.stop()]);
      await finish(first, w.warehouse);
      await expectDeliveredExactlyOnce(w, { clickstream: clicks.ids, 'order-events': orders.ids });
    } finally {
      await w.dispose();
    }
  }, 300_000);

  it('poison messages go to the dead-letter topic and quarantine with their reasons and bytes; the partition keeps flowing', async () => {
    const w = await world('poison');
    try {
      const now = Date.now();
      const at = new Date(now - 60_000);
      const lateAt = new Date(now - 3 * 86_400_000);
      const poison: Record<string, { value: Buffer; reason: RegExp }> = {
        utf8: { value: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), reason: /not valid UTF-8/ },
        truncated: {
          value: Buffer.from('{"event_id": "p-trunc", "event_type": "page_vi'),
          reason: /malformed JSON/,
        },
        big: {
          value: Buffer.from(clickEvent('p-big', at, { page_url: 'x'.repeat(2 * 1024 * 1024) })),
          reason: /events above 1048576 bytes are refused/,
        },
        types: {
          value: Buffer.from(clickEvent('p-types', at, { quantity: 'two', customer_id: 'abc' })),
          reason:
            /quantity: expected an integer.*customer_id: expected an integer|customer_id: expected an integer.*quantity: expected an integer/,
        },
        nul: { value: Buffer.from(clickEvent('p-nul', at, { device: 'we\u0000b' })), reason: /NUL/ },
        // Values the silver cast would refuse: quarantined here, or the silver table could never be built again.
        leap: {
          value: Buffer.from(clickEvent('p-leap', at, { occurred_at: '2026-02-29T10:00:00Z' })),
          reason: /occurred_at: expected an ISO-8601 timestamp: no such calendar day/,
        },
        wide: {
          value: Buffer.from(clickEvent('p-wide', at, { product_id: 2 ** 31 })),
          reason: /product_id: out of range for a 32-bit integer/,
        },
      };
      const valid = ['p-1', 'p-2', 'p-3', 'p-late', 'p-5'];
      // One key: every message lands on one partition, poison between valid events.
      const messages: OutgoingMessage[] = [
        { key: 'same', value: clickEvent('p-1', at) },
        { key: 'same', value: poison.utf8?.value as Buffer },
        { key: 'same', value: clickEvent('p-2', at) },
        { key: 'same', value: poison.truncated?.value as Buffer },
        { key: 'same', value: poison.big?.value as Buffer },
        { key: 'same', value: poison.types?.value as Buffer },
        { key: 'same', value: poison.nul?.value as Buffer },
        { key: 'same', value: poison.leap?.value as Buffer },
        { key: 'same', value: poison.wide?.value as Buffer },
        { key: 'same', value: clickEvent('p-3', at, { campaign: 'autumn', utm: { source: 'mail' } }) },
        { key: 'same', value: clickEvent('p-late', lateAt) },
        { key: 'same', value: clickEvent('p-5', at) },
      ];
      const service = w.start();
      await publish(w.stream, 'clickstream', messages);
      await publish(w.stream, 'order-events', [{ key: 'o', value: orderEvent('po-1', at, 1) }]);
      const status = await waitFor(async () => {
        const current = await service.status();
        return current.apply?.eventsApplied === messages.length + 1 ? current : undefined;
      }, 'every message applied');
      expect(status.apply).toMatchObject({ deadLettered: 7, quarantined: 7, rescued: 1, late: 1 });
      await finish(service, w.warehouse);

      // The dead-letter topic: the original bytes, the reasons and the source position.
      const letters = await readTopic(`${w.prefix}dead-letter`, 7);
      const partition = (await w.stream.endOffsets('clickstream')).find((end) => end.offset > 0)?.partition;
      for (const [name, expected] of Object.entries(poison)) {
        const letter = letters.find((message) => message.value.equals(expected.value));
        expect(letter, `${name} in the dead-letter topic`).toBeDefined();
        expect(letter?.headers[DEAD_LETTER_HEADERS.reason], name).toMatch(expected.reason);
        expect(letter?.headers[DEAD_LETTER_HEADERS.sourceTopic]).toBe('clickstream');
        expect(letter?.headers[DEAD_LETTER_HEADERS.sourcePartition]).toBe(String(partition));
        expect(letter?.headers[DEAD_LETTER_HEADERS.truncated]).toBeUndefined();
      }
      expect(letters).toHaveLength(7);

      // Quarantine: the same seven, each with its reasons and the message as consumed.
      const quarantined: {
        reasons: string[];
        message: { offset: number; value?: string; value_base64?: string };
      }[] = [];
      for await (const info of w.lake.list('quarantine/source=clickstream/')) {
        const text = await new Response(await w.lake.get(info.key)).text();
        for (const line of text.split('\n').filter(Boolean)) quarantined.push(JSON.parse(line));
      }
      expect(quarantined).toHaveLength(7);
      for (const [name, expected] of Object.entries(poison)) {
        const row = quarantined.find((entry) => {
          const bytes =
            entry.message.value === undefined
              ? Buffer.from(entry.message.value_base64 ?? '', 'base64')
              : Buffer.from(entry.message.value);
          return bytes.equals(expected.value);
        });
        expect(row, `${name} in quarantine`).toBeDefined();
        expect(row?.reasons.join('; ')).toMatch(expected.reason);
      }
      const [rows] = await w.warehouse.query<{ n: number }>(
        'select cast(count(*) as integer) as n from ops.quarantine_rows',
      );
      expect(rows?.n).toBe(7);

      // The valid events around the poison flowed on; the unknown fields were kept; the late event is flagged and
      // sits in the partition of its event date.
      const silver = await w.warehouse.query<{ event_id: string; is_late: boolean; event_date: Date }>(
        'select event_id, is_late, event_date from silver.clickstream_events order by event_id',
      );
      expect(silver.map((row) => row.event_id)).toEqual([...valid].sort());
      const late = silver.find((row) => row.event_id === 'p-late');
      expect(late?.is_late).toBe(true);
      expect(late?.event_date.toISOString().slice(0, 10)).toBe(lateAt.toISOString().slice(0, 10));
      expect(silver.filter((row) => row.is_late)).toHaveLength(1);
      const [rescued] = await w.warehouse.query<{ rescued: string }>(
        "select _rescued_data as rescued from bronze.clickstream_events where trim(event_id) = 'p-3'",
      );
      expect(JSON.parse(rescued?.rescued ?? '{}')).toEqual({ campaign: 'autumn', utm: { source: 'mail' } });
      await expectDeliveredExactlyOnce(w, { clickstream: new Set(valid), 'order-events': new Set(['po-1']) });
    } finally {
      await w.dispose();
    }
  }, 180_000);

  it('object store, then warehouse, unavailable for a while: no offset moves past unwritten data, and all arrives after', async () => {
    const bucket = `faults-${randomInt(1e9).toString(36)}`;
    const s3 = new S3Client({
      endpoint: services.TEST_S3_ENDPOINT,
      region: services.TEST_S3_REGION,
      forcePathStyle: true,
      credentials: {
        accessKeyId: services.TEST_S3_ACCESS_KEY_ID,
        secretAccessKey: services.TEST_S3_SECRET_ACCESS_KEY,
      },
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    let lakeDown = false;
    const proxy = await startFaultProxy(services.TEST_S3_ENDPOINT, () =>
      lakeDown
        ? {
            status: 503,
            body: '<Error><Code>ServiceUnavailable</Code><Message>outage drill</Message></Error>',
          }
        : undefined,
    );
    const s3Url = (endpoint: string) =>
      `s3://${bucket}/lake?endpoint=${encodeURIComponent(endpoint)}&region=${services.TEST_S3_REGION}&forcePathStyle=true&attempts=2&retryDelayMs=50`;
    process.env.AWS_ACCESS_KEY_ID = services.TEST_S3_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = services.TEST_S3_SECRET_ACCESS_KEY;
    process.env.AWS_REGION = services.TEST_S3_REGION;
    const direct = openS3Store(s3Url(services.TEST_S3_ENDPOINT));
    const w = await world('outage', () => s3Url(proxy.url));
    const pgProxy = await tcpProxy(Number(services.TEST_PG_PORT));
    try {
      const at = new Date();
      const clicks: string[] = [];
      const orders: string[] = [];
      /** Events published over about three seconds, so the outage hits a consumer with work coming in. */
      const produce = (label: string) => {
        const ids = Array.from({ length: 1_200 }, (_, i) => `${label}-${i}`);
        const orderIds = Array.from({ length: 120 }, (_, i) => `${label}-o-${i}`);
        clicks.push(...ids);
        orders.push(...orderIds);
        return [
          trickle(
            w.stream,
            'clickstream',
            ids.map((id) => ({ key: `k-${id}`, value: clickEvent(id, at) })),
            40,
            100,
          ),
          trickle(
            w.stream,
            'order-events',
            orderIds.map((id, i) => ({ key: `k-${i}`, value: orderEvent(id, at, i) })),
            4,
            100,
          ),
        ];
      };
      const service = w.start({
        WAREHOUSE_URL: w.env.WAREHOUSE_URL?.replace(/:\d+\//, `:${pgProxy.port}/`) ?? '',
      });
      await Promise.all(produce('before').map((producer) => producer.done));
      await waitFor(
        async () => ((await service.status()).eventsWritten > 0 ? true : undefined),
        'consumption',
      );

      /**
       * For `ms`: committed offsets are never beyond what raw/ (and the ledger) hold. Returns what /status said
       * about backpressure meanwhile.
       */
      const watch = async (ms: number, ledgerToo: boolean) => {
        const seen: string[] = [];
        let checks = 0;
        const until = Date.now() + ms;
        while (Date.now() < until) {
          const committed = await committedOffsets(
            node.brokers,
            `${w.prefix}group`,
            TOPICS.map((t) => `${w.prefix}${t}`),
          );
          const coverage = new Map<string, Map<number, number>>();
          for (const topic of TOPICS) coverage.set(topic, rawCoverage(await rawEnvelopes(direct, topic)));
          const ledger = ledgerToo ? await ledgerCoverage(w.env.WAREHOUSE_URL ?? '') : undefined;
          for (const entry of committed) {
            const topic = entry.topic.slice(w.prefix.length);
            expect(entry.offset, `${entry.topic} p${entry.partition} committed vs raw/`).toBeLessThanOrEqual(
              coverage.get(topic)?.get(entry.partition) ?? 0,
            );
            if (ledger)
              expect(
                entry.offset,
                `${entry.topic} p${entry.partition} committed vs ledger`,
              ).toBeLessThanOrEqual(ledger.get(`${topic}/${entry.partition}`) ?? 0);
          }
          checks += 1;
          const status = await service.status().catch((error: Error) => ({ error: error.message }));
          seen.push(JSON.stringify(status));
          await sleep(300);
        }
        expect(checks).toBeGreaterThan(3);
        return seen;
      };
      const reported = (seen: string[]) => seen.some((status) => JSON.parse(status).backpressure === true);

      lakeDown = true;
      const duringLake = produce('lake');
      const lakeSeen = await watch(6_000, false);
      lakeDown = false;
      expect(proxy.faults).toBeGreaterThan(0);
      expect(
        reported(lakeSeen),
        `backpressure while the lake was down: ${lakeSeen.slice(-2).join('\n')}`,
      ).toBe(true);
      await Promise.all(duringLake.map((producer) => producer.done));
      await waitFor(
        async () => ((await service.status()).backpressure ? undefined : true),
        'the lake backlog to clear',
      );

      pgProxy.setDown(true);
      const duringWarehouse = produce('warehouse');
      const warehouseSeen = await watch(6_000, true);
      pgProxy.setDown(false);
      expect(
        reported(warehouseSeen),
        `backpressure while the warehouse was down: ${warehouseSeen.slice(-2).join('\n')} ` +
          `(exit ${service.child.exitCode}; ${service.stderr().slice(-3000)})`,
      ).toBe(true);
      await Promise.all(duringWarehouse.map((producer) => producer.done));

      expect(service.child.exitCode).toBeNull();
      await finish(service, w.warehouse);
      await expectDeliveredExactlyOnce(
        w,
        { clickstream: new Set(clicks), 'order-events': new Set(orders) },
        direct,
      );
    } finally {
      await w.dispose();
      await direct.close();
      await proxy.close();
      await pgProxy.close();
    }
  }, 240_000);
});

/** Per `topic/partition`, the end of the offsets the ledger's stream batches cover without a gap. */
async function ledgerCoverage(url: string): Promise<Map<string, number>> {
  const db: SqlDatabase = await openPostgres(url);
  try {
    const rows = await db.query<{ batch_id: string; source: string; rows_raw: number }>(
      "select batch_id, source, cast(rows_raw as integer) as rows_raw from ops.batches where source_kind = 'stream'",
    );
    const intervals = new Map<string, [number, number][]>();
    for (const row of rows) {
      const match = /_p(\d+)_o(\d+)$/.exec(row.batch_id);
      if (!match) continue;
      const key = `${row.source}/${match[1]}`;
      const first = Number(match[2]);
      intervals.set(key, [...(intervals.get(key) ?? []), [first, first + Number(row.rows_raw)]]);
    }
    const coverage = new Map<string, number>();
    for (const [key, list] of intervals) {
      let end = 0;
      for (const [from, to] of list.sort((a, b) => a[0] - b[0])) if (from <= end) end = Math.max(end, to);
      coverage.set(key, end);
    }
    return coverage;
  } finally {
    await db.close();
  }
}

/** Reads `count` messages of a topic from the private broker with their headers. */
async function readTopic(topic: string, count: number) {
  const kafka = new Kafka({ brokers: [node.brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `read-${randomInt(1e9)}`,
    maxBytesPerPartition: 8 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const seen: { value: Buffer; headers: Record<string, string> }[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
      seen.push({ value: message.value ?? Buffer.alloc(0), headers });
    },
  });
  try {
    await waitFor(() => (seen.length >= count ? true : undefined), `${count} messages on ${topic}`, 30_000);
    await sleep(500); // anything beyond `count` would show up by now
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

/** A TCP proxy in front of PostgreSQL that can drop every connection and refuse new ones for a while. */
async function tcpProxy(targetPort: number) {
  let down = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    setDown(value: boolean) {
      down = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
