// Azurite: the blob service only, from the npm devDependency `azurite`, with Microsoft's well-known development
// account.
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
  ServiceError,
  type State,
  startDaemonService,
  stopDaemon,
} from './common.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, REPO_ROOT } from './env.ts';

const TIMEOUT_MS = 45_000;
const AZ_DIR = path.join(DIR, 'azurite');
const AZ_PID = path.join(AZ_DIR, 'azurite.pid');
const AZ_LOG = path.join(LOGS, 'azurite.log');
const AZ_MARKER = 'azurite';

function azuriteScript(): string {
  const bin = path.join(REPO_ROOT, 'node_modules', '.bin', 'azurite-blob');
  if (!fs.existsSync(bin)) throw new ServiceError('azurite', `${bin} missing: run npm install first`);
  return fs.realpathSync(bin);
}

const blobUrl = (state: State) => `http://127.0.0.1:${state.ports.azurite}/${AZURITE_ACCOUNT}`;
const runningPid = () => livePid(AZ_PID, AZ_MARKER);

/** Any HTTP answer means the service is up (an unsigned request gets 403). */
async function healthy(state: State): Promise<boolean> {
  return (await httpStatus(`${blobUrl(state)}?comp=list`)) !== undefined;
}

async function start(state: State): Promise<void> {
  const port = state.ports.azurite;
  await startDaemonService({
    name: 'azurite',
    port,
    logFile: AZ_LOG,
    timeoutMs: TIMEOUT_MS,
    runningPid,
    healthy: () => healthy(state),
    launch: () => {
      fs.mkdirSync(AZ_DIR, { recursive: true });
      log('azurite', `starting blob service on 127.0.0.1:${port}`);
      const args = ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', AZ_DIR];
      // --silent drops the access log; --loose and --skipApiVersionCheck accept what newer SDKs send.
      const quiet = ['--disableTelemetry', '--skipApiVersionCheck', '--loose', '--silent'];
      return daemon(process.execPath, [azuriteScript(), ...args, ...quiet], AZ_LOG, AZ_PID).pid;
    },
  });
  log('azurite', `ready: blob endpoint ${blobUrl(state)}`);
}

export const azurite: Service = {
  name: 'azurite',
  ports: ['azurite'],
  systemNeeds: '',
  missingPackages: () => [],
  // An npm devDependency: `npm install` brought it; start() says so when it did not.
  install: async () => {},
  start,
  healthy,
  runningPid,
  stop: () => stopDaemon('azurite', AZ_PID, AZ_MARKER, 10_000),
  env(state) {
    const url = blobUrl(state);
    return {
      TEST_AZURITE_BLOB_URL: url,
      TEST_AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT,
      TEST_AZURE_STORAGE_KEY: AZURITE_KEY,
      TEST_AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${url};`,
    };
  },
};
