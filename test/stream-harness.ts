/**
 * Shared by the stream service's tests (end to end and faults) and its benchmark: run `ecomm stream-ingest
 * --follow` as a child process against the test services, produce known events, and read back what reached raw/,
 * the ledger, bronze and silver.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import type { ObjectStore } from '../adapters/storage/object-store.ts';
import type { TopicPartitionOffset } from '../adapters/stream/event-stream.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { openRawObject, type RawEnvelope } from '../jobs/lake/raw-batch.ts';

export { createTestDatabase } from './pg-database.ts';

export const CLI = new URL('../jobs/cli.ts', import.meta.url).pathname;

export interface ServiceStatus {
  alive: boolean;
  ready: boolean;
  readyReason: string;
  lastFlushAt: string | null;
  batchesWritten: number;
  eventsWritten: number;
  totalLag: number;
  lag: { topic: string; partition: number; endOffset: number; committedOffset: number; lag: number }[];
  /** When the broker gave the lag figures; stale: it did not answer this request in time (last known figures). */
  lagMeasuredAt: string | null;
  lagStale: boolean;
  /** The broker failing the service: since when, the last error. */
  outage: { since: string; lastError: string; lastErrorAt: string } | null;
  backpressure?: boolean;
  ingestBackpressure?: { active: boolean; lastError: string | null };
  apply?: {
    batchesApplied: number;
    batchesFailed: number;
    eventsApplied: number;
    quarantined: number;
    deadLettered: number;
    rescued: number;
    late: number;
    lastAppliedAt: string | null;
    pendingBatches: number;
    pendingEvents: number;
    backpressure: { active: boolean; lastError: string | null };
  } | null;
}

export interface RunningService {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** The health base URL once the service printed it. */
  health(): Promise<string>;
  status(): Promise<ServiceStatus>;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}

/** A test service's own lake, topics (by prefix), consumer group and warehouse, on the given broker. */
export function serviceSettings(options: {
  folder: string;
  brokers: string;
  prefix: string;
  warehouseUrl: string;
}): Record<string, string> {
  return {
    LAKE_URL: `file://${options.folder}/lake`,
    STREAM_URL: `kafka://${options.brokers}`,
    STREAM_TOPIC_PREFIX: options.prefix,
    STREAM_GROUP_ID: `${options.prefix}group`,
    WAREHOUSE_URL: options.warehouseUrl,
  };
}

/** Starts `ecomm stream-ingest --follow --health-port 0` with exactly `env` (plus PATH, a private TMPDIR and a test PII key). */
export function startService(env: Record<string, string>): RunningService {
  const folder = mkdtempSync(join(tmpdir(), 'stream-svc-'));
  const child = spawn(process.execPath, [CLI, 'stream-ingest', '--follow', '--health-port', '0'], {
    cwd: folder,
    env: {
      PATH: process.env.PATH ?? '',
      TMPDIR: folder,
      LOG_LEVEL: 'warn',
      OPENLINEAGE_URL: 'none',
      // A real broker is not the laptop demo: the PII key comes from the secret store (env://).
      PII_HASH_KEY: 'stream-service-test-key',
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      rmSync(folder, { recursive: true, force: true });
      resolve(code);
    }),
  );
  let base: string | undefined;
  const health = async () => {
    base ??= await waitFor(
      () => /health on (http:\/\/\S+)\/healthz/.exec(stdout)?.[1],
      `the health endpoint (stderr: ${stderr.slice(-500)})`,
      30_000,
      50,
    );
    return base;
  };
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    health,
    async status() {
      const response = await fetch(`${await health()}/status`, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`/status answered ${response.status}`);
      return (await response.json()) as ServiceStatus;
    },
  };
}

/** A fresh database on the test PostgreSQL, and its URL; dropped by dispose. */
export function clickEvent(id: string, at: Date, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event_id: id,
    event_type: 'page_view',
    occurred_at: at.toISOString(),
    session_id: `s-${id.length % 7}`,
    device: 'web',
    page_url: `https://shop.example/p/${id}`,
    ...extra,
  });
}

export function orderEvent(id: string, at: Date, orderId: number): string {
  return JSON.stringify({
    event_id: id,
    event_type: 'order_status_changed',
    occurred_at: at.toISOString(),
    order_id: orderId,
    status: 'shipped',
  });
}

/** Every envelope in the raw objects of a topic (zstd NDJSON), read straight from the lake. */
export async function rawEnvelopes(lake: ObjectStore, topic: string): Promise<RawEnvelope[]> {
  const envelopes: RawEnvelope[] = [];
  for await (const info of lake.list(`raw/source=${topic}/`)) {
    const body = await openRawObject(lake, info.key);
    for await (const line of createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (line !== '') envelopes.push(JSON.parse(line) as RawEnvelope);
    }
  }
  return envelopes;
}

/**
 * Per partition, the end of the prefix of offsets [0, n) that raw objects cover without a gap: a committed
 * offset may never be beyond it.
 */
export function rawCoverage(envelopes: RawEnvelope[]): Map<number, number> {
  const offsets = new Map<number, Set<number>>();
  for (const envelope of envelopes) {
    const set = offsets.get(envelope.partition) ?? new Set<number>();
    offsets.set(envelope.partition, set);
    set.add(envelope.offset);
  }
  const coverage = new Map<number, number>();
  for (const [partition, set] of offsets) {
    let end = 0;
    while (set.has(end)) end += 1;
    coverage.set(partition, end);
  }
  return coverage;
}

/** Event ids of a topic's raw envelopes whose value parses as JSON with an event_id. */
export function rawEventIds(envelopes: RawEnvelope[]): Set<string> {
  const ids = new Set<string>();
  for (const envelope of envelopes) {
    if (envelope.value === undefined) continue;
    try {
      const id = (JSON.parse(envelope.value) as { event_id?: unknown }).event_id;
      if (typeof id === 'string') ids.add(id);
    } catch {
      /* poison: not an event */
    }
  }
  return ids;
}

/** Event ids in a silver table with how many rows each has. */
export async function silverCounts(db: SqlDatabase, table: string): Promise<Map<string, number>> {
  const rows = await db.query<{ event_id: string; n: number }>(
    `select event_id, cast(count(*) as integer) as n from ${table} group by event_id`,
  );
  return new Map(rows.map((row) => [row.event_id, Number(row.n)]));
}

/** The group's committed offsets (admin API: reading them never joins the group). */
export async function committedOffsets(
  brokers: string,
  group: string,
  topics: string[],
): Promise<TopicPartitionOffset[]> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  await admin.connect();
  try {
    const fetched = await admin.fetchOffsets({ groupId: group, topics });
    return fetched.flatMap(({ topic, partitions }) =>
      partitions.map(({ partition, offset }) => ({ topic, partition, offset: Math.max(0, Number(offset)) })),
    );
  } finally {
    await admin.disconnect();
  }
}

/** A seeded generator (mulberry32): the fault suite prints its seed, STREAM_FAULT_SEED replays it. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
