/**
 * `npm run bench` (part 3, needs `npm run services:up`): the stream service on the test services' Kafka broker,
 * with PostgreSQL as the warehouse and a local folder as the lake.
 *
 * 1. Ingest: N events produced beforehand to one topic (3 partitions) are read, in the same run, by a bare kafkajs
 *    consume-and-discard loop and by stage 1 of `ecomm stream-ingest --follow` (STREAM_APPLY=off: Kafka to durable
 *    zstd NDJSON raw objects, ledger row, commit), alternating, TRIALS times each; then once by the whole service
 *    (its applier validates, loads and applies to silver meanwhile). Rate = events/s between 10% and 90% of N
 *    (start-up excluded for both); the ratio is of the medians.
 * 2. Event-to-silver latency at steady produce rates (default 50,000 events/min, then higher until one is not
 *    sustained): for every event, from its broker timestamp (the producer's send time) to the commit of the
 *    transaction that put it in silver (pipeline_runs.finished_at of its batch). p50/p95/p99 after a 5 s warm-up.
 *    A rate is sustained when p95 <= 10 s and the service catches up within 15 s of the producer stopping.
 *
 * Writes bench/results/stream.json and bench/results/stream.md. Settings: BENCH_STREAM_EVENTS (1500000),
 * BENCH_STREAM_TRIALS (5), BENCH_STREAM_SECONDS per rate (30), BENCH_STREAM_RATES events/min
 * (50000,250000,500000,1000000,2000000,3000000,4000000).
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import type { OutgoingMessage } from '../adapters/stream/event-stream.ts';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import { loadConfig } from '../jobs/config.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { createTestDatabase, type RunningService, startService, waitFor } from '../test/stream-harness.ts';

const root = new URL('..', import.meta.url).pathname;
const EVENTS = Number(process.env.BENCH_STREAM_EVENTS ?? '1500000');
const TRIALS = Number(process.env.BENCH_STREAM_TRIALS ?? '5');
const SECONDS = Number(process.env.BENCH_STREAM_SECONDS ?? '30');
const RATES = (process.env.BENCH_STREAM_RATES ?? '50000,250000,500000,1000000,2000000,3000000,4000000')
  .split(',')
  .map(Number)
  .filter((rate) => rate > 0);
const WARM_UP_MS = 5_000;
const P95_TARGET_S = 10;

const services = loadServiceEnv();
const brokers = services.TEST_KAFKA_BROKERS;
const out = (line: string) => process.stdout.write(`${line}\n`);

const TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout_started',
  'purchase',
];
function event(id: number, at: Date): string {
  const type = TYPES[id % TYPES.length] as string;
  return JSON.stringify({
    event_id: `bench-${id}`,
    event_type: type,
    occurred_at: at.toISOString(),
    session_id: `s-${id % 5_000}`,
    customer_id: id % 3 === 0 ? null : id % 20_000,
    device: ['web', 'ios', 'android'][id % 3],
    page_url: `https://shop.example/products/${id % 200}?ref=home`,
    product_id: type === 'page_view' ? null : (id % 200) + 1,
    quantity: type === 'add_to_cart' || type === 'remove_from_cart' ? (id % 3) + 1 : null,
    order_id: type === 'purchase' ? id : null,
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Rate between 10% and 90% of total, from (time, count) samples. */
function steadyRate(samples: [number, number][], total: number): number {
  const at = (fraction: number) => samples.find(([, count]) => count >= fraction * total)?.[0] ?? Number.NaN;
  return (0.8 * total) / ((at(0.9) - at(0.1)) / 1000);
}

interface World {
  prefix: string;
  env: Record<string, string>;
  dispose(): Promise<void>;
}

async function world(label: string, topicPrefix?: string): Promise<World> {
  const prefix = topicPrefix ?? `bench-${label}-${randomInt(1e9).toString(36)}.`;
  const folder = mkdtempSync(join(tmpdir(), `stream-bench-${label}-`));
  const database = await createTestDatabase(`bench_${label}`);
  return {
    prefix,
    env: {
      LAKE_URL: `file://${folder}/lake`,
      STREAM_URL: `kafka://${brokers}?clientId=stream-bench`,
      STREAM_TOPIC_PREFIX: prefix,
      STREAM_GROUP_ID: `${prefix}group-${label}`,
      WAREHOUSE_URL: database.url,
    },
    async dispose() {
      await database.dispose();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** A producer on the bench's topics (3 partitions each) under a world's prefix. */
async function producerFor(prefix: string) {
  const stream = withTopicPrefix(
    openKafkaStream(`kafka://${brokers}?clientId=stream-bench-producer`),
    prefix,
  );
  await stream.ensureTopics([
    { name: 'clickstream', partitions: 3 },
    { name: 'order-events', partitions: 3 },
  ]);
  return stream;
}

async function stop(service: RunningService): Promise<void> {
  service.child.kill('SIGTERM');
  const code = await Promise.race([service.exited, sleep(30_000).then(() => 'timeout')]);
  if (code !== 0) {
    service.child.kill('SIGKILL');
    throw new Error(`the service did not stop cleanly (${code}): ${service.stderr().slice(-2000)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Ingest throughput: bare kafkajs against the service, on the same topic in the same run

async function ingestBench() {
  const w = await world('ingest');
  const stream = await producerFor(w.prefix);
  const at = new Date();
  let produceMs = performance.now();
  let bytes = 0;
  for (let start = 0; start < EVENTS; start += 20_000) {
    const messages: OutgoingMessage[] = [];
    for (let id = start; id < Math.min(EVENTS, start + 20_000); id += 1) {
      const value = event(id, at);
      bytes += value.length;
      messages.push({ key: `s-${id % 5_000}`, value });
    }
    await stream.publish('clickstream', messages);
  }
  produceMs = performance.now() - produceMs;
  await stream.close();
  out(
    `ingest: produced ${EVENTS} events (${(bytes / EVENTS).toFixed(0)} B each) in ${(produceMs / 1000).toFixed(1)} s`,
  );

  // Bare kafkajs and stage 1 alternate, TRIALS times each on the same topic (each run with its own group), so
  // that both see the same machine; the ratio is of the medians.
  const bare: number[] = [];
  const ingestOnly: number[] = [];
  for (let trial = 1; trial <= TRIALS; trial += 1) {
    bare.push(await bareIngest(w.prefix, trial));
    ingestOnly.push((await serviceIngest(w.prefix, `ingestonly${trial}`, { STREAM_APPLY: 'off' })).rate);
    out(
      `ingest trial ${trial}: bare kafkajs ${bare.at(-1)} events/s, stage 1 ${ingestOnly.at(-1)} events/s ` +
        `(ratio ${((ingestOnly.at(-1) ?? 0) / (bare.at(-1) ?? 1)).toFixed(3)})`,
    );
  }
  // The whole service once: its applier validates, loads and applies to silver on the same two cores meanwhile.
  const whole = await serviceIngest(w.prefix, 'whole', {});
  await w.dispose();
  const bareRate = Math.round(median(bare));
  const ingestOnlyRate = Math.round(median(ingestOnly));
  return {
    events: EVENTS,
    bytesPerEvent: Math.round(bytes / EVENTS),
    trials: TRIALS,
    bareKafkajsTrials: bare,
    ingestOnlyTrials: ingestOnly,
    bareKafkajsEventsPerSecond: bareRate,
    ingestOnlyEventsPerSecond: ingestOnlyRate,
    ingestOnlyRatio: Number((ingestOnlyRate / bareRate).toFixed(3)),
    // Each stage-1 trial against the bare trial just before it: the machine's speed drifts between trials.
    trialRatios: ingestOnly.map((rate, index) => Number((rate / (bare[index] as number)).toFixed(3))),
    serviceRawEventsPerSecond: whole.rate,
    serviceRatio: Number((whole.rate / bareRate).toFixed(3)),
    rawObjects: whole.objects,
    serviceAllRawSeconds: whole.rawSeconds,
    serviceAllInSilverSeconds: whole.silverSeconds,
    endToEndEventsPerSecond: Math.round(EVENTS / whole.silverSeconds),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Bare kafkajs: consume and discard, the same fetch sizes per partition as the service. */
async function bareIngest(prefix: string, trial: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'stream-bench-bare', brokers: [brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `${prefix}bare${trial}`,
    maxBytesPerPartition: 8 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [`${prefix}clickstream`], fromBeginning: true });
  const samples: [number, number][] = [];
  let seen = 0;
  let resolveBare!: () => void;
  const bareDone = new Promise<void>((resolve) => {
    resolveBare = resolve;
  });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      seen += batch.messages.length;
      samples.push([performance.now(), seen]);
      if (seen >= EVENTS) resolveBare();
    },
  });
  await bareDone;
  await consumer.disconnect();
  return Math.round(steadyRate(samples, EVENTS));
}

/**
 * One service run over the produced topic: its steady rate to durable raw objects, and when everything was in raw
 * and in silver. Progress is the group's committed offsets, read by the bench's own client (a commit follows the
 * durable write), so that watching costs the service nothing.
 */
async function serviceIngest(prefix: string, label: string, settings: Record<string, string>) {
  const w = await world(label, prefix);
  const groupId = w.env.STREAM_GROUP_ID as string;
  const admin = new Kafka({
    clientId: 'stream-bench-watch',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  const service = startService({ ...w.env, ...settings });
  const started = performance.now();
  const samples: [number, number][] = [];
  const db = await openPostgres(w.env.WAREHOUSE_URL as string);
  try {
    await waitFor(
      async () => {
        const committed = await admin.fetchOffsets({ groupId, topics: [`${prefix}clickstream`] });
        const written = committed
          .flatMap((topic) => topic.partitions)
          .reduce((sum, partition) => sum + Math.max(0, Number(partition.offset)), 0);
        samples.push([performance.now(), written]);
        return written >= EVENTS ? true : undefined;
      },
      'the service to write and commit every event',
      600_000,
      20,
    );
    const rawSeconds = (performance.now() - started) / 1000;
    let silverSeconds = Number.NaN;
    if (settings.STREAM_APPLY !== 'off') {
      await waitFor(
        async () => {
          const [row] = await db.query<{ n: number }>(
            "select cast(count(*) as integer) as n from ops.batches where source_kind = 'stream' and loaded_at is null",
          );
          return row?.n === 0 ? true : undefined;
        },
        'the applier to catch up',
        900_000,
        250,
      );
      silverSeconds = (performance.now() - started) / 1000;
    }
    const [objects] = await db.query<{ n: number }>('select cast(count(*) as integer) as n from ops.batches');
    await stop(service);
    const rate = Math.round(steadyRate(samples, EVENTS));
    out(
      `ingest: service (${label}) ${rate} events/s to durable raw objects (${objects?.n} objects; all in raw after ` +
        `${rawSeconds.toFixed(1)} s${Number.isNaN(silverSeconds) ? '' : `, all in silver after ${silverSeconds.toFixed(1)} s`})`,
    );
    return {
      rate,
      objects: objects?.n ?? 0,
      rawSeconds: Number(rawSeconds.toFixed(1)),
      silverSeconds: Number(silverSeconds.toFixed(1)),
    };
  } finally {
    service.child.kill('SIGKILL');
    await admin.disconnect();
    await db.close();
    await w.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Event-to-silver latency at steady rates

interface LatencyResult {
  eventsPerMinute: number;
  produced: number;
  measured: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  catchUpSeconds: number;
  sustained: boolean;
}

async function latencyAt(eventsPerMinute: number): Promise<LatencyResult> {
  const w = await world(`lat${eventsPerMinute}`);
  const stream = await producerFor(w.prefix);
  const service = startService(w.env);
  const db = await openPostgres(w.env.WAREHOUSE_URL as string);
  try {
    await waitFor(async () => ((await service.status()).ready ? true : undefined), 'the service', 60_000);
    // Steady production: every 100 ms, the events due by then (each stamped by the broker with its send time).
    const perTick = eventsPerMinute / 600;
    const started = performance.now();
    const startedAt = Date.now();
    let produced = 0;
    while (performance.now() - started < SECONDS * 1000) {
      const due = Math.floor(((performance.now() - started) / 100) * perTick);
      if (due > produced) {
        const messages: OutgoingMessage[] = [];
        const now = new Date();
        for (let id = produced; id < due; id += 1)
          messages.push({ key: `s-${id % 5_000}`, value: event(id, now) });
        await stream.publish('clickstream', messages);
        produced = due;
      }
      await sleep(Math.max(0, 100 - ((performance.now() - started) % 100)));
    }
    const stoppedProducing = performance.now();
    await waitFor(
      async () => {
        const [row] = await db.query<{ n: number }>(
          'select cast(count(*) as integer) as n from silver.clickstream_events',
        );
        return (row?.n ?? 0) >= produced ? true : undefined;
      },
      'every event in silver',
      900_000,
      250,
    );
    const catchUpSeconds = (performance.now() - stoppedProducing) / 1000;
    const rows = await db.query<{ latency_ms: number }>(
      `with applied as (
         select batch_id, min(finished_at) as at from ops.pipeline_runs
         where job = 'stream-ingest' and step = 'apply.clickstream' group by batch_id
       )
       select cast(extract(epoch from (a.at - s.published_at)) * 1000 as integer) as latency_ms
       from silver.clickstream_events s join applied a on a.batch_id = s._batch_id
       where s.published_at >= $1`,
      [new Date(startedAt + WARM_UP_MS)],
    );
    await stop(service);
    const latencies = rows.map((row) => Number(row.latency_ms) / 1000).sort((a, b) => a - b);
    const result: LatencyResult = {
      eventsPerMinute,
      produced,
      measured: latencies.length,
      p50: Number(percentile(latencies, 50).toFixed(2)),
      p95: Number(percentile(latencies, 95).toFixed(2)),
      p99: Number(percentile(latencies, 99).toFixed(2)),
      max: Number((latencies.at(-1) ?? Number.NaN).toFixed(2)),
      catchUpSeconds: Number(catchUpSeconds.toFixed(1)),
      sustained: false,
    };
    result.sustained = result.p95 <= P95_TARGET_S && catchUpSeconds <= 15;
    out(
      `latency at ${eventsPerMinute} events/min: p50 ${result.p50} s, p95 ${result.p95} s, p99 ${result.p99} s ` +
        `(${result.measured} events; caught up ${result.catchUpSeconds} s after the producer stopped)` +
        (result.sustained ? '' : ' - not sustained'),
    );
    return result;
  } finally {
    service.child.kill('SIGKILL');
    await stream.close();
    await db.close();
    await w.dispose();
  }
}

const defaults = loadConfig({});
const ingest = await ingestBench();
const latency: LatencyResult[] = [];
for (const rate of RATES) {
  const result = await latencyAt(rate);
  latency.push(result);
  if (!result.sustained && rate > 50_000) break;
}
const highest = [...latency].reverse().find((result) => result.sustained) ?? null;

const results = {
  machine: `${cpus().length} cores, Node ${process.version}`,
  settings: `service defaults: STREAM_CONSUMERS ${defaults.STREAM_CONSUMERS}, STREAM_BATCH_MAX_AGE_MS ${defaults.STREAM_BATCH_MAX_AGE_MS}, STREAM_BATCH_MAX_BYTES ${defaults.STREAM_BATCH_MAX_BYTES / 1024 / 1024} MiB, STREAM_BATCH_MAX_EVENTS ${defaults.STREAM_BATCH_MAX_EVENTS}`,
  ingest,
  latency,
  highestSustainedEventsPerMinute: highest?.eventsPerMinute ?? null,
  targets: {
    ingestEventsPerSecond: { target: 50_000, met: ingest.ingestOnlyEventsPerSecond >= 50_000 },
    ratio: { target: 0.5, met: ingest.ingestOnlyRatio >= 0.5 },
    p95AtFiftyThousandPerMinute: {
      target: P95_TARGET_S,
      met:
        (latency.find((result) => result.eventsPerMinute === 50_000)?.p95 ?? Number.POSITIVE_INFINITY) <=
        P95_TARGET_S,
    },
  },
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/stream.json'), `${JSON.stringify(results, null, 2)}\n`);
const n = (value: number) => value.toLocaleString('en-US');
const table = latency
  .map(
    (r) =>
      `| ${n(r.eventsPerMinute)} | ${n(r.measured)} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.catchUpSeconds} | ${r.sustained ? 'yes' : 'no'} |`,
  )
  .join('\n');
writeFileSync(
  join(root, 'bench/results/stream.md'),
  `# Stream service benchmark

${results.machine}; Kafka 4.3.1 (the test services' single broker, on the same machine), PostgreSQL 15 warehouse,
local-folder lake. ${results.settings}. Command: \`node bench/stream.bench.ts\` (part of \`npm run bench\`).

## Ingest: Kafka to durable raw objects (${n(ingest.events)} events of ~${ingest.bytesPerEvent} B, 3 partitions, same topic)

| reader | events/s (10%-90% of the run; median of ${ingest.trials} trials) | each trial | ratio to bare |
| --- | --- | --- | --- |
| bare kafkajs consume-and-discard | ${n(ingest.bareKafkajsEventsPerSecond)} | ${ingest.bareKafkajsTrials.map(n).join(', ')} | 1 |
| service, stage 1 only (\`STREAM_APPLY=off\`): zstd NDJSON object + ledger row + commit per micro-batch | ${n(ingest.ingestOnlyEventsPerSecond)} | ${ingest.ingestOnlyTrials.map(n).join(', ')} | ${ingest.ingestOnlyRatio} |
| whole service (its applier validates, loads, applies to silver on the same cores meanwhile) | ${n(ingest.serviceRawEventsPerSecond)} | one run | ${ingest.serviceRatio} |

Each stage-1 trial against the bare trial just before it: ${ingest.trialRatios.join(', ')} (median ${median(ingest.trialRatios).toFixed(3)}).
Targets: >= 50,000 events/s ${results.targets.ingestEventsPerSecond.met ? 'met' : 'NOT met'}; ratio (of the medians) >= 0.5 ${results.targets.ratio.met ? 'met' : 'NOT met'}.
Whole service: ${ingest.rawObjects} raw objects; every event in raw ${ingest.serviceAllRawSeconds} s and in silver
${ingest.serviceAllInSilverSeconds} s after start: ${n(ingest.endToEndEventsPerSecond)} events/s end to end, start-up included.

## Event-to-silver latency (seconds, broker timestamp to the commit that put the event in silver)

| events/min | events measured | p50 | p95 | p99 | caught up after producer stopped (s) | sustained |
| --- | --- | --- | --- | --- | --- | --- |
${table}

Highest sustained rate: ${highest ? `${n(highest.eventsPerMinute)} events/min (p95 ${highest.p95} s)` : 'none'}.
A rate is sustained when p95 <= ${P95_TARGET_S} s and the service catches up within 15 s after the producer stops; rates
are tried in order and the run stops at the first that is not.
`,
);
out('wrote bench/results/stream.json and bench/results/stream.md');
process.exit(0);
