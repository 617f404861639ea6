// Starts (and stops) the real test services on loopback for the integration suites: PostgreSQL, Apache Kafka,
// Azurite, S3 (moto), a HubSpot API stand-in, fakesnow (Snowflake) and an FX rates stand-in, and makes sure
// Debian's Chromium is there for the browser tests. Each is one module with the same interface (common.ts
// `Service`); this file only orders them.
// Everything lives under .services/.
//
//   node scripts/services/services.ts up            install what is missing, start, wait, write env files
//   node scripts/services/services.ts down [--purge] stop what it started (--purge also deletes .services)
//   node scripts/services/services.ts status        show what runs where
//   node scripts/services/services.ts restart kafka stop the broker and start it again (fault drills)
//   node scripts/services/services.ts restart hubspot  reload the HubSpot stand-in after its code changed (fx: the FX one)
//
// The wrappers scripts/services/up.sh and down.sh put node_modules/.bin (Node 24) first on PATH.
// See docs/services.md.
import fs from 'node:fs';
import { silenceKafkajsTimeoutWarning } from '../../adapters/stream/kafka-warnings.ts';
import { azurite } from './azurite.ts';
import { chromium } from './chromium.ts';
import {
  aptInstall,
  DIR,
  LOGS,
  log,
  type PortName,
  pickPort,
  portFree,
  readState,
  rel,
  type Service,
  ServiceError,
  type State,
  secondsSinceStart,
  tail,
  withLock,
  writeState,
} from './common.ts';
import { ENV_FILE, ENV_JSON_FILE, type ServiceEnv, toShellEnv } from './env.ts';
import { fakesnow } from './fakesnow.ts';
import { fx } from './fx.ts';
import { hubspot } from './hubspot.ts';
import { kafka } from './kafka.ts';
import { postgres } from './postgres.ts';
import { s3 } from './s3.ts';

/** In this order their ports are picked and their variables written. */
const SERVERS: Service[] = [postgres, kafka, azurite, s3, hubspot, fakesnow, fx];
const SERVICES: Service[] = [...SERVERS, chromium];
/**
 * The broker (fault drills) and the HubSpot and FX stand-ins (to load new server code: their test portals and
 * accounts are throwaway); moto would lose its data.
 */
const RESTARTABLE = new Set(['kafka', 'hubspot', 'fx']);

function reportFailure(e: unknown): void {
  if (e instanceof ServiceError) {
    console.error(`\n[services] FAILED: ${e.service} did not start: ${e.message}`);
    if (e.logFile) {
      console.error(`[services] log: ${e.logFile}; its last lines:\n${tail(e.logFile)}`);
    }
  } else {
    console.error(`\n[services] FAILED: ${(e as Error)?.stack ?? e}`);
  }
}

/** Settles every task; reports each failure. True when all succeeded. */
async function allSucceeded(tasks: Promise<void>[]): Promise<boolean> {
  const results = await Promise.allSettled(tasks);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  for (const f of failed) reportFailure(f.reason);
  return failed.length === 0;
}

/** apt-get first (it may bring java, mvn, python), then each service's own install, side by side. */
async function installAll(): Promise<boolean> {
  const missing = SERVICES.flatMap((service) => service.missingPackages());
  try {
    if (missing.length === 0) {
      const needs = SERVICES.map((service) => service.systemNeeds).filter(Boolean);
      log('install', `system packages present (${needs.join(', ')})`);
    } else {
      await aptInstall(missing);
    }
  } catch (e) {
    reportFailure(e);
    return false;
  }
  return allSucceeded(SERVICES.map((service) => service.install()));
}

/** Ports remembered from the first start; a stopped service whose port got taken moves to a new one. */
async function resolvePorts(): Promise<State> {
  const old: Partial<Record<PortName, number>> = readState().ports ?? {};
  const taken = new Set<number>(Object.values(old).filter((p): p is number => typeof p === 'number'));
  const ports = {} as Record<PortName, number>;
  for (const service of SERVERS) {
    const running = service.runningPid() !== undefined;
    for (const name of service.ports) {
      const prev = old[name];
      if (prev && (running || (await portFree(prev)))) {
        ports[name] = prev;
        continue;
      }
      const port = await pickPort(taken);
      taken.add(port);
      if (prev) log(name, `remembered port ${prev} is taken by another program; moving to ${port}`);
      ports[name] = port;
    }
  }
  const state = { ports };
  writeState(state);
  return state;
}

function startService(service: Service, state: State): Promise<void> {
  return service.start(state).catch((e: unknown) => {
    throw e instanceof ServiceError ? e : new ServiceError(service.name, (e as Error).message);
  });
}

function buildEnv(state: State): ServiceEnv {
  const contributed = SERVICES.map((service) => service.env(state));
  return Object.assign({}, ...contributed, { TEST_SERVICES_DIR: DIR }) as ServiceEnv;
}

function writeEnvFiles(env: ServiceEnv): void {
  fs.writeFileSync(ENV_FILE, toShellEnv(env));
  fs.writeFileSync(ENV_JSON_FILE, `${JSON.stringify(env, null, 2)}\n`);
}

/** A stale env file would point tests at a dead server. */
function removeEnvFiles(): void {
  fs.rmSync(ENV_FILE, { force: true });
  fs.rmSync(ENV_JSON_FILE, { force: true });
}

function printEnv(env: ServiceEnv): void {
  console.log(
    [
      `  TEST_PG_URL=${env.TEST_PG_URL}`,
      `  TEST_SOURCE_PG_URL=${env.TEST_SOURCE_PG_URL}`,
      `  TEST_KAFKA_BROKERS=${env.TEST_KAFKA_BROKERS}`,
      `  TEST_AZURITE_BLOB_URL=${env.TEST_AZURITE_BLOB_URL}`,
      `  TEST_S3_ENDPOINT=${env.TEST_S3_ENDPOINT}`,
      `  TEST_HUBSPOT_URL=${env.TEST_HUBSPOT_URL}`,
      `  TEST_FX_URL=${env.TEST_FX_URL}`,
      `  TEST_SNOWFLAKE_URL=${env.TEST_SNOWFLAKE_URL}`,
      `  logs: ${rel(LOGS)}/  (stop: npm run services:down)`,
    ].join('\n'),
  );
}

async function up(): Promise<number> {
  fs.mkdirSync(LOGS, { recursive: true });
  log('up', `services folder ${DIR}`);
  if (!(await installAll())) return 1;
  const state = await resolvePorts();
  // All at once; each reuses a running server and waits until it answers.
  if (!(await allSucceeded(SERVICES.map((service) => startService(service, state))))) {
    removeEnvFiles();
    console.error('[services] the services that did start keep running; `npm run services:down` stops them');
    return 1;
  }
  const env = buildEnv(state);
  writeEnvFiles(env);
  log('up', `all services answer; wrote ${rel(ENV_FILE)} and ${rel(ENV_JSON_FILE)}`);
  printEnv(env);
  log('up', `done in ${secondsSinceStart()}s`);
  return 0;
}

async function down(purge: boolean): Promise<number> {
  fs.mkdirSync(LOGS, { recursive: true });
  await Promise.all(SERVICES.map((service) => service.stop()));
  removeEnvFiles();
  if (purge) {
    for (const service of SERVICES) service.purge?.();
    fs.rmSync(DIR, { recursive: true, force: true });
    log('down', `purged ${DIR}`);
  } else {
    log('down', `stopped; data kept in ${rel(DIR)} (down --purge deletes it)`);
  }
  return 0;
}

/** Stops one service and starts it again with the settings of `up`. */
async function restart(name: string | undefined): Promise<number> {
  const service = SERVERS.find((candidate) => candidate.name === name);
  if (!service || !RESTARTABLE.has(service.name)) {
    console.error(`usage: services.ts restart ${[...RESTARTABLE].join(' | ')}`);
    return 2;
  }
  const state = readState() as State;
  if (!state.ports) {
    console.error('[services] nothing started yet: run `npm run services:up` first');
    return 1;
  }
  try {
    await service.stop();
    await service.start(state);
  } catch (e) {
    reportFailure(e);
    return 1;
  }
  log('restart', `${service.name} restarted in ${secondsSinceStart()}s`);
  return 0;
}

/** Exit 0 when every server runs, 3 otherwise. */
function status(): number {
  const ports = readState().ports;
  const rows = SERVERS.map((service) => {
    const pid = fs.existsSync(DIR) ? service.runningPid() : undefined;
    const port = ports?.[service.ports[0] as PortName];
    return { name: service.name, pid, port };
  });
  for (const { name, pid, port } of rows) {
    console.log(`${name.padEnd(9)} ${pid ? `running pid ${pid}` : 'stopped'.padEnd(17)} port ${port ?? '-'}`);
  }
  console.log(`env file: ${fs.existsSync(ENV_FILE) ? ENV_FILE : '(none)'}`);
  return rows.every(({ pid }) => pid) ? 0 : 3;
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'up':
      return withLock(up);
    case 'down':
      if (!fs.existsSync(DIR)) {
        log('down', `${DIR} does not exist: nothing to stop`);
        return 0;
      }
      return withLock(() => down(rest.includes('--purge')));
    case 'status':
      return status();
    case 'restart':
      return withLock(() => restart(rest[0]));
    default:
      console.error('usage: services.ts up | down [--purge] | status | restart kafka|hubspot|fx');
      return 2;
  }
}

silenceKafkajsTimeoutWarning();

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    reportFailure(e);
    process.exit(1);
  },
);
