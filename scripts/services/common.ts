// What every test service module shares: the one interface they implement, the layout of .services/, the
// remembered ports, logging, and the process helpers (run to completion, start a daemon, pid files, stop).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT, SERVICES_DIR, type ServiceEnv } from './env.ts';

// ---------------------------------------------------------------------------------------------
// The interface of one service module

/** The ports remembered in .services/state.json, by the service (or listener) that uses each. */
export type PortName =
  | 'postgres'
  | 'kafka'
  | 'kafkaController'
  | 'azurite'
  | 's3'
  | 'hubspot'
  | 'fakesnow'
  | 'fx';
export interface State {
  ports: Record<PortName, number>;
}

/**
 * One thing `up` provides. A server (postgres, kafka, azurite, s3) has ports and a process; a tool the tests call
 * (chromium) has neither, so its start and stop do nothing.
 */
export interface Service {
  /** The name in logs, in `status` and in `restart <name>`. */
  readonly name: string;
  /** The state.json ports it listens on, the first being the one `status` shows. */
  readonly ports: readonly PortName[];
  /** What it needs from the system, as the install log names it. */
  readonly systemNeeds: string;
  /** Debian packages it lacks here; `up` installs those of every service with one apt-get. */
  missingPackages(): string[];
  /** Installs or checks what apt-get does not bring (jars, a venv); runs after apt-get, beside the others. */
  install(): Promise<void>;
  /** Starts it, or reuses the one already running, and waits until it answers. */
  start(state: State): Promise<void>;
  /** Whether it answers a real request now. */
  healthy(state: State): Promise<boolean>;
  /** The pid of its running process, if it has one running. */
  runningPid(): number | undefined;
  /** Stops its process, if running; its data stays. */
  stop(): Promise<void>;
  /** The TEST_* variables it contributes to .services/env and env.json. */
  env(state: State): Partial<ServiceEnv>;
  /** Deletes what it keeps outside the services folder (`down --purge`). */
  purge?(): void;
}

// ---------------------------------------------------------------------------------------------
// Layout of .services/

export const DIR = SERVICES_DIR;
export const LOGS = path.join(DIR, 'logs');
const STATE_FILE = path.join(DIR, 'state.json');
const LOCK_FILE = path.join(DIR, '.lock');

export const isRoot = process.getuid?.() === 0;

/** A path relative to the repository when inside it, for shorter log lines. */
export const rel = (p: string) => (p.startsWith(`${REPO_ROOT}/`) ? path.relative(REPO_ROOT, p) : p);

// ---------------------------------------------------------------------------------------------
// Logging and errors

const startedAt = Date.now();

export function secondsSinceStart(): string {
  return ((Date.now() - startedAt) / 1000).toFixed(1);
}

export function log(who: string, msg: string): void {
  console.log(`[services +${secondsSinceStart().padStart(5)}s] ${who.padEnd(8)} ${msg}`);
}

/** A failure the orchestrator reports with the service's name and the tail of its log. */
export class ServiceError extends Error {
  service: string;
  logFile: string | undefined;
  constructor(service: string, message: string, logFile?: string) {
    super(message);
    this.service = service;
    this.logFile = logFile;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function tail(file: string, lines = 25): string {
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

// ---------------------------------------------------------------------------------------------
// Processes and pid files

export function pidAlive(pid: number): boolean {
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

/**
 * pid recorded in `file`, if that process is alive and its command line contains `marker`: a pid file left by a
 * crash may name a pid the system has since given to another program.
 */
export function livePid(file: string, marker: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return undefined;
  return cmdline(pid).includes(marker) ? pid : undefined;
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

interface RunOptions {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  asUser?: string;
}

/** Runs a command to completion, output appended to logFile; rejects with the log's tail. */
export function run(service: string, cmd: string, args: string[], opts: RunOptions): Promise<void> {
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

/** Starts a long-running process in its own session (it outlives this script), output appended to logFile. */
export function daemon(
  cmd: string,
  args: string[],
  logFile: string,
  pidFile: string,
  env?: NodeJS.ProcessEnv,
): { pid: number } {
  fs.appendFileSync(logFile, `\n==== ${new Date().toISOString()} $ ${cmd} ${args.join(' ')}\n`);
  const fd = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: env ?? process.env,
    cwd: DIR,
  });
  fs.closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  fs.writeFileSync(pidFile, `${child.pid}\n`);
  return { pid: child.pid };
}

/** SIGTERM, then SIGKILL when the process is still there after graceMs. */
export async function stopPid(who: string, pid: number, graceMs: number): Promise<void> {
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

/** Stops the daemon its pid file names (if it is still that program) and forgets the pid file. */
export async function stopDaemon(
  who: string,
  pidFile: string,
  marker: string,
  graceMs: number,
): Promise<void> {
  const pid = livePid(pidFile, marker);
  if (!pid) return log(who, 'not running');
  log(who, `stopping (pid ${pid})`);
  await stopPid(who, pid, graceMs);
  fs.rmSync(pidFile, { force: true });
}

/** Debian packages, when root; otherwise the apt-get line to run. */
export async function aptInstall(packages: string[]): Promise<void> {
  if (!isRoot) {
    throw new ServiceError(
      'install',
      `missing system packages; run as root: apt-get update && apt-get install -y ${packages.join(' ')}`,
    );
  }
  const logFile = path.join(LOGS, 'install.log');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log('install', 'apt-get update');
  await run('install', 'apt-get', ['update', '-q'], { logFile, env });
  log('install', `apt-get install ${packages.join(' ')}`);
  await run('install', 'apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], {
    logFile,
    env,
  });
}

// ---------------------------------------------------------------------------------------------
// Ports and readiness

export async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A free port below Linux's ephemeral range (32768+), so outgoing connections never hold it. */
export async function pickPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const port = 20_000 + crypto.randomInt(12_000);
    if (!taken.has(port) && (await portFree(port))) return port;
  }
  throw new Error('no free port found in 20000-31999 on 127.0.0.1');
}

/** Status code of a GET, or undefined when nothing answers. */
export function httpStatus(url: string, timeoutMs = 2000): Promise<number | undefined> {
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
export async function waitUntil(
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

/**
 * A daemon service's start: reuse the process already running, or launch one, then wait until it answers. A launched
 * process that exits while starting fails at once, naming its log.
 */
export async function startDaemonService(service: {
  name: string;
  port: number;
  logFile: string;
  timeoutMs: number;
  runningPid: () => number | undefined;
  launch: () => Promise<number> | number;
  healthy: () => Promise<boolean>;
}): Promise<void> {
  let pid = service.runningPid();
  if (pid) log(service.name, `already running (pid ${pid}, port ${service.port})`);
  else pid = await service.launch();
  const startedPid = pid;
  await waitUntil(
    service.name,
    service.logFile,
    service.timeoutMs,
    service.healthy,
    () => service.runningPid() === startedPid,
  );
}

// ---------------------------------------------------------------------------------------------
// State: ports chosen at the first start and remembered, so the env files stay valid across restarts

export function readState(): Partial<State> {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as Partial<State>;
  } catch {
    return {};
  }
}

export function writeState(state: State): void {
  fs.writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Lock: two `up`/`down` at once would race on pid files and ports.

export async function withLock<T>(fn: () => Promise<T>): Promise<T> {
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
