// Starts (and stops) the real test services on loopback for the integration suites:
// PostgreSQL (Debian packages), Apache Kafka 4.x in KRaft mode (jars from Maven Central),
// Azurite (blob) and an S3-compatible server (moto). Everything lives under .services/.
//
//   node scripts/services/services.ts up            install what is missing, start, wait, write env files
//   node scripts/services/services.ts down [--purge] stop what it started (--purge also deletes .services)
//   node scripts/services/services.ts status        show what runs where
//
// The wrappers scripts/services/up.sh and down.sh put node_modules/.bin (Node 24) first on PATH.
// See docs/services.md.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  ENV_FILE,
  ENV_JSON_FILE,
  REPO_ROOT,
  SERVICES_DIR,
  type ServiceEnv,
  toShellEnv,
} from './env.ts';
import {
  kafkaAnswers,
  kafkaProperties,
  kafkaJvmArgs as nodeJvmArgs,
  writeKafkaProperties,
} from './kafka-node.ts';

// ---------------------------------------------------------------------------------------------
// Settings

const HERE = import.meta.dirname;
const DIR = SERVICES_DIR;
const LOGS = path.join(DIR, 'logs');
const STATE_FILE = path.join(DIR, 'state.json');
const LOCK_FILE = path.join(DIR, '.lock');

const PG_USER = 'ecomm';
const PG_PASSWORD = 'ecomm';
const PG_DATABASES = ['source', 'warehouse'];

const MOTO_VERSION = '5.2.1';
const MOTO_VENV = path.join(
  process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
  'ecomm-services',
  `moto-${MOTO_VERSION}`,
);
const S3_KEY_ID = 'test';
const S3_SECRET = 'test';
const S3_REGION = 'us-east-1';

const KAFKA_HEAP = process.env.ECOMM_KAFKA_HEAP ?? '-Xmx512m';

const TIMEOUT_MS = { postgres: 90_000, kafka: 150_000, azurite: 45_000, s3: 60_000 };

type PortName = 'postgres' | 'kafka' | 'kafkaController' | 'azurite' | 's3';
interface State {
  ports: Record<PortName, number>;
}

const isRoot = process.getuid?.() === 0;
const t0 = Date.now();

// ---------------------------------------------------------------------------------------------
// Small helpers

function log(who: string, msg: string): void {
  const secs = ((Date.now() - t0) / 1000).toFixed(1).padStart(5);
  console.log(`[services +${secs}s] ${who.padEnd(8)} ${msg}`);
}

class ServiceError extends Error {
  service: string;
  logFile: string | undefined;
  constructor(service: string, message: string, logFile?: string) {
    super(message);
    this.service = service;
    this.logFile = logFile;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rel = (p: string) => (p.startsWith(`${REPO_ROOT}/`) ? path.relative(REPO_ROOT, p) : p);

function tail(file: string, lines = 25): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '(log file is empty or missing)';
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** pid recorded in `file`, if that process is alive and its command line contains `marker`. */
function livePid(file: string, marker: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return undefined;
  return cmdline(pid).includes(marker) ? pid : undefined;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A free port below Linux's ephemeral range (32768+), so outgoing connections never hold it. */
async function pickPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const port = 20_000 + crypto.randomInt(12_000);
    if (!taken.has(port) && (await portFree(port))) return port;
  }
  throw new Error('no free port found in 20000-31999 on 127.0.0.1');
}

/** Status code of a GET, or undefined when nothing answers. */
function httpStatus(url: string, timeoutMs = 2000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/**
 * Polls `probe` until it returns true. Fails early when `alive` says the process died,
 * and at the deadline.
 */
async function waitUntil(
  service: string,
  logFile: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  alive: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 200;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    if (!alive()) throw new ServiceError(service, 'the process exited during startup', logFile);
    await sleep(delay);
    delay = Math.min(delay * 1.5, 2000);
  }
  throw new ServiceError(service, `did not answer within ${timeoutMs / 1000}s`, logFile);
}

interface RunOptions {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  asUser?: string;
}

/** Runs a command to completion, output appended to logFile; rejects with the log's tail. */
function run(service: string, cmd: string, args: string[], opts: RunOptions): Promise<void> {
  let argv = [cmd, ...args];
  if (opts.asUser) argv = ['runuser', '-u', opts.asUser, '--', ...argv];
  fs.appendFileSync(opts.logFile, `\n$ ${argv.join(' ')}\n`);
  const fd = fs.openSync(opts.logFile, 'a');
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
      // The postgres user may not be able to enter the checkout (e.g. under /root).
      cwd: opts.cwd ?? (opts.asUser ? '/' : REPO_ROOT),
    });
    child.on('error', (e) => {
      fs.closeSync(fd);
      reject(new ServiceError(service, `could not run ${cmd}: ${e.message}`, opts.logFile));
    });
    child.on('exit', (code, signal) => {
      fs.closeSync(fd);
      if (code === 0) resolve();
      else
        reject(
          new ServiceError(
            service,
            `\`${argv.join(' ')}\` failed (${signal ?? `exit ${code}`})`,
            opts.logFile,
          ),
        );
    });
  });
}

/** Starts a long-running process in its own session, output appended to logFile. */
function daemon(cmd: string, args: string[], logFile: string, pidFile: string, env?: NodeJS.ProcessEnv) {
  fs.appendFileSync(logFile, `\n==== ${new Date().toISOString()} $ ${cmd} ${args.join(' ')}\n`);
  const fd = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: env ?? process.env,
    cwd: DIR,
  });
  fs.closeSync(fd);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  child.on('error', () => {
    exited = true;
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  fs.writeFileSync(pidFile, `${child.pid}\n`);
  return { pid: child.pid, alive: () => !exited && pidAlive(child.pid as number) };
}

async function stopPid(who: string, pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid) || cmdline(pid) === '') return;
    await sleep(200);
  }
  log(who, `pid ${pid} still running after ${graceMs / 1000}s, sending SIGKILL`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// ---------------------------------------------------------------------------------------------
// State (ports chosen at the first start and remembered)

function readState(): Partial<State> {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as Partial<State>;
  } catch {
    return {};
  }
}

function writeState(state: State): void {
  fs.writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

async function resolvePorts(running: Partial<Record<PortName, boolean>>): Promise<State> {
  const old = readState().ports ?? ({} as Partial<Record<PortName, number>>);
  const names: PortName[] = ['postgres', 'kafka', 'kafkaController', 'azurite', 's3'];
  const taken = new Set<number>(Object.values(old).filter((p): p is number => typeof p === 'number'));
  const ports = {} as Record<PortName, number>;
  for (const name of names) {
    const prev = old[name];
    const serviceRunning = running[name === 'kafkaController' ? 'kafka' : name];
    if (prev && (serviceRunning || (await portFree(prev)))) {
      ports[name] = prev;
      continue;
    }
    const port = await pickPort(taken);
    taken.add(port);
    if (prev) log(name, `remembered port ${prev} is taken by another program; moving to ${port}`);
    ports[name] = port;
  }
  const state = { ports };
  writeState(state);
  return state;
}

// ---------------------------------------------------------------------------------------------
// Lock: two `up`/`down` at once would race on pid files and ports.

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(DIR, { recursive: true });
  const deadline = Date.now() + 600_000;
  let warned = false;
  for (;;) {
    try {
      fs.writeFileSync(LOCK_FILE, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch {
      const holder = Number.parseInt(fs.readFileSync(LOCK_FILE, 'utf8').trim(), 10);
      if (!Number.isInteger(holder) || !pidAlive(holder)) {
        fs.rmSync(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${LOCK_FILE} held by pid ${holder} for 10 minutes`);
      if (!warned) log('lock', `another services command (pid ${holder}) is running; waiting for it`);
      warned = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK_FILE, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Installation of what is missing (apt-get, Maven, pip)

const INSTALL_LOG = () => path.join(LOGS, 'install.log');

function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return undefined;
  const versions = fs
    .readdirSync(base)
    .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : undefined;
}

function javaMajor(): number | undefined {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  if (!m) return undefined;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

function pythonHasVenv(): boolean {
  return spawnSync('python3', ['-c', 'import venv, ensurepip'], { stdio: 'ignore' }).status === 0;
}

async function aptInstall(packages: string[]): Promise<void> {
  if (!isRoot) {
    throw new ServiceError(
      'install',
      `missing system packages; run as root: apt-get update && apt-get install -y ${packages.join(' ')}`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log('install', 'apt-get update');
  await run('install', 'apt-get', ['update', '-q'], { logFile: INSTALL_LOG(), env });
  log('install', `apt-get install ${packages.join(' ')}`);
  await run('install', 'apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], {
    logFile: INSTALL_LOG(),
    env,
  });
}

async function installSystemPackages(): Promise<void> {
  const missing: string[] = [];
  if (!postgresBinDir()) missing.push('postgresql');
  const jv = javaMajor();
  if (jv === undefined || jv < 17) missing.push('openjdk-17-jre-headless');
  if (!which('mvn')) missing.push('maven');
  if (!which('python3')) missing.push('python3', 'python3-venv');
  else if (!pythonHasVenv()) missing.push('python3-venv');
  if (isRoot && !which('runuser')) missing.push('util-linux');
  // Not a service: the browser tests drive Debian's Chromium with playwright-core (never a downloaded browser).
  if (!fs.existsSync('/usr/bin/chromium')) missing.push('chromium');
  if (missing.length === 0) {
    log('install', 'system packages present (postgresql, java 17+, maven, python3 venv, chromium)');
    return;
  }
  await aptInstall(missing);
  if (!postgresBinDir())
    throw new ServiceError('postgres', 'apt-get installed postgresql but no initdb found');
}

const KAFKA_DIR = path.join(DIR, 'kafka');
const KAFKA_LIBS = path.join(KAFKA_DIR, 'libs');
const KAFKA_POM_SRC = path.join(HERE, 'kafka', 'pom.xml');

function kafkaPomHash(): string {
  return crypto.createHash('sha256').update(fs.readFileSync(KAFKA_POM_SRC)).digest('hex');
}

function kafkaVersion(): string {
  const m = /<kafka\.version>([^<]+)</.exec(fs.readFileSync(KAFKA_POM_SRC, 'utf8'));
  return m?.[1] ?? 'unknown';
}

async function installKafkaJars(): Promise<void> {
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

const MOTO_PY = path.join(MOTO_VENV, 'bin', 'python');

async function installMoto(): Promise<void> {
  const probe = () =>
    fs.existsSync(MOTO_PY) &&
    spawnSync(MOTO_PY, ['-c', 'import moto.server, flask, flask_cors'], { stdio: 'ignore' }).status === 0;
  if (probe()) {
    log('s3', `moto ${MOTO_VERSION} present in ${MOTO_VENV}`);
    return;
  }
  const pipLog = path.join(LOGS, 'pip.log');
  log('s3', `installing moto[server]==${MOTO_VERSION} from PyPI into ${MOTO_VENV}`);
  fs.rmSync(MOTO_VENV, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(MOTO_VENV), { recursive: true });
  await run('s3', 'python3', ['-m', 'venv', MOTO_VENV], { logFile: pipLog });
  await run(
    's3',
    MOTO_PY,
    ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', `moto[server]==${MOTO_VERSION}`],
    { logFile: pipLog },
  );
  if (!probe()) throw new ServiceError('s3', 'pip installed moto but `import moto.server` fails', pipLog);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a private cluster made with Debian's initdb, run as the `postgres` user when root

const PG_LINK = path.join(DIR, 'postgres');

/** The cluster's folder: .services/postgres, or, when the postgres user cannot reach it, a symlink. */
function pgRoot(): string {
  try {
    if (fs.lstatSync(PG_LINK).isSymbolicLink()) return fs.realpathSync(PG_LINK);
  } catch {
    /* not there yet */
  }
  return PG_LINK;
}
const pgData = () => path.join(pgRoot(), 'data');
const pgLog = () => path.join(LOGS, 'postgres.log');
const pgOwner = isRoot ? 'postgres' : undefined;

function pgRunning(): { pid: number; port: number } | undefined {
  const pidFile = path.join(pgData(), 'postmaster.pid');
  const pid = livePid(pidFile, 'postgres');
  if (!pid) return undefined;
  const port = Number.parseInt(fs.readFileSync(pidFile, 'utf8').split('\n')[3] ?? '', 10);
  return { pid, port };
}

function chownToPostgres(p: string): void {
  if (!isRoot) return;
  const r = spawnSync('chown', ['-R', 'postgres:postgres', p], { encoding: 'utf8' });
  if (r.status !== 0) throw new ServiceError('postgres', `chown postgres ${p} failed: ${r.stderr}`);
}

/** As root, the cluster must be owned by `postgres`, who must be able to reach it. */
function preparePgRoot(): void {
  if (fs.existsSync(PG_LINK)) return;
  fs.mkdirSync(PG_LINK, { recursive: true });
  if (!isRoot) return;
  chownToPostgres(PG_LINK);
  const reachable = spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-w', PG_LINK]).status === 0;
  if (reachable) return;
  // e.g. a checkout under /root (mode 700): keep the cluster in /var/tmp, linked from .services.
  const hash = crypto.createHash('sha1').update(DIR).digest('hex').slice(0, 10);
  const target = `/var/tmp/ecomm-services-${hash}/postgres`;
  log('postgres', `user postgres cannot reach ${PG_LINK}; keeping the cluster in ${target} (symlinked)`);
  fs.rmSync(PG_LINK, { recursive: true, force: true });
  fs.mkdirSync(target, { recursive: true });
  chownToPostgres(path.dirname(target));
  fs.symlinkSync(target, PG_LINK);
}

function pgLogFile(): string {
  // pg_ctl opens the log as the postgres user: it must be able to write there.
  if (pgRoot() === PG_LINK) return pgLog();
  const inside = path.join(pgRoot(), 'postgres.log');
  fs.rmSync(pgLog(), { force: true });
  fs.symlinkSync(inside, pgLog());
  return inside;
}

async function pgQuery(port: number, database: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: PG_USER,
    password: PG_PASSWORD,
    database,
    connectionTimeoutMillis: 3000,
  });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

async function upPostgres(state: State): Promise<void> {
  const bin = postgresBinDir();
  if (!bin)
    throw new ServiceError('postgres', 'no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)');
  const port = state.ports.postgres;
  const running = pgRunning();
  if (running) {
    if (running.port !== port) {
      state.ports.postgres = running.port;
      writeState(state);
    }
    log('postgres', `already running (pid ${running.pid}, port ${running.port})`);
  } else {
    preparePgRoot();
    const data = pgData();
    const logFile = pgLogFile();
    if (!fs.existsSync(logFile)) fs.writeFileSync(logFile, '');
    chownToPostgres(logFile);
    if (!fs.existsSync(path.join(data, 'PG_VERSION'))) {
      log('postgres', `initdb (${bin}) into ${rel(data)}`);
      fs.rmSync(data, { recursive: true, force: true });
      const pwFile = path.join(pgRoot(), '.initdb-pw');
      fs.writeFileSync(pwFile, `${PG_PASSWORD}\n`, { mode: 0o600 });
      chownToPostgres(pwFile);
      try {
        await run(
          'postgres',
          path.join(bin, 'initdb'),
          [
            '-D',
            data,
            '-U',
            PG_USER,
            `--pwfile=${pwFile}`,
            '--auth=scram-sha-256',
            '-E',
            'UTF8',
            '--locale=C',
            '--no-sync',
          ],
          { logFile, ...(pgOwner ? { asUser: pgOwner } : {}) },
        );
      } finally {
        fs.rmSync(pwFile, { force: true });
      }
      fs.appendFileSync(
        path.join(data, 'postgresql.conf'),
        "\n# Settings of scripts/services/services.ts\ninclude_if_exists = 'ecomm_services.conf'\n",
      );
    }
    // Rewritten at each start: the port may have moved. Test cluster: durability traded for speed.
    fs.writeFileSync(
      path.join(data, 'ecomm_services.conf'),
      [
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        "unix_socket_directories = ''",
        'max_connections = 200',
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        "log_line_prefix = '%m [%p] %q%u@%d '",
        '',
      ].join('\n'),
    );
    chownToPostgres(path.join(data, 'ecomm_services.conf'));
    log('postgres', `starting on 127.0.0.1:${port}`);
    await run('postgres', path.join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-w', '-t', '90', 'start'], {
      logFile: path.join(LOGS, 'pg_ctl.log'),
      ...(pgOwner ? { asUser: pgOwner } : {}),
    }).catch((e: Error) => {
      throw new ServiceError('postgres', `pg_ctl start failed: ${e.message}`, pgLog());
    });
  }
  const p = state.ports.postgres;
  await waitUntil(
    'postgres',
    pgLog(),
    TIMEOUT_MS.postgres,
    async () => (await pgQuery(p, 'postgres', 'select 1')).rowCount === 1,
    () => pgRunning() !== undefined,
  );
  const have = new Set(
    (await pgQuery(p, 'postgres', 'select datname from pg_database')).rows.map(
      (r: { datname: string }) => r.datname,
    ),
  );
  for (const db of PG_DATABASES) {
    if (have.has(db)) continue;
    log('postgres', `create database ${db}`);
    await pgQuery(p, 'postgres', `create database "${db}"`);
  }
  const v = (await pgQuery(p, 'warehouse', 'show server_version')).rows[0]?.server_version;
  log('postgres', `ready: PostgreSQL ${v} on 127.0.0.1:${p}, databases ${PG_DATABASES.join(', ')}`);
}

async function downPostgres(): Promise<void> {
  const running = pgRunning();
  if (!running) return log('postgres', 'not running');
  const bin = postgresBinDir();
  log('postgres', `stopping (pid ${running.pid})`);
  if (bin) {
    try {
      await run(
        'postgres',
        path.join(bin, 'pg_ctl'),
        ['-D', pgData(), '-m', 'fast', '-w', '-t', '60', 'stop'],
        {
          logFile: path.join(LOGS, 'pg_ctl.log'),
          ...(pgOwner ? { asUser: pgOwner } : {}),
        },
      );
      return;
    } catch {
      log('postgres', 'pg_ctl stop failed; signalling the postmaster');
    }
  }
  await stopPid('postgres', running.pid, 30_000);
}

// ---------------------------------------------------------------------------------------------
// Kafka: one KRaft node (broker + controller), `java kafka.Kafka server.properties`

const KAFKA_PID = path.join(KAFKA_DIR, 'kafka.pid');
const KAFKA_PROPS = path.join(KAFKA_DIR, 'server.properties');
const KAFKA_DATA = path.join(KAFKA_DIR, 'data');
const KAFKA_LOG = path.join(LOGS, 'kafka.log');
const KAFKA_MARKER = 'kafka.Kafka';

function writeKafkaConfig(state: State): void {
  const { kafka, kafkaController } = state.ports;
  writeKafkaProperties(
    KAFKA_PROPS,
    kafkaProperties({ port: kafka, controllerPort: kafkaController, dataDir: KAFKA_DATA }),
  );
  fs.copyFileSync(path.join(HERE, 'kafka', 'log4j2.properties'), path.join(KAFKA_DIR, 'log4j2.properties'));
}

function kafkaJvmArgs(): string[] {
  return nodeJvmArgs({
    heap: KAFKA_HEAP,
    log4j: path.join(KAFKA_DIR, 'log4j2.properties'),
    logsDir: LOGS,
  });
}

async function upKafka(state: State): Promise<void> {
  const port = state.ports.kafka;
  let pid = livePid(KAFKA_PID, KAFKA_MARKER);
  if (pid) {
    log('kafka', `already running (pid ${pid}, port ${port})`);
  } else {
    writeKafkaConfig(state);
    if (!fs.existsSync(path.join(KAFKA_DATA, 'meta.properties'))) {
      // A cluster id is 16 random bytes in URL-safe base64 (what `StorageTool random-uuid` prints).
      const clusterId = crypto.randomBytes(16).toString('base64url');
      log('kafka', `formatting KRaft storage (kafka.tools.StorageTool format, cluster id ${clusterId})`);
      fs.rmSync(KAFKA_DATA, { recursive: true, force: true });
      await run(
        'kafka',
        'java',
        [...kafkaJvmArgs(), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', KAFKA_PROPS],
        { logFile: KAFKA_LOG },
      );
    }
    log(
      'kafka',
      `starting broker+controller on 127.0.0.1:${port} (controller ${state.ports.kafkaController})`,
    );
    const d = daemon('java', [...kafkaJvmArgs(), 'kafka.Kafka', KAFKA_PROPS], KAFKA_LOG, KAFKA_PID);
    pid = d.pid;
  }
  const thePid = pid;
  await waitUntil(
    'kafka',
    KAFKA_LOG,
    TIMEOUT_MS.kafka,
    () => kafkaAnswers(port),
    () => livePid(KAFKA_PID, KAFKA_MARKER) === thePid,
  );
  log('kafka', `ready: Kafka ${kafkaVersion()} (KRaft) on 127.0.0.1:${port}`);
}

// ---------------------------------------------------------------------------------------------
// Azurite (blob service only)

const AZ_DIR = path.join(DIR, 'azurite');
const AZ_PID = path.join(AZ_DIR, 'azurite.pid');
const AZ_LOG = path.join(LOGS, 'azurite.log');
const AZ_MARKER = 'azurite';

function azuriteScript(): string {
  const bin = path.join(REPO_ROOT, 'node_modules', '.bin', 'azurite-blob');
  if (!fs.existsSync(bin)) throw new ServiceError('azurite', `${bin} missing: run npm install first`);
  return fs.realpathSync(bin);
}

async function upAzurite(state: State): Promise<void> {
  const port = state.ports.azurite;
  let pid = livePid(AZ_PID, AZ_MARKER);
  if (pid) {
    log('azurite', `already running (pid ${pid}, port ${port})`);
  } else {
    fs.mkdirSync(AZ_DIR, { recursive: true });
    log('azurite', `starting blob service on 127.0.0.1:${port}`);
    const d = daemon(
      process.execPath,
      [
        azuriteScript(),
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--location',
        AZ_DIR,
        '--disableTelemetry',
        '--skipApiVersionCheck',
        '--loose',
        '--silent',
      ],
      AZ_LOG,
      AZ_PID,
    );
    pid = d.pid;
  }
  const thePid = pid;
  // Any HTTP answer means the service is up (an unsigned request gets 403).
  await waitUntil(
    'azurite',
    AZ_LOG,
    TIMEOUT_MS.azurite,
    async () => (await httpStatus(`http://127.0.0.1:${port}/${AZURITE_ACCOUNT}?comp=list`)) !== undefined,
    () => livePid(AZ_PID, AZ_MARKER) === thePid,
  );
  log('azurite', `ready: blob endpoint http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`);
}

// ---------------------------------------------------------------------------------------------
// S3: moto server (s3rver 3.7.1 fails ListObjectsV2 paging on Node 24, see docs/services.md)

const S3_DIR = path.join(DIR, 's3');
const S3_PID = path.join(S3_DIR, 's3.pid');
const S3_LOG = path.join(LOGS, 's3.log');
const S3_MARKER = 'moto.server';

async function upS3(state: State): Promise<void> {
  const port = state.ports.s3;
  let pid = livePid(S3_PID, S3_MARKER);
  if (pid) {
    log('s3', `already running (pid ${pid}, port ${port})`);
  } else {
    fs.mkdirSync(S3_DIR, { recursive: true });
    log('s3', `starting moto server on 127.0.0.1:${port}`);
    const d = daemon(MOTO_PY, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], S3_LOG, S3_PID, {
      ...process.env,
      PYTHONUNBUFFERED: '1',
    });
    pid = d.pid;
  }
  const thePid = pid;
  await waitUntil(
    's3',
    S3_LOG,
    TIMEOUT_MS.s3,
    async () => (await httpStatus(`http://127.0.0.1:${port}/`)) === 200,
    () => livePid(S3_PID, S3_MARKER) === thePid,
  );
  log('s3', `ready: moto ${MOTO_VERSION} S3 endpoint http://127.0.0.1:${port}`);
}

// ---------------------------------------------------------------------------------------------
// Env files

function buildEnv(state: State): ServiceEnv {
  const { postgres, kafka, azurite, s3 } = state.ports;
  const pgBase = `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${postgres}`;
  const blobUrl = `http://127.0.0.1:${azurite}/${AZURITE_ACCOUNT}`;
  return {
    TEST_PG_URL: `${pgBase}/warehouse`,
    TEST_SOURCE_PG_URL: `${pgBase}/source`,
    TEST_PG_ADMIN_URL: `${pgBase}/postgres`,
    TEST_PG_HOST: '127.0.0.1',
    TEST_PG_PORT: String(postgres),
    TEST_PG_USER: PG_USER,
    TEST_PG_PASSWORD: PG_PASSWORD,
    TEST_KAFKA_BROKERS: `127.0.0.1:${kafka}`,
    TEST_AZURITE_BLOB_URL: blobUrl,
    TEST_AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT,
    TEST_AZURE_STORAGE_KEY: AZURITE_KEY,
    TEST_AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobUrl};`,
    TEST_S3_ENDPOINT: `http://127.0.0.1:${s3}`,
    TEST_S3_REGION: S3_REGION,
    TEST_S3_ACCESS_KEY_ID: S3_KEY_ID,
    TEST_S3_SECRET_ACCESS_KEY: S3_SECRET,
    TEST_S3_FORCE_PATH_STYLE: 'true',
    TEST_SERVICES_DIR: DIR,
  };
}

function writeEnvFiles(env: ServiceEnv): void {
  fs.writeFileSync(ENV_FILE, toShellEnv(env));
  fs.writeFileSync(ENV_JSON_FILE, `${JSON.stringify(env, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Commands

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

async function up(): Promise<number> {
  fs.mkdirSync(LOGS, { recursive: true });
  log('up', `services folder ${DIR}`);

  // 1. Install what is missing: apt first (it may bring java/mvn/python), then Maven and pip side by side.
  try {
    await installSystemPackages();
    const results = await Promise.allSettled([installKafkaJars(), installMoto()]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length) {
      for (const f of failed) reportFailure(f.reason);
      return 1;
    }
  } catch (e) {
    reportFailure(e);
    return 1;
  }

  // 2. Ports: remembered from the first start; a stopped service whose port got taken moves.
  const state = await resolvePorts({
    postgres: pgRunning() !== undefined,
    kafka: livePid(KAFKA_PID, KAFKA_MARKER) !== undefined,
    azurite: livePid(AZ_PID, AZ_MARKER) !== undefined,
    s3: livePid(S3_PID, S3_MARKER) !== undefined,
  });

  // 3. Start (or reuse) all four at once and wait until each answers.
  const names = ['postgres', 'kafka', 'azurite', 's3'] as const;
  const starters = [upPostgres, upKafka, upAzurite, upS3];
  const results = await Promise.allSettled(
    starters.map((f, i) =>
      f(state).catch((e: unknown) => {
        throw e instanceof ServiceError ? e : new ServiceError(names[i] as string, (e as Error).message);
      }),
    ),
  );
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    fs.rmSync(ENV_FILE, { force: true });
    fs.rmSync(ENV_JSON_FILE, { force: true });
    for (const f of failed) reportFailure(f.reason);
    console.error('[services] the services that did start keep running; `npm run services:down` stops them');
    return 1;
  }
  const env = buildEnv(state);
  writeEnvFiles(env);
  log('up', `all services answer; wrote ${rel(ENV_FILE)} and ${rel(ENV_JSON_FILE)}`);
  console.log(
    [
      `  TEST_PG_URL=${env.TEST_PG_URL}`,
      `  TEST_SOURCE_PG_URL=${env.TEST_SOURCE_PG_URL}`,
      `  TEST_KAFKA_BROKERS=${env.TEST_KAFKA_BROKERS}`,
      `  TEST_AZURITE_BLOB_URL=${env.TEST_AZURITE_BLOB_URL}`,
      `  TEST_S3_ENDPOINT=${env.TEST_S3_ENDPOINT}`,
      `  logs: ${rel(LOGS)}/  (stop: npm run services:down)`,
    ].join('\n'),
  );
  log('up', `done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return 0;
}

async function down(purge: boolean): Promise<number> {
  if (!fs.existsSync(DIR)) {
    log('down', `${DIR} does not exist: nothing to stop`);
    return 0;
  }
  fs.mkdirSync(LOGS, { recursive: true });
  const stopDaemon = async (who: string, pidFile: string, marker: string, graceMs: number) => {
    const pid = livePid(pidFile, marker);
    if (!pid) return log(who, 'not running');
    log(who, `stopping (pid ${pid})`);
    await stopPid(who, pid, graceMs);
    fs.rmSync(pidFile, { force: true });
  };
  await Promise.all([
    downPostgres(),
    stopDaemon('kafka', KAFKA_PID, KAFKA_MARKER, 30_000),
    stopDaemon('azurite', AZ_PID, AZ_MARKER, 10_000),
    stopDaemon('s3', S3_PID, S3_MARKER, 10_000),
  ]);
  fs.rmSync(ENV_FILE, { force: true });
  fs.rmSync(ENV_JSON_FILE, { force: true });
  if (purge) {
    const pgTarget = pgRoot();
    if (pgTarget !== PG_LINK) fs.rmSync(path.dirname(pgTarget), { recursive: true, force: true });
    fs.rmSync(DIR, { recursive: true, force: true });
    log('down', `purged ${DIR}`);
  } else {
    log('down', `stopped; data kept in ${rel(DIR)} (down --purge deletes it)`);
  }
  return 0;
}

/** Stops one service and starts it again with the settings of `up` (today: kafka, for fault drills). */
async function restart(service: string | undefined): Promise<number> {
  if (service !== 'kafka') {
    console.error('usage: services.ts restart kafka');
    return 2;
  }
  const state = readState() as State;
  if (!state.ports) {
    console.error('[services] nothing started yet: run `npm run services:up` first');
    return 1;
  }
  const pid = livePid(KAFKA_PID, KAFKA_MARKER);
  if (pid) {
    log('kafka', `stopping (pid ${pid})`);
    await stopPid('kafka', pid, 30_000);
    fs.rmSync(KAFKA_PID, { force: true });
  }
  try {
    await upKafka(state);
  } catch (e) {
    reportFailure(e);
    return 1;
  }
  log('restart', `kafka restarted in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return 0;
}

function status(): number {
  const ports = readState().ports;
  const pgr = fs.existsSync(DIR) ? pgRunning() : undefined;
  const rows: [string, number | undefined, number | undefined][] = [
    ['postgres', pgr?.pid, ports?.postgres],
    ['kafka', livePid(KAFKA_PID, KAFKA_MARKER), ports?.kafka],
    ['azurite', livePid(AZ_PID, AZ_MARKER), ports?.azurite],
    ['s3', livePid(S3_PID, S3_MARKER), ports?.s3],
  ];
  for (const [name, pid, port] of rows) {
    console.log(`${name.padEnd(9)} ${pid ? `running pid ${pid}` : 'stopped'.padEnd(17)} port ${port ?? '-'}`);
  }
  console.log(`env file: ${fs.existsSync(ENV_FILE) ? ENV_FILE : '(none)'}`);
  return rows.every(([, pid]) => pid) ? 0 : 3;
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
      console.error('usage: services.ts up | down [--purge] | status | restart kafka');
      return 2;
  }
}

// kafkajs 2.2.4 trips a harmless TimeoutNegativeWarning on Node 24.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') console.warn(w);
});

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    reportFailure(e);
    process.exit(1);
  },
);
