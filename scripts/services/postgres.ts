// PostgreSQL: a private cluster made with Debian's initdb (never the system cluster), run as the `postgres` user
// when root (PostgreSQL refuses to run as root).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import {
  DIR,
  isRoot,
  LOGS,
  livePid,
  log,
  rel,
  run,
  type Service,
  ServiceError,
  type State,
  stopPid,
  waitUntil,
  which,
  writeState,
} from './common.ts';
import type { ServiceEnv } from './env.ts';

const PG_USER = 'ecomm';
const PG_PASSWORD = 'ecomm';
const PG_DATABASES = ['source', 'warehouse'];
const TIMEOUT_MS = 90_000;

const PG_LINK = path.join(DIR, 'postgres');
const pgOwner = isRoot ? 'postgres' : undefined;
const asOwner = pgOwner ? { asUser: pgOwner } : {};
const pgLog = () => path.join(LOGS, 'postgres.log');
const pgCtlLog = () => path.join(LOGS, 'pg_ctl.log');

function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return undefined;
  const versions = fs
    .readdirSync(base)
    .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : undefined;
}

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

async function initCluster(bin: string, data: string, logFile: string): Promise<void> {
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
      { logFile, ...asOwner },
    );
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
  fs.appendFileSync(
    path.join(data, 'postgresql.conf'),
    "\n# Settings of scripts/services/postgres.ts\ninclude_if_exists = 'ecomm_services.conf'\n",
  );
}

/** Rewritten at each start: the port may have moved. A test cluster: durability traded for speed. */
function writeSettings(data: string, port: number): void {
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
}

async function startCluster(bin: string, port: number): Promise<void> {
  preparePgRoot();
  const data = pgData();
  const logFile = pgLogFile();
  if (!fs.existsSync(logFile)) fs.writeFileSync(logFile, '');
  chownToPostgres(logFile);
  if (!fs.existsSync(path.join(data, 'PG_VERSION'))) await initCluster(bin, data, logFile);
  writeSettings(data, port);
  log('postgres', `starting on 127.0.0.1:${port}`);
  await run('postgres', path.join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-w', '-t', '90', 'start'], {
    logFile: pgCtlLog(),
    ...asOwner,
  }).catch((e: Error) => {
    throw new ServiceError('postgres', `pg_ctl start failed: ${e.message}`, pgLog());
  });
}

async function createDatabases(port: number): Promise<void> {
  const have = new Set(
    (await pgQuery(port, 'postgres', 'select datname from pg_database')).rows.map(
      (r: { datname: string }) => r.datname,
    ),
  );
  for (const db of PG_DATABASES) {
    if (have.has(db)) continue;
    log('postgres', `create database ${db}`);
    await pgQuery(port, 'postgres', `create database "${db}"`);
  }
}

async function healthy(state: State): Promise<boolean> {
  return (await pgQuery(state.ports.postgres, 'postgres', 'select 1')).rowCount === 1;
}

async function start(state: State): Promise<void> {
  const bin = postgresBinDir();
  if (!bin)
    throw new ServiceError('postgres', 'no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)');
  const running = pgRunning();
  if (running) {
    // A cluster started with other settings keeps its port: the env files follow it.
    if (running.port !== state.ports.postgres) {
      state.ports.postgres = running.port;
      writeState(state);
    }
    log('postgres', `already running (pid ${running.pid}, port ${running.port})`);
  } else {
    await startCluster(bin, state.ports.postgres);
  }
  const port = state.ports.postgres;
  await waitUntil(
    'postgres',
    pgLog(),
    TIMEOUT_MS,
    () => healthy(state),
    () => pgRunning() !== undefined,
  );
  await createDatabases(port);
  const v = (await pgQuery(port, 'warehouse', 'show server_version')).rows[0]?.server_version;
  log('postgres', `ready: PostgreSQL ${v} on 127.0.0.1:${port}, databases ${PG_DATABASES.join(', ')}`);
}

async function stop(): Promise<void> {
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
          logFile: pgCtlLog(),
          ...asOwner,
        },
      );
      return;
    } catch {
      log('postgres', 'pg_ctl stop failed; signalling the postmaster');
    }
  }
  await stopPid('postgres', running.pid, 30_000);
}

export const postgres: Service = {
  name: 'postgres',
  ports: ['postgres'],
  systemNeeds: 'postgresql',
  missingPackages() {
    const missing = postgresBinDir() ? [] : ['postgresql'];
    // runuser runs the cluster as `postgres` when root.
    if (isRoot && !which('runuser')) missing.push('util-linux');
    return missing;
  },
  async install() {
    if (!postgresBinDir())
      throw new ServiceError('postgres', 'apt-get installed postgresql but no initdb found');
  },
  start,
  healthy,
  runningPid: () => pgRunning()?.pid,
  stop,
  env(state) {
    const port = state.ports.postgres;
    const base = `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}`;
    return {
      TEST_PG_URL: `${base}/warehouse`,
      TEST_SOURCE_PG_URL: `${base}/source`,
      TEST_PG_ADMIN_URL: `${base}/postgres`,
      TEST_PG_HOST: '127.0.0.1',
      TEST_PG_PORT: String(port),
      TEST_PG_USER: PG_USER,
      TEST_PG_PASSWORD: PG_PASSWORD,
    } satisfies Partial<ServiceEnv>;
  },
  purge() {
    const target = pgRoot();
    if (target !== PG_LINK) fs.rmSync(path.dirname(target), { recursive: true, force: true });
  },
};
