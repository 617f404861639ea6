/**
 * The adapter URLs the jobs read (see docs/architecture.md, "Data flow"). Stack outputs and the
 * job runners' environments are built here, so both clouds hand jobs the same shapes.
 * Credentials never appear in a URL: a database URL names the secret holding its password
 * (`passwordSecret`, read from the store SECRETS_URL points at; a JSON value's `password` field is
 * used, as in Redshift's managed admin secret). Event Hubs is reached through Microsoft Entra ID
 * (auth=entra: the workload's managed identity), so no stream credential exists at all.
 */

/** The settings every stack gives: the catalog's `env` lists pick from these. */
export const CORE_SETTINGS = [
  'LAKE_URL',
  'STREAM_URL',
  'WAREHOUSE_URL',
  'SOURCE_URL',
  'SECRETS_URL',
] as const;
export type CoreSetting = (typeof CORE_SETTINGS)[number];

/**
 * The further sources a stack may configure (jobs/extract/sources.ts), each a URL the stack builds from its config
 * and hands only to the jobs whose catalog `optionalEnv` names it, and only when configured.
 */
export const SOURCE_SETTINGS = ['CRM_SOURCE_URL', 'HISTORY_SOURCE_URL', 'FX_SOURCE_URL'] as const;
export type SourceSetting = (typeof SOURCE_SETTINGS)[number];

/** The settings the platform can give a job. */
export const PLATFORM_SETTINGS = [...CORE_SETTINGS, ...SOURCE_SETTINGS] as const;
export type PlatformSetting = (typeof PLATFORM_SETTINGS)[number];

/** A stack's setting values: every core one, and the sources it configures. */
export type PlatformSettingValues<T> = Record<CoreSetting, T> & Partial<Record<SourceSetting, T>>;

export function isPlatformSetting(name: string): name is PlatformSetting {
  return (PLATFORM_SETTINGS as readonly string[]).includes(name);
}

export function isSourceSetting(name: string): name is SourceSetting {
  return (SOURCE_SETTINGS as readonly string[]).includes(name);
}

function withQuery(base: string, query: Record<string, string>): string {
  const params = new URLSearchParams(query).toString();
  return params === '' ? base : `${base}?${params}`;
}

export function s3LakeUrl(bucket: string, prefix = ''): string {
  return prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`;
}

export function azureLakeUrl(account: string, container: string, prefix = ''): string {
  return prefix === '' ? `az://${account}/${container}` : `az://${account}/${container}/${prefix}`;
}

/** MSK with IAM auth: the SASL/IAM bootstrap list (`b-1...:9098,b-2...:9098`) plus the signing region. */
export function mskStreamUrl(bootstrapBrokers: string, region: string): string {
  return withQuery(`kafka://${bootstrapBrokers}`, { auth: 'msk-iam', region });
}

/**
 * Event Hubs' Kafka endpoint through Microsoft Entra ID: SASL OAUTHBEARER with a token of the workload's managed
 * identity (AZURE_CLIENT_ID) for the namespace; the namespace's shared keys are disabled.
 */
export function eventHubsStreamUrl(namespace: string): string {
  return withQuery(`kafka://${namespace}.servicebus.windows.net:9093`, { auth: 'entra' });
}

export interface DatabaseEndpoint {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Secret holding the password: a platform secret name or, on AWS, a secret ARN. */
  passwordSecret: string;
}

function databaseUrl(scheme: 'postgres' | 'redshift', endpoint: DatabaseEndpoint): string {
  const user = encodeURIComponent(endpoint.user);
  return withQuery(`${scheme}://${user}@${endpoint.host}:${endpoint.port}/${endpoint.database}`, {
    sslmode: 'require',
    passwordSecret: endpoint.passwordSecret,
  });
}

export function redshiftUrl(endpoint: DatabaseEndpoint): string {
  return databaseUrl('redshift', endpoint);
}

export function postgresUrl(endpoint: DatabaseEndpoint): string {
  return databaseUrl('postgres', endpoint);
}

/**
 * HubSpot (adapters/source/hubspot.ts): the private-app token is the secret `tokenSecret` names; HTTPS is the
 * adapter's default, so the URL says nothing about it.
 */
export function hubspotSourceUrl(source: { host: string; tokenSecret: string }): string {
  return withQuery(`hubspot://${source.host}`, { tokenSecret: source.tokenSecret });
}

export interface SnowflakeEndpoint {
  /** The account identifier (`<org>-<account>` or `<locator>.<region>`), the host's first label. */
  account: string;
  database: string;
  schema: string;
  warehouse: string;
  user: string;
  role?: string | undefined;
  passwordSecret: string;
}

/** Snowflake (adapters/source/snowflake.ts): the password is the secret `passwordSecret` names. */
export function snowflakeSourceUrl(endpoint: SnowflakeEndpoint): string {
  const path = [endpoint.account, endpoint.database, endpoint.schema].map(encodeURIComponent).join('/');
  return withQuery(`snowflake://${path}`, {
    warehouse: endpoint.warehouse,
    user: endpoint.user,
    ...(endpoint.role === undefined ? {} : { role: endpoint.role }),
    passwordSecret: endpoint.passwordSecret,
  });
}

export interface FxEndpoint {
  host: string;
  /** The API root under the host (`/api`). */
  path: string;
  /** The first rate day ever read, `YYYY-MM-DD`. */
  start: string;
  base?: string | undefined;
  keySecret: string;
}

/** The FX vendor (adapters/source/fx-http.ts): the API key is the secret `keySecret` names. */
export function fxSourceUrl(endpoint: FxEndpoint): string {
  const path = endpoint.path.replace(/^\/*/, '/').replace(/\/+$/, '');
  return withQuery(`fxrates://${endpoint.host}${path}`, {
    keySecret: endpoint.keySecret,
    start: endpoint.start,
    ...(endpoint.base === undefined ? {} : { base: endpoint.base }),
  });
}

/** The stack's secrets are named `<prefix><name>`: the environments of one account and region never collide. */
export function awsSecretsUrl(region: string, prefix = ''): string {
  return `aws-secretsmanager://${region}${prefix === '' ? '' : `?prefix=${prefix}`}`;
}

export function azureSecretsUrl(vaultName: string): string {
  return `azure-keyvault://${vaultName}`;
}

/**
 * The stack outputs both programs export: the five core settings, the URL of each source the stack configures,
 * plus the image every job runs.
 */
export type PlatformOutputs<T> = PlatformSettingValues<T> & { imageRef: T };
