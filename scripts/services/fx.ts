// FX vendor: a local server shaped like a daily-rates API (fx-server.ts), for the FX source's tests.
// Plain Node, nothing to install; its data is in memory and each test makes its own account (see the server's
// header and docs/services.md).
import fs from 'node:fs';
import path from 'node:path';
import {
  DIR,
  daemon,
  httpStatus,
  LOGS,
  livePid,
  log,
  type Service,
  type State,
  startDaemonService,
  stopDaemon,
} from './common.ts';

const FX_DIR = path.join(DIR, 'fx');
const FX_PID = path.join(FX_DIR, 'fx.pid');
const FX_LOG = path.join(LOGS, 'fx.log');
const FX_MARKER = 'fx-server.ts';
const SERVER = path.join(import.meta.dirname, 'fx-server.ts');

const baseUrl = (state: State) => `http://127.0.0.1:${state.ports.fx}`;
const runningPid = () => livePid(FX_PID, FX_MARKER);
const healthy = async (state: State) => (await httpStatus(`${baseUrl(state)}/`)) === 200;

async function start(state: State): Promise<void> {
  const port = state.ports.fx;
  await startDaemonService({
    name: 'fx',
    port,
    logFile: FX_LOG,
    timeoutMs: 20_000,
    runningPid,
    healthy: () => healthy(state),
    launch: () => {
      fs.mkdirSync(FX_DIR, { recursive: true });
      log('fx', `starting the FX rates test server on 127.0.0.1:${port}`);
      return daemon(process.execPath, [SERVER, '--port', String(port)], FX_LOG, FX_PID).pid;
    },
  });
  log('fx', `ready: ${baseUrl(state)}`);
}

export const fx: Service = {
  name: 'fx',
  ports: ['fx'],
  systemNeeds: '',
  missingPackages: () => [],
  install: async () => {},
  start,
  healthy,
  runningPid,
  stop: () => stopDaemon('fx', FX_PID, FX_MARKER, 5_000),
  env: (state) => ({ TEST_FX_URL: baseUrl(state) }),
};
