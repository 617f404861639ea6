/** Stack config maps as `pulumi.runtime.allConfig()` would return them for the two stacks. */

import { MALLOC_ENVIRONMENT } from '../../jobs/catalog.ts';
import { PROJECT } from '../config.ts';

/** The stacks the fixtures configure: environment `test`, so resources are named `ecomm-test-...`. */
export const AWS_STACK = 'aws-test';
export const AZURE_STACK = 'azure-test';

const shared: Record<string, string> = {
  [`${PROJECT}:owner`]: 'data-engineering',
  [`${PROJECT}:costCenter`]: 'analytics-42',
  [`${PROJECT}:alertEmails`]: JSON.stringify(['oncall@example.com', 'data-team@example.com']),
  [`${PROJECT}:imageTag`]: '2025.01.0',
  [`${PROJECT}:source`]: JSON.stringify({
    host: 'oltp.example.internal',
    database: 'shop',
    user: 'ecomm_reader',
  }),
  // The test stacks deploy every catalog job, `generate` included (stacks leave it out unless asked).
  [`${PROJECT}:deploySeedJobs`]: 'true',
  [`${PROJECT}:piiHashKey`]: 'k'.repeat(48),
  [`${PROJECT}:warehouseLoginKey`]: 'w'.repeat(48),
  [`${PROJECT}:sourcePassword`]: 'source-password-value',
};

export const AWS_CONFIG: Record<string, string> = {
  ...shared,
  'aws:region': 'eu-west-1',
  [`${PROJECT}:network`]: JSON.stringify({
    cidr: '10.40.0.0/16',
    availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
  }),
};

export const AZURE_CONFIG: Record<string, string> = {
  ...shared,
  'azure-native:location': 'westeurope',
  [`${PROJECT}:network`]: JSON.stringify({ cidr: '10.50.0.0/16' }),
  [`${PROJECT}:warehouseAdminPassword`]: 'warehouse-admin-password-value',
};

export function withKey(
  base: Record<string, string>,
  key: string,
  value: string | undefined,
): Record<string, string> {
  const copy = { ...base };
  if (value === undefined) delete copy[`${PROJECT}:${key}`];
  else copy[`${PROJECT}:${key}`] = value;
  return copy;
}

/**
 * The further sources, each configured as an operator would (docs/deploy.md), and their secret config: merge over
 * AWS_CONFIG or AZURE_CONFIG. The ranges are documentation-style examples, not the vendors' real ones.
 */
export const SOURCES_CONFIG: Record<string, string> = {
  [`${PROJECT}:crmSource`]: JSON.stringify({ egress: { cidrs: ['104.16.0.0/13', '172.64.0.0/13'] } }),
  [`${PROJECT}:historySource`]: JSON.stringify({
    account: 'acme-analytics',
    database: 'ANALYTICS',
    schema: 'HISTORY',
    warehouse: 'EXTRACT_WH',
    user: 'ECOMM_READER',
    egress: { cidrs: ['52.19.0.0/16'] },
  }),
  [`${PROJECT}:fxSource`]: JSON.stringify({
    host: 'openexchangerates.org',
    path: '/api',
    start: '2024-01-01',
    egress: { cidrs: ['198.51.100.0/24'] },
  }),
  [`${PROJECT}:crmSourceToken`]: 'pat-na1-crm-token-value',
  [`${PROJECT}:historySourcePassword`]: 'snowflake-password-value',
  [`${PROJECT}:fxSourceApiKey`]: 'fx-api-key-value',
};

/** The secret config values of SOURCES_CONFIG: none may appear in a URL or a task definition. */
export const SOURCE_SECRET_VALUES = [
  'pat-na1-crm-token-value',
  'snowflake-password-value',
  'fx-api-key-value',
];

/**
 * The environment variable names a catalog job gets on both clouds: its settings (and those of its optional ones
 * the stack configures), the heap cap, the malloc setting, and the stream consumer group when it reads the stream.
 */
export function expectedEnvironment(
  env: string[],
  optionalEnv: string[] = [],
  configured: string[] = [],
): string[] {
  const names = new Set([
    ...env,
    ...optionalEnv.filter((name) => configured.includes(name)),
    'NODE_OPTIONS',
    ...Object.keys(MALLOC_ENVIRONMENT),
  ]);
  if (env.includes('STREAM_URL')) names.add('STREAM_GROUP_ID');
  return [...names].sort();
}
