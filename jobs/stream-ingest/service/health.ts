import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamConsumer } from '../../../adapters/stream/event-stream.ts';
import type { JobContext } from '../../context.ts';
import { EVENT_TOPICS } from '../../contracts/event-topics.ts';
import type { BackpressureState } from '../backpressure.ts';
import type { ApplyStats } from './applier.ts';

/** Where a running service records its health port, so the image's HEALTHCHECK knows a service is meant to answer. */
export const HEALTH_MARKER = join(tmpdir(), 'ecomm-health-port');

export interface PartitionLag {
  topic: string;
  partition: number;
  endOffset: number;
  committedOffset: number;
  lag: number;
}

export interface ServiceHealth {
  /** The consume loop is running (liveness). */
  alive: boolean;
  /** Joined the group and consuming (readiness). */
  ready: boolean;
  lastFlushAt: Date | null;
  batchesWritten: number;
  eventsWritten: number;
  lag(): Promise<PartitionLag[]>;
  /** Stage 1 (raw writes and the ledger) waiting for the lake or the warehouse. */
  ingestBackpressure?: BackpressureState;
  /** Stage 2 (validation, dead letters, bronze, silver), when the service runs it. */
  apply?: () => ApplyStats;
  /** The consumer's last failure (it reconnects by itself), if any. */
  lastError?: { message: string; at: string } | null;
}

/** Backpressure, the applier's counters and the last consumer error, when the service reports them. */
function extras(health: ServiceHealth): Record<string, unknown> {
  const apply = health.apply?.();
  const ingest = health.ingestBackpressure;
  if (!apply && !ingest && health.lastError === undefined) return {};
  return {
    backpressure: Boolean(ingest?.active || apply?.backpressure.active),
    ingestBackpressure: ingest ?? null,
    apply: apply ?? null,
    lastError: health.lastError ?? null,
  };
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The stream service's small HTTP face for the container platform: `/healthz` (liveness), `/readyz` (readiness) and
 * `/status` (lag per partition, last flush time, totals) as JSON.
 */
export async function startHealthServer(
  health: ServiceHealth,
  port: number,
  host = '0.0.0.0',
): Promise<HealthServer> {
  const server = createServer((request, response) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(`${JSON.stringify(body)}\n`);
    };
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') return reply(health.alive ? 200 : 503, { alive: health.alive });
    if (path === '/readyz') return reply(health.ready ? 200 : 503, { ready: health.ready });
    if (path === '/status') {
      health
        .lag()
        .then((lag) =>
          reply(200, {
            alive: health.alive,
            ready: health.ready,
            lastFlushAt: health.lastFlushAt?.toISOString() ?? null,
            batchesWritten: health.batchesWritten,
            eventsWritten: health.eventsWritten,
            totalLag: lag.reduce((sum, entry) => sum + entry.lag, 0),
            lag,
            ...extras(health),
          }),
        )
        .catch((error: Error) => reply(503, { error: error.message }));
      return;
    }
    reply(404, { error: 'not found', paths: ['/healthz', '/readyz', '/status'] });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  writeFileSync(HEALTH_MARKER, String(address.port));
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    async close() {
      rmSync(HEALTH_MARKER, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Consumer lag per partition of the event topics: end offset minus the group's committed offset. */
export async function partitionLag(context: JobContext, consumer: StreamConsumer): Promise<PartitionLag[]> {
  const committed = await consumer.committed();
  const lag: PartitionLag[] = [];
  for (const topic of EVENT_TOPICS) {
    for (const end of await context.stream().endOffsets(topic.topic)) {
      const done =
        committed.find((entry) => entry.topic === end.topic && entry.partition === end.partition)?.offset ??
        0;
      lag.push({
        topic: end.topic,
        partition: end.partition,
        endOffset: end.offset,
        committedOffset: done,
        lag: Math.max(0, end.offset - done),
      });
    }
  }
  return lag;
}
