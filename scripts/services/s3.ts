// S3: moto's server, from PyPI into a venv under ~/.cache (s3rver 3.7.1 fails ListObjectsV2 paging on Node 24, see
// docs/services.md). moto keeps its data in memory: a restart empties it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DIR,
  daemon,
  httpStatus,
  LOGS,
  livePid,
  log,
  run,
  type Service,
  ServiceError,
  type State,
  startDaemonService,
  stopDaemon,
  which,
} from './common.ts';

const MOTO_VERSION = '5.2.1';
// Outside .services/: `down --purge` keeps the ~75 s install.
const MOTO_VENV = path.join(
  process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
  'ecomm-services',
  `moto-${MOTO_VERSION}`,
);
const MOTO_PY = path.join(MOTO_VENV, 'bin', 'python');
const S3_KEY_ID = 'test';
const S3_SECRET = 'test';
const S3_REGION = 'us-east-1';
const TIMEOUT_MS = 60_000;

const S3_DIR = path.join(DIR, 's3');
const S3_PID = path.join(S3_DIR, 's3.pid');
const S3_LOG = path.join(LOGS, 's3.log');
const S3_MARKER = 'moto.server';

function pythonHasVenv(): boolean {
  return spawnSync('python3', ['-c', 'import venv, ensurepip'], { stdio: 'ignore' }).status === 0;
}

function motoImports(): boolean {
  return (
    fs.existsSync(MOTO_PY) &&
    spawnSync(MOTO_PY, ['-c', 'import moto.server, flask, flask_cors'], { stdio: 'ignore' }).status === 0
  );
}

async function installMoto(): Promise<void> {
  if (motoImports()) {
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
  if (!motoImports())
    throw new ServiceError('s3', 'pip installed moto but `import moto.server` fails', pipLog);
}

const endpoint = (state: State) => `http://127.0.0.1:${state.ports.s3}`;
const runningPid = () => livePid(S3_PID, S3_MARKER);
const healthy = async (state: State) => (await httpStatus(`${endpoint(state)}/`)) === 200;

async function start(state: State): Promise<void> {
  const port = state.ports.s3;
  await startDaemonService({
    name: 's3',
    port,
    logFile: S3_LOG,
    timeoutMs: TIMEOUT_MS,
    runningPid,
    healthy: () => healthy(state),
    launch: () => {
      fs.mkdirSync(S3_DIR, { recursive: true });
      log('s3', `starting moto server on 127.0.0.1:${port}`);
      const args = ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)];
      return daemon(MOTO_PY, args, S3_LOG, S3_PID, { ...process.env, PYTHONUNBUFFERED: '1' }).pid;
    },
  });
  log('s3', `ready: moto ${MOTO_VERSION} S3 endpoint ${endpoint(state)}`);
}

export const s3: Service = {
  name: 's3',
  ports: ['s3'],
  systemNeeds: 'python3 venv',
  missingPackages() {
    if (!which('python3')) return ['python3', 'python3-venv'];
    return pythonHasVenv() ? [] : ['python3-venv'];
  },
  install: installMoto,
  start,
  healthy,
  runningPid,
  stop: () => stopDaemon('s3', S3_PID, S3_MARKER, 10_000),
  env: (state) => ({
    TEST_S3_ENDPOINT: endpoint(state),
    TEST_S3_REGION: S3_REGION,
    TEST_S3_ACCESS_KEY_ID: S3_KEY_ID,
    TEST_S3_SECRET_ACCESS_KEY: S3_SECRET,
    TEST_S3_FORCE_PATH_STYLE: 'true',
  }),
};
