/**
 * What the service benches (hourly.bench.ts, scale.bench.ts) share: their usage errors, the cleanup of everything
 * they create (also on Ctrl-C), the check that the test services answer, the bench's own Kafka topics, and child
 * processes timed under GNU time (wall time, CPU and peak RSS from the kernel's accounting).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { silenceKafkajsTimeoutWarning } from '../adapters/stream/kafka-warnings.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { STREAM_TOPICS } from '../jobs/catalog.ts';
import { MAIN_THREAD_NODE_FLAGS, MALLOC_ENVIRONMENT } from '../jobs/memory-limits.ts';
import { loadServiceEnv, type ServiceEnv } from '../scripts/services/env.ts';
import { createTestDatabase, type TestDatabase } from '../test/pg-database.ts';

export const REPO_ROOT = new URL('..', import.meta.url).pathname;
export const CLI = join(REPO_ROOT, 'jobs/cli.ts');
export const GNU_TIME = '/usr/bin/time';

// The benches create topics with kafkajs themselves.
silenceKafkajsTimeoutWarning();

/** A bad setting or a missing service: the bench says what to do and exits 2, having created nothing. */
export class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Cleanup: everything a bench creates is registered here and removed at the end, also on Ctrl-C.

const disposers: (() => Promise<void>)[] = [];
let running: { kill(signal: NodeJS.Signals): void } | null = null;
let disposing: Promise<void> | undefined;
let benchName = 'bench';

/** Registers what undoes something the bench made; undone last made, first. */
export function onCleanup(dispose: () => Promise<void>): void {
  disposers.push(dispose);
}

/** One cleanup at a time: a signal and the failing job it interrupts both wait for the same one. */
export function disposeAll(): Promise<void> {
  disposing ??= (async () => {
    while (disposers.length > 0) {
      const dispose = disposers.pop() as () => Promise<void>;
      try {
        await dispose();
      } catch (error) {
        process.stderr.write(`${benchName} bench: cleanup step failed: ${(error as Error).message}\n`);
      }
    }
  })().finally(() => {
    disposing = undefined;
  });
  return disposing;
}

/** On SIGINT or SIGTERM: kills the child in hand, removes what the bench made, exits 130 or 143. */
export function cleanUpOnSignals(name: string): void {
  benchName = name;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(
        `${name} bench: ${signal}: stopping the job in hand, removing what the bench made\n`,
      );
      running?.kill('SIGKILL');
      void disposeAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Services

/** The test services must answer before anything is created: a clear message instead of a stack trace. */
export async function checkServices(clientId: string): Promise<ServiceEnv> {
  let services: ServiceEnv;
  try {
    services = loadServiceEnv();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const start = 'start them with `npm run services:up` (or point ECOMM_SERVICES_DIR at running ones)';
  const client = new pg.Client({
    connectionString: services.TEST_PG_ADMIN_URL,
    connectionTimeoutMillis: 5_000,
  });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new UsageError(
      `the services' PostgreSQL at ${services.TEST_PG_HOST}:${services.TEST_PG_PORT} does not answer ` +
        `(${(error as Error).message}): ${start}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  const admin = kafkaAdmin(services.TEST_KAFKA_BROKERS, clientId);
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (error) {
    throw new UsageError(
      `the services' Kafka at ${services.TEST_KAFKA_BROKERS} does not answer (${(error as Error).message}): ${start}`,
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  if (!existsSync(GNU_TIME))
    throw new UsageError(`${GNU_TIME} (GNU time) is needed for peak RSS per step: apt-get install time`);
  return services;
}

export function kafkaAdmin(brokers: string, clientId: string) {
  return new Kafka({
    clientId,
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
    retry: { retries: 1 },
  }).admin();
}

/** A fresh database on the services' PostgreSQL, dropped at cleanup. */
export async function freshDatabase(label: string): Promise<TestDatabase> {
  const database = await createTestDatabase(label);
  onCleanup(() => database.dispose());
  return database;
}

/**
 * The bench's topics, created before `ecomm generate` fills them, with time-based retention off: the generated
 * events carry their occurred_at (up to 30 days back) as record timestamps, so under the broker's default 7-day
 * retention its next retention check (every 5 minutes) deletes the older segments, and a pipeline that reads the
 * topics after it would see fewer events than one that read them before. Deleted (with the consumer groups under
 * the prefix) at cleanup.
 */
export async function createBenchTopics(brokers: string, prefix: string, clientId: string): Promise<void> {
  onCleanup(() => deleteTopics(brokers, prefix, clientId));
  const admin = kafkaAdmin(brokers, clientId);
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: STREAM_TOPICS.map(({ topic, partitions }) => ({
        topic: `${prefix}${topic}`,
        numPartitions: partitions,
        configEntries: [{ name: 'retention.ms', value: '-1' }],
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** The bench's topics and consumer groups: everything under its prefix. */
async function deleteTopics(brokers: string, prefix: string, clientId: string): Promise<void> {
  const admin = kafkaAdmin(brokers, clientId);
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups
      .map((group) => group.groupId)
      .filter((group) => group.startsWith(prefix));
    if (groups.length > 0) await admin.deleteGroups(groups);
  } finally {
    await admin.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

export interface ProcessRun {
  label: string;
  wallSeconds: number;
  /** User + system CPU of the process (not of the database server it drives). */
  cpuSeconds: number;
  peakRssMiB: number;
  stdout: string;
  startedAt: Date;
  finishedAt: Date;
}

/** What GNU time -v says of a process: CPU (user + system) and peak RSS. */
export interface TimeReport {
  userSeconds: number;
  systemSeconds: number;
  peakRssMiB: number;
}

/** Parses `/usr/bin/time -v` output; null when it holds no maximum resident set size (the process never ran). */
export function parseTimeReport(report: string): TimeReport | null {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  if (!rss) return null;
  return {
    userSeconds: timeField(report, 'User time (seconds)'),
    systemSeconds: timeField(report, 'System time (seconds)'),
    peakRssMiB: Number(rss[1]) / 1024,
  };
}

function timeField(report: string, name: string): number {
  const line = report.split('\n').find((candidate) => candidate.trim().startsWith(`${name}:`));
  return Number(line?.split(':').at(-1)?.trim() ?? Number.NaN);
}

/**
 * `command args` in its own process under GNU time: wall time, and CPU and peak RSS from the kernel's accounting.
 * Throws with the end of its stderr when it exits other than 0.
 */
export async function timedProcess(
  label: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  displayName: string = label,
): Promise<ProcessRun> {
  const timeFile = join(tmpdir(), `ecomm-bench-time-${randomBytes(4).toString('hex')}.txt`);
  const startedAt = new Date();
  const begin = performance.now();
  const child = spawn(GNU_TIME, ['-v', '-o', timeFile, command, ...args], {
    // A job starts with the image's and the stacks' flags (jobs/memory-limits.ts), so its peak RSS is the deployed one.
    env: { ...process.env, NODE_OPTIONS: MAIN_THREAD_NODE_FLAGS, ...MALLOC_ENVIRONMENT, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: on Ctrl-C the bench kills time and the job together, then cleans up.
    detached: true,
  });
  running = { kill: (signal) => child.pid && process.kill(-child.pid, signal) };
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8_000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  running = null;
  const wallSeconds = (performance.now() - begin) / 1000;
  const timeReport = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
  rmSync(timeFile, { force: true });
  if (code !== 0) throw new Error(`${displayName} exited ${code}: ${stderr.trim().slice(-2_000)}`);
  const time = parseTimeReport(timeReport);
  if (!time) throw new Error(`${GNU_TIME} reported no maximum resident set size for ${label}`);
  return {
    label,
    wallSeconds,
    cpuSeconds: time.userSeconds + time.systemSeconds,
    peakRssMiB: time.peakRssMiB,
    stdout,
    startedAt,
    finishedAt: new Date(),
  };
}

/** `ecomm <args>` (the CLI on this Node) in its own process under GNU time. */
export async function ecomm(label: string, args: string[], env: Record<string, string>): Promise<ProcessRun> {
  return timedProcess(label, process.execPath, [CLI, ...args], env, `\`ecomm ${args.join(' ')}\` (${label})`);
}

// ---------------------------------------------------------------------------------------------------------------
// What the jobs recorded

/**
 * The rows a step moved, from what its job recorded while it ran: extract and stream-ingest rows written to raw,
 * validate records checked, load rows into bronze, reconcile source keys compared, quality bronze checks run,
 * transform rows written by the models.
 */
export async function rowsOf(db: SqlDatabase, job: string, child: ProcessRun): Promise<number> {
  const window = [child.startedAt, child.finishedAt];
  if (job === 'quality') {
    const [row] = await db.query<{ n: number }>(
      `select cast(count(*) as integer) as n from ops.dq_findings
       where layer = 'bronze' and checked_at >= $1 and checked_at <= $2`,
      window,
    );
    return row?.n ?? 0;
  }
  const column = job === 'validate' || job === 'reconcile' ? 'rows_in' : 'rows_out';
  const [row] = await db.query<{ n: number }>(
    `select cast(coalesce(sum(${column}), 0) as bigint) as n from ops.pipeline_runs
     where job = $1 and started_at >= $2 and started_at <= $3`,
    [job, ...window],
  );
  return Number(row?.n ?? 0);
}

/** Batches registered and neither loaded, failed nor skipped: a reconcile's repairs waiting for validate and load. */
export async function pendingBatches(db: SqlDatabase): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `select cast(count(*) as integer) as n from ops.batches
     where loaded_at is null and failed_at is null and skipped_at is null`,
  );
  return row?.n ?? 0;
}

/** `ecomm generate`'s lines "generated <source> <count>". */
export function parseGenerated(stdout: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of stdout.matchAll(/^generated (\S+)\s+(\d+)$/gm))
    counts[match[1] as string] = Number(match[2]);
  return counts;
}

/** The machine the figures come from: cores, CPU model, memory and Node version. */
export function machineFacts(): string {
  return `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

/** The machine's 1-minute load average now. */
export function loadAverageNow(): number {
  return loadavg()[0] as number;
}
