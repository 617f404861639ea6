// Chromium: not a server. The browser tests drive Debian's package with playwright-core, never a downloaded
// browser (the test machine may have no internet), so `up` only makes sure the package is there.
import fs from 'node:fs';
import { type Service, ServiceError } from './common.ts';

const CHROMIUM = '/usr/bin/chromium';

const healthy = async () => fs.existsSync(CHROMIUM);

export const chromium: Service = {
  name: 'chromium',
  ports: [],
  systemNeeds: 'chromium',
  missingPackages: () => (fs.existsSync(CHROMIUM) ? [] : ['chromium']),
  install: async () => {},
  async start() {
    if (!(await healthy()))
      throw new ServiceError('chromium', `${CHROMIUM} missing (apt-get install chromium)`);
  },
  healthy,
  runningPid: () => undefined,
  stop: async () => {},
  env: () => ({}),
};
