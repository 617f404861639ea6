// Snowflake: fakesnow's server (DuckDB behind Snowflake's REST API), from PyPI into a venv under ~/.cache, started
// through fakesnow_server.py, whose middleware makes its answers readable by the Node snowflake-sdk (docs/services.md).
// Its data is in memory: a restart empties it, so tests create the databases and tables they read.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DIR,
  daemon,
  LOGS,
  livePid,
  log,
  run,
  type Service,
  type State,
  startDaemonService,
  stopDaemon,
  which,
} from './common.ts';
import { REPO_ROOT } from './env.ts';

const FAKESNOW_VERSION = '0.12.1';
/**
 * fakesnow's CLI imports `snowflake.connector.converter`, gone in snowflake-connector-python 4; 3.18.1 is the newest
 * 3.x, the one this was tried with.
 */
const REQUIREMENTS = [`fakesnow[server]==${FAKESNOW_VERSION}`, 'snowflake-connector-python==3.18.1'];
// Outside .services/: `down --purge` keeps the install.
const VENV = path.join(
  process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
  'ecomm-services',
  `fakesnow-${FAKESNOW_VERSION}`,
);
const PY = path.join(VENV, 'bin', 'python');
/** What the venv was installed with: a changed pin reinstalls it. */
const STAMP = path.join(VENV, 'ecomm-requirements.txt');
const LAUNCHER = path.join(REPO_ROOT, 'scripts', 'services', 'fakesnow_server.py');
const MARKER = 'fakesnow_server.py';
const TIMEOUT_MS = 60_000;

/** The launcher refuses any other login, as Snowflake does, so a wrong password can be tested. */
const USER = 'ecomm';
const PASSWORD = 'ecomm-fakesnow';
/** Names the secret holding the password: tests put TEST_SNOWFLAKE_PASSWORD in an `env://` secret store. */
const PASSWORD_SECRET = 'TEST_SNOWFLAKE_PASSWORD';
const DATABASE = 'ECOMM';
const SCHEMA = 'PUBLIC';
const WAREHOUSE = 'TEST_WH';

const FAKESNOW_DIR = path.join(DIR, 'fakesnow');
const PID_FILE = path.join(FAKESNOW_DIR, 'fakesnow.pid');
const LOG_FILE = path.join(LOGS, 'fakesnow.log');

function installed(): boolean {
  try {
    return fs.readFileSync(STAMP, 'utf8') === `${REQUIREMENTS.join('\n')}\n` && fs.existsSync(PY);
  } catch {
    return false;
  }
}

async function install(): Promise<void> {
  if (installed()) {
    log('fakesnow', `fakesnow ${FAKESNOW_VERSION} present in ${VENV}`);
    return;
  }
  const pipLog = path.join(LOGS, 'pip-fakesnow.log');
  log('fakesnow', `installing ${REQUIREMENTS.join(' ')} from PyPI into ${VENV}`);
  fs.rmSync(VENV, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(VENV), { recursive: true });
  await run('fakesnow', 'python3', ['-m', 'venv', VENV], { logFile: pipLog });
  await run('fakesnow', PY, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', ...REQUIREMENTS], {
    logFile: pipLog,
  });
  await run('fakesnow', PY, ['-c', 'import fakesnow.server, uvicorn, pyarrow'], { logFile: pipLog });
  fs.writeFileSync(STAMP, `${REQUIREMENTS.join('\n')}\n`);
}

const endpoint = (state: State) => `http://127.0.0.1:${state.ports.fakesnow}`;
const runningPid = () => livePid(PID_FILE, MARKER);

/** A real login, as the SDK sends it: the server answers, and the launcher's middleware takes the credentials. */
async function healthy(state: State): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint(state)}/session/v1/login-request`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: { LOGIN_NAME: USER, PASSWORD, SESSION_PARAMETERS: {} } }),
      signal: AbortSignal.timeout(2000),
    });
    return response.ok && ((await response.json()) as { success?: boolean }).success === true;
  } catch {
    return false;
  }
}

async function start(state: State): Promise<void> {
  const port = state.ports.fakesnow;
  await startDaemonService({
    name: 'fakesnow',
    port,
    logFile: LOG_FILE,
    timeoutMs: TIMEOUT_MS,
    runningPid,
    healthy: () => healthy(state),
    launch: () => {
      fs.mkdirSync(FAKESNOW_DIR, { recursive: true });
      log('fakesnow', `starting fakesnow server on 127.0.0.1:${port}`);
      const args = [LAUNCHER, '--host', '127.0.0.1', '--port', String(port), '--user', USER];
      const env = { ...process.env, PYTHONUNBUFFERED: '1', FAKESNOW_PASSWORD: PASSWORD };
      return daemon(PY, args, LOG_FILE, PID_FILE, env).pid;
    },
  });
  log('fakesnow', `ready: fakesnow ${FAKESNOW_VERSION} at ${endpoint(state)}`);
}

export const fakesnow: Service = {
  name: 'fakesnow',
  ports: ['fakesnow'],
  systemNeeds: 'python3 venv',
  missingPackages() {
    if (!which('python3')) return ['python3', 'python3-venv'];
    const hasVenv = spawnSync('python3', ['-c', 'import venv, ensurepip'], { stdio: 'ignore' }).status === 0;
    return hasVenv ? [] : ['python3-venv'];
  },
  install,
  start,
  healthy,
  runningPid,
  stop: () => stopDaemon('fakesnow', PID_FILE, MARKER, 10_000),
  env: (state) => ({
    TEST_SNOWFLAKE_ENDPOINT: endpoint(state),
    TEST_SNOWFLAKE_USER: USER,
    TEST_SNOWFLAKE_PASSWORD: PASSWORD,
    TEST_SNOWFLAKE_URL:
      `snowflake://fakesnow/${DATABASE}/${SCHEMA}?warehouse=${WAREHOUSE}&user=${USER}` +
      `&passwordSecret=${PASSWORD_SECRET}&host=${encodeURIComponent(endpoint(state))}`,
  }),
};
