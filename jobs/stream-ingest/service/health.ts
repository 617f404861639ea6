import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsumerMembership, StreamConsumer } from '../../../adapters/stream/event-stream.ts';
import type { JobContext } from '../../context.ts';
import { EVENT_TOPICS } from '../../contracts/event-topics.ts';
import type { BackpressureState } from '../backpressure.ts';
import type { ApplyStats } from './applier.ts';
import type { BrokerOutage, LagReading, PartitionLag } from './broker-watch.ts';
import type { KpiAlertStatus } from './kpi-alert-loop.ts';

export type { PartitionLag };

/** Where a running service records its health port, so the image's HEALTHCHECK knows a service is meant to answer. */
export const HEALTH_MARKER = join(tmpdir(), 'ecomm-health-port');

export interface ServiceHealth {
  /** The consume loop is running (liveness). */
  alive: boolean;
  /** Whether the service is consuming, and why not (readiness); computed on each probe, never waits. */
  readiness(): Readiness;
  /** Stage 1's last offset commit (its micro-batch written, in the ledger, committed). */
  lastFlushAt: Date | null;
  batchesWritten: number;
  eventsWritten: number;
  /** Lag per partition: fresh when the broker answers in time, else the last known figures. */
  lag(): Promise<LagReading>;
  /** The broker failing the consumers or the lag reads, since when, the last error. */
  outage?: () => BrokerOutage | null;
  /** Stage 1 (raw writes and the ledger) waiting for the lake or the warehouse. */
  ingestBackpressure?: BackpressureState;
  /** Stage 2 (validation, dead letters, bronze, silver), when the service runs it. */
  apply?: () => ApplyStats;
  /** The KPI alert rules' last evaluation, when the service evaluates them. */
  kpiAlerts?: () => KpiAlertStatus;
  /** The consumer's last failure (it reconnects by itself), if any. */
  lastError?: { message: string; at: string } | null;
}

export interface Readiness {
  ready: boolean;
  /** What it waits for, or what it consumes. */
  reason: string;
  /** The partitions this process's members hold (`topic/partition`). */
  partitions: string[];
}

/**
 * Ready = consuming: every group member of the process holds an assignment of the current generation, together
 * they hold at least one partition, each member holding partitions has had a fetch come back since (messages or an
 * empty long poll), and the broker is not failing. Connected is not enough: after a crash the new members wait
 * for the dead ones' sessions to expire before they get any partition.
 */
export function readinessOf(
  members: (ConsumerMembership | null)[],
  outage: BrokerOutage | null,
  alive = true,
): Readiness {
  const partitions = members
    .flatMap((member) => member?.assigned ?? [])
    .map(({ topic, partition }) => `${topic}/${partition}`)
    .sort();
  const not = (reason: string): Readiness => ({ ready: false, reason, partitions });
  if (!alive) return not('the service is starting or stopping');
  if (outage) return not(`the broker is failing since ${outage.since}: ${outage.lastError}`);
  const joined = members.filter((member) => member?.assigned).length;
  if (joined < members.length)
    return not(`${joined} of ${members.length} group members hold an assignment (joining or rebalancing)`);
  if (partitions.length === 0)
    return not('no partition assigned to this process (the group has more members than partitions)');
  if (members.some((member) => member?.assigned?.length && !member.fetchedSinceAssignment))
    return not('assigned; waiting for the first fetch');
  return { ready: true, reason: `consuming ${partitions.length} partitions`, partitions };
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
    kpiAlerts: health.kpiAlerts?.() ?? null,
    lastError: health.lastError ?? null,
  };
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The stream service's small HTTP face for the container platform: `/healthz` (liveness), `/readyz` (readiness) and
 * `/status` (lag per partition, last flush time, totals, the broker's outage, the applier's state) as JSON.
 */
export async function startHealthServer(
  health: ServiceHealth,
  port: number,
  host = '127.0.0.1',
): Promise<HealthServer> {
  const server = createServer((request, response) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(`${JSON.stringify(body)}\n`);
    };
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') return reply(health.alive ? 200 : 503, { alive: health.alive });
    if (path === '/readyz') {
      const readiness = health.readiness();
      return reply(readiness.ready ? 200 : 503, readiness);
    }
    if (path === '/status') {
      // Answers within the lag read's bound whatever the broker does: the rest is held in memory.
      health
        .lag()
        .then((reading) => {
          const readiness = health.readiness();
          reply(200, {
            alive: health.alive,
            ready: readiness.ready,
            readyReason: readiness.reason,
            lastFlushAt: health.lastFlushAt?.toISOString() ?? null,
            batchesWritten: health.batchesWritten,
            eventsWritten: health.eventsWritten,
            totalLag: reading.lag.reduce((sum, entry) => sum + entry.lag, 0),
            lag: reading.lag,
            lagMeasuredAt: reading.measuredAt,
            lagStale: reading.stale,
            outage: health.outage?.() ?? null,
            ...extras(health),
          });
        })
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
    url: `http://${shownHost(host)}:${address.port}`,
    async close() {
      rmSync(HEALTH_MARKER, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Where a person on the machine reaches a server bound to `host`: every interface is reached on loopback. */
function shownHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
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
