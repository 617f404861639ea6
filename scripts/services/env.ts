// Where the local test services keep their state, and how tests read the URLs that
// `npm run services:up` (scripts/services/services.ts) writes to .services/env.json.
import fs from 'node:fs';
import path from 'node:path';

/** Repository root (this file lives in scripts/services/). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** The one git-ignored folder holding every service's data, logs, pid files and env files. */
export const SERVICES_DIR = process.env.ECOMM_SERVICES_DIR
  ? path.resolve(process.env.ECOMM_SERVICES_DIR)
  : path.join(REPO_ROOT, '.services');

export const ENV_FILE = path.join(SERVICES_DIR, 'env');
export const ENV_JSON_FILE = path.join(SERVICES_DIR, 'env.json');

/** The variables written to .services/env and .services/env.json. */
export interface ServiceEnv {
  TEST_PG_URL: string;
  TEST_SOURCE_PG_URL: string;
  TEST_PG_ADMIN_URL: string;
  TEST_PG_HOST: string;
  TEST_PG_PORT: string;
  TEST_PG_USER: string;
  TEST_PG_PASSWORD: string;
  TEST_KAFKA_BROKERS: string;
  TEST_AZURITE_BLOB_URL: string;
  TEST_AZURE_STORAGE_ACCOUNT: string;
  TEST_AZURE_STORAGE_KEY: string;
  TEST_AZURE_STORAGE_CONNECTION_STRING: string;
  TEST_S3_ENDPOINT: string;
  TEST_S3_REGION: string;
  TEST_S3_ACCESS_KEY_ID: string;
  TEST_S3_SECRET_ACCESS_KEY: string;
  TEST_S3_FORCE_PATH_STYLE: string;
  /** The HubSpot CRM API stand-in (scripts/services/hubspot-server.ts). */
  TEST_HUBSPOT_URL: string;
  /** The daily FX rates vendor stand-in (scripts/services/fx-server.ts). */
  TEST_FX_URL: string;
  /** fakesnow (scripts/services/fakesnow.ts): the snowflake:// source URL, its endpoint and login. */
  TEST_SNOWFLAKE_URL: string;
  TEST_SNOWFLAKE_ENDPOINT: string;
  TEST_SNOWFLAKE_USER: string;
  TEST_SNOWFLAKE_PASSWORD: string;
  TEST_SERVICES_DIR: string;
}

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * The service URLs: from process.env when every TEST_* variable is set there (CI may
 * export them), otherwise from .services/env.json. Throws a message that says what to run.
 */
export function loadServiceEnv(): ServiceEnv {
  if (process.env.TEST_PG_URL && process.env.TEST_KAFKA_BROKERS && process.env.TEST_S3_ENDPOINT) {
    const fromFile = fs.existsSync(ENV_JSON_FILE) ? readEnvJson() : {};
    return { ...fromFile, ...pickTestVars(process.env) } as ServiceEnv;
  }
  if (!fs.existsSync(ENV_JSON_FILE)) {
    throw new Error(
      `${ENV_JSON_FILE} not found: start the test services first with \`npm run services:up\` ` +
        '(bash scripts/services/up.sh)',
    );
  }
  return readEnvJson() as ServiceEnv;
}

function readEnvJson(): Partial<ServiceEnv> {
  return JSON.parse(fs.readFileSync(ENV_JSON_FILE, 'utf8')) as Partial<ServiceEnv>;
}

function pickTestVars(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('TEST_') && v !== undefined) out[k] = v;
  return out;
}

/** Shell-sourceable KEY='value' lines (also read by `node --env-file`). */
export function toShellEnv(env: ServiceEnv): string {
  const lines = Object.entries(env).map(([k, v]) => `${k}='${String(v).replaceAll("'", "'\\''")}'`);
  return `# Written by scripts/services/services.ts; source it with: set -a; . ${ENV_FILE}; set +a\n${lines.join('\n')}\n`;
}
