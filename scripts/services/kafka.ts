// Kafka: one KRaft node (broker + controller), `java kafka.Kafka server.properties`, from the jars Maven resolves
// for scripts/services/kafka/pom.xml. The broker settings are in kafka-node.ts, shared with the private brokers
// that fault tests start.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  DIR,
  daemon,
  LOGS,
  livePid,
  log,
  rel,
  run,
  type Service,
  ServiceError,
  type State,
  startDaemonService,
  stopDaemon,
  which,
} from './common.ts';
import {
  KAFKA_LIBS,
  kafkaAnswers,
  kafkaProperties,
  newClusterId,
  kafkaJvmArgs as nodeJvmArgs,
  retentionHoursFrom,
  storageFormatArgs,
  writeKafkaProperties,
} from './kafka-node.ts';

const KAFKA_HEAP = process.env.ECOMM_KAFKA_HEAP ?? '-Xmx512m';
const TIMEOUT_MS = 150_000;

const KAFKA_DIR = path.join(DIR, 'kafka');
const KAFKA_POM_SRC = path.join(import.meta.dirname, 'kafka', 'pom.xml');
const KAFKA_PID = path.join(KAFKA_DIR, 'kafka.pid');
const KAFKA_PROPS = path.join(KAFKA_DIR, 'server.properties');
const KAFKA_DATA = path.join(KAFKA_DIR, 'data');
const KAFKA_LOG = path.join(LOGS, 'kafka.log');
const KAFKA_MARKER = 'kafka.Kafka';

function javaMajor(): number | undefined {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  if (!m) return undefined;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

function kafkaPomHash(): string {
  return crypto.createHash('sha256').update(fs.readFileSync(KAFKA_POM_SRC)).digest('hex');
}

function kafkaVersion(): string {
  const m = /<kafka\.version>([^<]+)</.exec(fs.readFileSync(KAFKA_POM_SRC, 'utf8'));
  return m?.[1] ?? 'unknown';
}

/** The jar set is stamped with the pom's hash: changing kafka.version re-resolves at the next `up`. */
async function installJars(): Promise<void> {
  const stamp = path.join(KAFKA_LIBS, '.stamp');
  const want = kafkaPomHash();
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === want) {
    log('kafka', `jars for Kafka ${kafkaVersion()} present in ${rel(KAFKA_LIBS)}`);
    return;
  }
  log('kafka', `resolving Kafka ${kafkaVersion()} jars with Maven (cache: ~/.m2) into ${rel(KAFKA_LIBS)}`);
  fs.mkdirSync(KAFKA_DIR, { recursive: true });
  fs.rmSync(KAFKA_LIBS, { recursive: true, force: true });
  fs.copyFileSync(KAFKA_POM_SRC, path.join(KAFKA_DIR, 'pom.xml'));
  const mavenLog = path.join(LOGS, 'maven.log');
  try {
    await run(
      'kafka',
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        path.join(KAFKA_DIR, 'pom.xml'),
        'dependency:copy-dependencies',
        `-DoutputDirectory=${KAFKA_LIBS}`,
        '-DincludeScope=runtime',
      ],
      { logFile: mavenLog, cwd: KAFKA_DIR },
    );
  } catch (e) {
    throw new ServiceError(
      'kafka',
      `Maven could not resolve the Kafka jars: ${(e as Error).message}`,
      mavenLog,
    );
  }
  const jars = fs.readdirSync(KAFKA_LIBS).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith('kafka_2.13-'))) {
    throw new ServiceError('kafka', `Maven finished but ${KAFKA_LIBS} holds no kafka_2.13 jar`, mavenLog);
  }
  fs.writeFileSync(stamp, `${want}\n`);
  log('kafka', `${jars.length} jars copied`);
}

/** Rewritten at each start: the ports may have moved, and settings changed in kafka-node.ts apply. */
function writeConfig(state: State): void {
  const { kafka, kafkaController } = state.ports;
  writeKafkaProperties(
    KAFKA_PROPS,
    kafkaProperties({
      port: kafka,
      controllerPort: kafkaController,
      dataDir: KAFKA_DATA,
      retentionHours: retentionHoursFrom(process.env.ECOMM_KAFKA_RETENTION_HOURS),
    }),
  );
  fs.copyFileSync(
    path.join(import.meta.dirname, 'kafka', 'log4j2.properties'),
    path.join(KAFKA_DIR, 'log4j2.properties'),
  );
}

function jvmArgs(): string[] {
  return nodeJvmArgs({
    heap: KAFKA_HEAP,
    log4j: path.join(KAFKA_DIR, 'log4j2.properties'),
    logsDir: LOGS,
  });
}

async function formatStorageOnce(): Promise<void> {
  if (fs.existsSync(path.join(KAFKA_DATA, 'meta.properties'))) return;
  const clusterId = newClusterId();
  log('kafka', `formatting KRaft storage (kafka.tools.StorageTool format, cluster id ${clusterId})`);
  fs.rmSync(KAFKA_DATA, { recursive: true, force: true });
  await run('kafka', 'java', [...jvmArgs(), ...storageFormatArgs(clusterId, KAFKA_PROPS)], {
    logFile: KAFKA_LOG,
  });
}

const runningPid = () => livePid(KAFKA_PID, KAFKA_MARKER);
const healthy = (state: State) => kafkaAnswers(state.ports.kafka);

async function start(state: State): Promise<void> {
  const port = state.ports.kafka;
  await startDaemonService({
    name: 'kafka',
    port,
    logFile: KAFKA_LOG,
    timeoutMs: TIMEOUT_MS,
    runningPid,
    healthy: () => healthy(state),
    launch: async () => {
      writeConfig(state);
      await formatStorageOnce();
      log(
        'kafka',
        `starting broker+controller on 127.0.0.1:${port} (controller ${state.ports.kafkaController})`,
      );
      return daemon('java', [...jvmArgs(), 'kafka.Kafka', KAFKA_PROPS], KAFKA_LOG, KAFKA_PID).pid;
    },
  });
  log('kafka', `ready: Kafka ${kafkaVersion()} (KRaft) on 127.0.0.1:${port}`);
}

export const kafka: Service = {
  name: 'kafka',
  ports: ['kafka', 'kafkaController'],
  systemNeeds: 'java 17+, maven',
  missingPackages() {
    const missing: string[] = [];
    const major = javaMajor();
    if (major === undefined || major < 17) missing.push('openjdk-17-jre-headless');
    if (!which('mvn')) missing.push('maven');
    return missing;
  },
  install: installJars,
  start,
  healthy,
  runningPid,
  stop: () => stopDaemon('kafka', KAFKA_PID, KAFKA_MARKER, 30_000),
  env: (state) => ({ TEST_KAFKA_BROKERS: `127.0.0.1:${state.ports.kafka}` }),
};
