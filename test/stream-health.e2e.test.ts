/**
 * The stream service's health on a real broker, with the consumer group timing operators get by default (no
 * sessionTimeout in STREAM_URL): after a SIGKILL, a restarted service consumes again within 10 s and /readyz says
 * 503 until its members hold partitions and have fetched; while the broker is down, /status keeps answering at
 * once with the outage, the last known lag and the applier's state, /readyz says 503, /healthz 200, and all comes
 * back when the broker does. A private single-node Kafka (scripts/services/kafka-node.ts), as the fault suite
 * uses, because this suite stops it.
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../adapters/storage/local.ts';
import type { EventStream } from '../adapters/stream/event-stream.ts';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { type KafkaNode, startKafkaNode } from '../scripts/services/kafka-node.ts';
import {
  clickEvent,
  createTestDatabase,
  type RunningService,
  rawEnvelopes,
  rawEventIds,
  type ServiceStatus,
  startService,
  waitFor,
} from './stream-harness.ts';

const TOPICS = ['clickstream', 'order-events'];
let node: KafkaNode;
const running: RunningService[] = [];

beforeAll(async () => {
  node = await startKafkaNode(mkdtempSync(join(tmpdir(), 'stream-health-kafka-')));
}, 180_000);

afterAll(async () => {
  for (const service of running) service.child.kill('SIGKILL');
  await node?.dispose();
});

async function world(label: string) {
  const prefix = `${label}-${randomInt(1e9).toString(36)}.`;
  const folder = mkdtempSync(join(tmpdir(), `stream-health-${label}-`));
  const database = await createTestDatabase(`health_${label}`);
  const stream = withTopicPrefix(
    openKafkaStream(`kafka://${node.brokers}?clientId=health-producer&retries=8&initialRetryTime=200`),
    prefix,
  );
  await stream.ensureTopics(TOPICS.map((name) => ({ name, partitions: 3 })));
  const env: Record<string, string> = {
    LAKE_URL: `file://${folder}/lake`,
    // The default group timing: no sessionTimeout or heartbeatInterval here.
    STREAM_URL: `kafka://${node.brokers}?clientId=health-service`,
    STREAM_TOPIC_PREFIX: prefix,
    STREAM_GROUP_ID: `${prefix}group`,
    WAREHOUSE_URL: database.url,
    STREAM_BATCH_MAX_AGE_MS: '1000',
    STREAM_BACKOFF_MAX_MS: '1000',
  };
  return {
    prefix,
    stream,
    lake: openLocalStore(`file://${folder}/lake`),
    start() {
      const service = startService(env);
      running.push(service);
      return service;
    },
    async dispose() {
      await stream.close();
      await database.dispose();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

async function probe(service: RunningService, path: string) {
  const started = performance.now();
  const response = await fetch(`${await service.health()}${path}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body, ms: performance.now() - started };
}

async function groupMembers(group: string): Promise<number> {
  const admin = new Kafka({ brokers: [node.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    return groups[0]?.members.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}

async function publishClick(stream: EventStream, id: string): Promise<void> {
  await stream.publish('clickstream', [{ key: `k-${id}`, value: clickEvent(id, new Date()) }]);
}

describe('stream service health (real Kafka broker, default group timing)', () => {
  it('crash-restart: SIGKILL, start again; /readyz 503 until assigned, then 200; a new event consumed within 10 s', async () => {
    const w = await world('restart');
    try {
      let service = w.start();
      await publishClick(w.stream, 'first');
      await waitFor(
        async () => ((await service.status()).eventsWritten > 0 ? true : undefined),
        'a first flush',
      );
      await waitFor(
        async () => ((await probe(service, '/readyz')).status === 200 ? true : undefined),
        'ready',
      );
      const figures: { readyMs: number; consumedMs: number }[] = [];
      for (let trial = 0; trial < 3; trial += 1) {
        service.child.kill('SIGKILL');
        await service.exited;
        const restarted = performance.now();
        service = w.start();
        const id = `restart-${trial}`;
        await publishClick(w.stream, id);
        // /readyz from the moment it answers: 503 while the new members wait for the dead ones' sessions to end.
        const answers: number[] = [];
        const ready = await waitFor(
          async () => {
            const readyz = await probe(service, '/readyz');
            answers.push(readyz.status);
            return readyz.status === 200 ? readyz.body : undefined;
          },
          '/readyz 200 after the restart',
          30_000,
          50,
        );
        const readyMs = performance.now() - restarted;
        expect(answers[0], `first /readyz answer of trial ${trial}`).toBe(503);
        expect(ready.partitions as string[]).toHaveLength(6);
        // Ready means this process's three members own the group: the dead process's members are gone.
        expect(await groupMembers(`${w.prefix}group`)).toBe(3);
        await waitFor(
          async () => (rawEventIds(await rawEnvelopes(w.lake, 'clickstream')).has(id) ? true : undefined),
          `${id} written to raw/`,
          30_000,
          100,
        );
        const consumedMs = performance.now() - restarted;
        figures.push({ readyMs: Math.round(readyMs), consumedMs: Math.round(consumedMs) });
      }
      process.stdout.write(
        `[stream health] after SIGKILL + restart: ${figures
          .map((f) => `ready ${f.readyMs} ms, new event in raw ${f.consumedMs} ms`)
          .join('; ')}\n`,
      );
      for (const [trial, figure] of figures.entries())
        expect(figure.consumedMs, `trial ${trial}: ${JSON.stringify(figures)}`).toBeLessThan(10_000);
      service.child.kill('SIGTERM');
      expect(await service.exited, service.stderr().slice(-2000)).toBe(0);
    } finally {
      await w.dispose();
    }
  }, 240_000);

  it('broker outage: /status answers at once with the outage, the last known lag and the applier state; all recovers', async () => {
    const w = await world('outage');
    try {
      const service = w.start();
      for (let i = 0; i < 20; i += 1) await publishClick(w.stream, `before-${i}`);
      const before = await waitFor(async () => {
        const status = await service.status();
        return status.eventsWritten === 20 && status.apply?.eventsApplied === 20 && status.totalLag === 0
          ? status
          : undefined;
      }, 'the first events written and applied');
      expect(before.outage).toBeNull();

      // The broker goes down for 12 s (plus its controlled shutdown).
      const restarting = node.restart({ downMs: 12_000 });
      const seen: { status: ServiceStatus; ms: number; ready: number; alive: number }[] = [];
      const until = Date.now() + 11_000;
      while (Date.now() < until) {
        const status = await probe(service, '/status');
        const ready = await probe(service, '/readyz');
        const alive = await probe(service, '/healthz');
        seen.push({
          status: status.body as unknown as ServiceStatus,
          ms: status.ms,
          ready: ready.status,
          alive: alive.status,
        });
        await sleep(300);
      }
      const slowest = Math.max(...seen.map((entry) => entry.ms));
      const during = seen.filter((entry) => entry.status.outage !== null);
      process.stdout.write(
        `[stream health] broker down: ${seen.length} /status answers, slowest ${Math.round(slowest)} ms; ` +
          `outage reported from answer ${seen.length - during.length + 1}: ${JSON.stringify(during[0]?.status.outage)}\n`,
      );
      // Never blocked on the broker: each answer within the lag read's 1 s bound (plus a loaded machine's slack).
      expect(slowest).toBeLessThan(2_000);
      expect(during.length, 'answers reporting the outage').toBeGreaterThan(3);
      for (const { status, ready, alive } of during.slice(1)) {
        expect(status.outage?.since).toMatch(/^\d{4}-\d\d-\d\dT/);
        expect(status.outage?.lastError).toBeTruthy();
        // The backlog as last measured and the applier's state, from memory.
        expect(status.lag).toHaveLength(6);
        expect(status.totalLag).toBe(0);
        expect(status.lagStale).toBe(true);
        expect(status.lagMeasuredAt).not.toBeNull();
        expect(status.apply).toMatchObject({ eventsApplied: 20, pendingBatches: 0 });
        expect(status.apply?.lastAppliedAt).not.toBeNull();
        expect(status.lastFlushAt).not.toBeNull();
        expect(ready).toBe(503);
        expect(alive).toBe(200);
      }
      // One outage: its start does not move while it lasts.
      expect(new Set(during.map((entry) => entry.status.outage?.since)).size).toBe(1);

      await restarting;
      for (let i = 0; i < 20; i += 1) await publishClick(w.stream, `after-${i}`);
      const recovered = await waitFor(
        async () => {
          const status = await service.status();
          const ready = await probe(service, '/readyz');
          return status.outage === null && ready.status === 200 && status.eventsWritten >= 40
            ? status
            : undefined;
        },
        'the service to recover by itself',
        90_000,
        250,
      );
      expect(recovered.lagStale).toBe(false);
      const ids = rawEventIds(await rawEnvelopes(w.lake, 'clickstream'));
      for (let i = 0; i < 20; i += 1) expect(ids.has(`after-${i}`)).toBe(true);
      expect(service.child.exitCode).toBeNull();
      service.child.kill('SIGTERM');
      expect(await service.exited, service.stderr().slice(-2000)).toBe(0);
    } finally {
      await w.dispose();
    }
  }, 240_000);
});
