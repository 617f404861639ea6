// HubSpot: a local server following HubSpot's CRM API shapes (hubspot-server.ts), for the HubSpot source's tests.
// Plain Node, nothing to install; its data is in memory and each test makes its own portal (see the server's
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

const HUBSPOT_DIR = path.join(DIR, 'hubspot');
const HUBSPOT_PID = path.join(HUBSPOT_DIR, 'hubspot.pid');
const HUBSPOT_LOG = path.join(LOGS, 'hubspot.log');
const HUBSPOT_MARKER = 'hubspot-server.ts';
const SERVER = path.join(import.meta.dirname, 'hubspot-server.ts');

const baseUrl = (state: State) => `http://127.0.0.1:${state.ports.hubspot}`;
const runningPid = () => livePid(HUBSPOT_PID, HUBSPOT_MARKER);
const healthy = async (state: State) => (await httpStatus(`${baseUrl(state)}/`)) === 200;

async function start(state: State): Promise<void> {
  const port = state.ports.hubspot;
  await startDaemonService({
    name: 'hubspot',
    port,
    logFile: HUBSPOT_LOG,
    timeoutMs: 20_000,
    runningPid,
    healthy: () => healthy(state),
    launch: () => {
      fs.mkdirSync(HUBSPOT_DIR, { recursive: true });
      log('hubspot', `starting the HubSpot test server on 127.0.0.1:${port}`);
      return daemon(process.execPath, [SERVER, '--port', String(port)], HUBSPOT_LOG, HUBSPOT_PID).pid;
    },
  });
  log('hubspot', `ready: ${baseUrl(state)}`);
}

export const hubspot: Service = {
  name: 'hubspot',
  ports: ['hubspot'],
  systemNeeds: '',
  missingPackages: () => [],
  install: async () => {},
  start,
  healthy,
  runningPid,
  stop: () => stopDaemon('hubspot', HUBSPOT_PID, HUBSPOT_MARKER, 5_000),
  env: (state) => ({ TEST_HUBSPOT_URL: baseUrl(state) }),
};
