// One Apache Kafka KRaft node (broker + controller) from the jars `npm run services:up` resolved into
// .services/kafka/libs: the broker settings kafka.ts writes for the shared test broker, and a way for a test to
// run a private node of its own (same jars, same settings) that it may stop, restart and kill without disturbing
// the suites sharing the services' broker. See docs/services.md.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { SERVICES_DIR } from './env.ts';

export const KAFKA_LIBS = path.join(SERVICES_DIR, 'kafka', 'libs');
const LOG4J = path.join(import.meta.dirname, 'kafka', 'log4j2.properties');

/** The broker's default topic retention: 7 days, the stacks' default and the documented recovery window. */
export const DEFAULT_RETENTION_HOURS = 168;

/** ECOMM_KAFKA_RETENTION_HOURS: a whole number of hours, at least 1; anything else stops the script with its name. */
export function retentionHoursFrom(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_RETENTION_HOURS;
  const hours = Number(value);
  if (!Number.isInteger(hours) || hours < 1)
    throw new Error(
      `ECOMM_KAFKA_RETENTION_HOURS must be a whole number of hours, at least 1 (got "${value}")`,
    );
  return hours;
}

/**
 * The node's server.properties. Besides the single-node essentials: messages up to 8 MiB (message.max.bytes,
 * replica.fetch.max.bytes; the default 1 MiB would refuse the 2 MiB poison message the stream fault tests
 * dead-letter), and group sessions down to 1 s (group.min.session.timeout.ms, default 6 s), so a test can
 * declare a SIGKILLed consumer gone quickly. Both only widen what clients may ask for. The default topic retention
 * is explicit (`retentionHours`, 168 like both stacks' default: the recovery window, docs/streaming.md).
 */
export function kafkaProperties(options: {
  port: number;
  controllerPort: number;
  dataDir: string;
  retentionHours?: number;
}): Record<string, string> {
  const { port, controllerPort, dataDir, retentionHours = DEFAULT_RETENTION_HOURS } = options;
  return {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': dataDir,
    'log.retention.hours': String(retentionHours),
    'num.partitions': '1',
    'auto.create.topics.enable': 'true',
    'delete.topic.enable': 'true',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    'group.min.session.timeout.ms': '1000',
    'message.max.bytes': String(8 * 1024 * 1024),
    'replica.fetch.max.bytes': String(8 * 1024 * 1024),
    'num.network.threads': '2',
    'num.io.threads': '2',
    'background.threads': '2',
    'num.recovery.threads.per.data.dir': '1',
  };
}

export function writeKafkaProperties(file: string, properties: Record<string, string>): void {
  const text = Object.entries(properties)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
  fs.writeFileSync(file, `# Written by scripts/services at each start\n${text}\n`);
}

export function kafkaJvmArgs(options: { heap: string; log4j: string; logsDir: string }): string[] {
  return [
    '-Xms128m',
    options.heap,
    '-XX:+UseSerialGC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${options.log4j}`,
    `-Dkafka.logs.dir=${options.logsDir}`,
    '-cp',
    `${KAFKA_LIBS}/*`,
  ];
}

/** Whether a Kafka node answers on the port: metadata with a broker and a controller. */
export async function kafkaAnswers(port: number): Promise<boolean> {
  const open = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
  if (!open) return false;
  const admin = new Kafka({
    clientId: 'services-probe',
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export interface KafkaNode {
  /** `127.0.0.1:<port>` */
  brokers: string;
  port: number;
  /** Stops the broker (SIGTERM: a controlled shutdown), then starts it again on the same port and data. */
  restart(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and deletes its folder. */
  dispose(): Promise<void>;
}

/** A KRaft cluster id: 16 random bytes in URL-safe base64 (what `StorageTool random-uuid` prints). */
export function newClusterId(): string {
  return crypto.randomBytes(16).toString('base64url');
}

/**
 * The StorageTool call that formats a node's storage once. `--cluster-id=<id>`, not `-t <id>`: an id starting with
 * '-' (1 in 64) would be read as an option and the format refused.
 */
export function storageFormatArgs(clusterId: string, propsFile: string): string[] {
  return ['kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', propsFile];
}

/**
 * Starts a private single-node Kafka in `dir` (formatted on first use) on free loopback ports, and waits until it
 * answers. Needs the jars of `npm run services:up`.
 */
export async function startKafkaNode(dir: string, options: { heap?: string } = {}): Promise<KafkaNode> {
  if (!fs.existsSync(KAFKA_LIBS)) throw new Error(`${KAFKA_LIBS} missing: run \`npm run services:up\` first`);
  fs.mkdirSync(dir, { recursive: true });
  const [port, controllerPort] = (await freePorts(2)) as [number, number];
  const dataDir = path.join(dir, 'data');
  const propsFile = path.join(dir, 'server.properties');
  const logFile = path.join(dir, 'kafka.log');
  writeKafkaProperties(propsFile, kafkaProperties({ port, controllerPort, dataDir }));
  const jvm = kafkaJvmArgs({ heap: options.heap ?? '-Xmx384m', log4j: LOG4J, logsDir: dir });
  if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
    const format = spawnSync('java', [...jvm, ...storageFormatArgs(newClusterId(), propsFile)], {
      encoding: 'utf8',
    });
    if (format.status !== 0) throw new Error(`kafka storage format failed: ${format.stderr}${format.stdout}`);
  }
  let child: ChildProcess | undefined;
  const start = async () => {
    const out = fs.openSync(logFile, 'a');
    child = spawn('java', [...jvm, 'kafka.Kafka', propsFile], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const started = child;
    let exited = false;
    started.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 120_000;
    while (!(await kafkaAnswers(port))) {
      if (exited) throw new Error(`kafka node exited during startup; see ${logFile}`);
      if (Date.now() > deadline) throw new Error(`kafka node did not answer within 120 s; see ${logFile}`);
      await sleep(250);
    }
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    const killed = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!killed) {
      running.kill('SIGKILL');
      await exited;
    }
  };
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);
  await start();
  return {
    brokers: `127.0.0.1:${port}`,
    port,
    async restart({ downMs = 0 } = {}) {
      await stop();
      if (downMs > 0) await sleep(downMs);
      await start();
    },
    stop,
    async dispose() {
      await stop();
      process.removeListener('exit', onExit);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Free loopback ports below Linux's ephemeral range (32768+), so no outgoing connection takes one while down. */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count && tries < 500; tries += 1) {
    const port = 20_000 + crypto.randomInt(12_000);
    if (ports.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (free) ports.push(port);
  }
  if (ports.length < count) throw new Error('no free ports in 20000-31999 on 127.0.0.1');
  return ports;
}
