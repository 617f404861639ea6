/**
 * `ecomm stream-ingest --follow`: the long-running stream service. Any number of replicas share the partitions of
 * the event topics through the consumer group STREAM_GROUP_ID.
 *
 *   stage 1 (STREAM_CONSUMERS members; each encodes in its own thread):
 *                          fetch → raw/ zstd NDJSON micro-batch → ledger row → commit   (micro-batcher.ts)
 *   stage 2 (a worker):    ledger → validate → dead letters → bronze + silver, one transaction   (applier.ts)
 *
 * Stage 1 never parses an event, so a poison message cannot stall a partition; stage 2 works from the ledger, so
 * what a crash interrupts is simply done again. Unavailable lake, warehouse or broker: writes wait with backoff
 * (nothing is committed that is not written), the consumer reconnects by itself, /status says what it waits for.
 * SIGTERM: stop fetching, write and commit the batches in hand, let the applier finish its round, exit 0.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { redactUrl } from '../../../adapters/redact.ts';
import type { FetchOptions, StreamConsumer } from '../../../adapters/stream/event-stream.ts';
import { schemeOf } from '../../../adapters/url.ts';
import { type JobContext, JobStoppedError } from '../../context.ts';
import { EVENT_TOPICS } from '../../contracts/event-topics.ts';
import { newBackpressureState, persistWithBackoff } from '../backpressure.ts';
import { consumeToRaw, fetchSettings } from '../micro-batcher.ts';
import { checkRetentionGaps, startNewGroupFromLedger } from '../retention-gaps.ts';
import { startApplier, warehouseOnConsumerThread } from './applier-host.ts';
import { lagMonitor, outageTracker } from './broker-watch.ts';
import { partitionLag, readinessOf, type ServiceHealth, startHealthServer } from './health.ts';
import { startKpiAlertLoop } from './kpi-alert-loop.ts';

export interface StreamServiceOptions {
  healthPort: number;
  out: (line: string) => void;
  /** How long writes in hand keep trying after SIGTERM while their service is down (default 10 s). */
  stopGraceMs?: number;
}

export interface StreamServiceResult {
  events: number;
  batches: number;
  health: ServiceHealth;
}

export async function runStreamService(
  context: JobContext,
  options: StreamServiceOptions,
): Promise<StreamServiceResult> {
  const members = memberCount(context);
  /** Each member's consumer while it is open; the last one opened, for lag reads between reconnections. */
  const consumers: (StreamConsumer | undefined)[] = Array.from({ length: members }, () => undefined);
  let lastConsumer: StreamConsumer | undefined;
  const outage = outageTracker(context.now);
  const lag = lagMonitor({
    // Committed offsets are the group's: any member's view gives the lag of every partition (its admin client
    // outlives the member, so a closed one still reads them).
    measure: async () => (lastConsumer ? partitionLag(context, lastConsumer) : null),
    outage,
    now: context.now,
    waitMs: LAG_READ_WAIT_MS,
    outageAfterMs: BROKER_SILENT_MS,
  });
  const health: ServiceHealth = {
    alive: false,
    readiness: () =>
      readinessOf(
        consumers.map((consumer) => consumer?.membership() ?? null),
        outage.current(),
        health.alive,
      ),
    lastFlushAt: null,
    batchesWritten: 0,
    eventsWritten: 0,
    lag: () => lag.read(),
    outage: () => outage.current(),
    ingestBackpressure: newBackpressureState(),
    lastError: null,
  };
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  // A missing PII key is a configuration error (exit 2) at start, not a round retried forever later.
  if (context.config.STREAM_APPLY !== 'off') await context.piiHashKey();
  const server = await startHealthServer(health, options.healthPort, context.config.ECOMM_HEALTH_HOST);
  options.out(
    `stream-ingest following ${redactUrl(context.config.STREAM_URL)}; health on ${server.url}/healthz`,
  );
  // STREAM_APPLY=off: this replica only ingests (another one applies).
  const applier = startApplier(context, stopGraceMs);
  if (applier) health.apply = () => applier.stats();
  // The replica that applies keeps the KPIs, so it also judges them (one replica at a time: a lease).
  const kpiAlerts = applier ? startKpiAlertLoop(context) : null;
  if (kpiAlerts) health.kpiAlerts = () => kpiAlerts.status();
  health.alive = true;
  // The broker is asked even when nobody calls /status, so /readyz notices an outage within seconds.
  const watching = setInterval(() => void lag.read(), LAG_READ_EVERY_MS);
  watching.unref();
  // The applier only ends on its own when it fails: then the consumer stops and the service fails (the platform
  // restarts it; everything uncommitted or unapplied is done again).
  const halt = new AbortController();
  const signal = AbortSignal.any([context.signal, halt.signal]);
  let stopping = false;
  const applierEnded = (applier?.done ?? new Promise<void>(() => {})).then(() => {
    if (!stopping && !context.signal.aborted) throw new Error('stream applier ended unexpectedly');
  });
  applierEnded.catch(() => halt.abort('the stream applier failed'));
  try {
    const consuming = Promise.all(
      consumers.map((_, member) =>
        consumeLoop(context, signal, health, {
          stopGraceMs,
          opened(consumer) {
            consumers[member] = consumer;
            if (consumer) lastConsumer = consumer;
          },
          failed: (error) => outage.failed(error),
          committed: () => applier?.wake(),
        }),
      ),
    ).finally(() => {
      stopping = true;
    });
    await Promise.race([consuming, applierEnded]);
    await consuming;
    await applier?.stop();
  } catch (error) {
    await Promise.race([applier?.stop().catch(() => {}), sleep(stopGraceMs)]);
    throw error;
  } finally {
    health.alive = false;
    clearInterval(watching);
    await kpiAlerts?.stop();
    await server.close();
  }
  return { events: health.eventsWritten, batches: health.batchesWritten, health };
}

/** STREAM_CONSUMERS members on Kafka; one on the embedded log, which has no group membership to share. */
function memberCount(context: JobContext): number {
  return schemeOf(context.config.STREAM_URL) === 'kafka' ? context.config.STREAM_CONSUMERS : 1;
}

interface MemberOptions {
  stopGraceMs: number;
  /** The member's consumer once open, undefined once closed (readiness reads its membership). */
  opened: (consumer: StreamConsumer | undefined) => void;
  /** The consumer failed (broker unreachable, lost membership): an outage until the broker answers again. */
  failed: (error: unknown) => void;
  committed: () => void;
}

/**
 * The fetch settings, and with the embedded warehouse a 30 s session at least: its queries block the heartbeats
 * (a 6 s session saw members dropped and batches read twice on a loaded 2-core machine), so a crashed embedded
 * service resumes after about 30 s. A networked warehouse is used from a worker thread and keeps STREAM_URL's.
 */
function sessionSettings(context: JobContext): FetchOptions {
  const fetch = fetchSettings(context.config, true);
  return warehouseOnConsumerThread(context) ? { ...fetch, minSessionTimeoutMs: EMBEDDED_SESSION_MS } : fetch;
}

const EMBEDDED_SESSION_MS = 30_000;

/** How long /status waits for fresh lag figures before answering with the last known ones. */
const LAG_READ_WAIT_MS = 1_000;
/** How often the service reads the lag by itself (and so notices a broker that stopped answering). */
const LAG_READ_EVERY_MS = 3_000;
/** A lag read outstanding this long: the broker is not answering (kafkajs is still retrying). */
const BROKER_SILENT_MS = 4_000;
/** How long a consumer may take to leave its group once a stop was asked for (see consumeLoop). */
const CLOSE_ON_STOP_MS = 5_000;

/**
 * One consumer-group member's stage 1 until a stop request; a failed consumer (broker restart, lost membership) is
 * reopened with backoff.
 */
async function consumeLoop(
  context: JobContext,
  signal: AbortSignal,
  health: ServiceHealth,
  { stopGraceMs, opened, failed, committed }: MemberOptions,
): Promise<void> {
  const log = context.log.child({ stage: 'ingest' });
  const persist = persistWithBackoff({
    state: health.ingestBackpressure ?? newBackpressureState(),
    log,
    signal,
    maxDelayMs: context.config.STREAM_BACKOFF_MAX_MS,
    stopGraceMs,
  });
  const stream = context.stream();
  const topics = EVENT_TOPICS.map((topic) => topic.topic);
  let delay = 250;
  while (!signal.aborted) {
    let consumer: StreamConsumer | undefined;
    const stop = () => void consumer?.stop();
    try {
      await stream.ensureTopics(
        EVENT_TOPICS.map((topic) => ({ name: topic.topic, partitions: topic.partitions })),
      );
      await persist('warehouse', () => startNewGroupFromLedger(context, topics));
      consumer = await stream.consumer(context.config.STREAM_GROUP_ID, topics, sessionSettings(context));
      if (signal.aborted) break;
      signal.addEventListener('abort', stop, { once: true });
      opened(consumer);
      // Before reading on (a start, or a reconnect after an outage): were events deleted while nobody read?
      const joined = consumer;
      const checked = await persist('warehouse', () => checkRetentionGaps(context, joined, topics)).then(
        () => true,
        (error: unknown) => {
          // A stop asked for while the check waited (the warehouse opening, say) is a clean stop: nothing was read.
          if (signal.aborted) return false;
          throw error;
        },
      );
      if (!checked) break;
      await consumeToRaw(context, consumer, {
        kind: 'stream',
        stopWhenCaughtUp: false,
        persist,
        onCommitted(batch) {
          health.batchesWritten += 1;
          health.eventsWritten += batch.events;
          health.lastFlushAt = context.now();
          delay = 250;
          committed();
        },
      });
    } catch (error) {
      // Stopped while a write waited for its service: the batch in hand stays uncommitted (read again later).
      if (error instanceof JobStoppedError || signal.aborted) throw error;
      health.lastError = { message: (error as Error).message, at: context.now().toISOString() };
      failed(error);
      log.warn({ error: health.lastError.message, retryInMs: delay }, 'consumer failed; reconnecting');
      await sleep(delay, undefined, { signal }).catch(() => {});
      delay = Math.min(delay * 2, context.config.STREAM_BACKOFF_MAX_MS);
    } finally {
      opened(undefined);
      signal.removeEventListener('abort', stop);
      // On a stop, leaving the group is a courtesy (every batch in hand was committed or is read again): after a
      // broker restart it can wait on a reloading coordinator past the shutdown grace, so it gets a bound.
      const closing = consumer?.close().catch(() => {});
      await (signal.aborted
        ? Promise.race([closing, sleep(CLOSE_ON_STOP_MS, undefined, { ref: false })])
        : closing);
    }
  }
}
