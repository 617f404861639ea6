/**
 * The adapter URLs the jobs read (see docs/architecture.md, "Data flow"). Stack outputs and the
 * job runners' environments are built here, so both clouds hand jobs the same shapes.
 * Credentials never appear in a URL: a database URL names the secret holding its password
 * (`passwordSecret`, read from the store SECRETS_URL points at; a JSON value's `password` field is
 * used, as in Redshift's managed admin secret). Event Hubs is reached through Microsoft Entra ID
 * (auth=entra: the workload's managed identity), so no stream credential exists at all.
 */

/** The settings the platform can give a job; the catalog's `env` lists pick from these. */
export const PLATFORM_SETTINGS = [
  'LAKE_URL',
  'STREAM_URL',
  'WAREHOUSE_URL',
  'SOURCE_URL',
  'SECRETS_URL',
] as const;
export type PlatformSetting = (typeof PLATFORM_SETTINGS)[number];

export function isPlatformSetting(name: string): name is PlatformSetting {
  return (PLATFORM_SETTINGS as readonly string[]).includes(name);
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

/** The stack's secrets are named `<prefix><name>`: the environments of one account and region never collide. */
export function awsSecretsUrl(region: string, prefix = ''): string {
  return `aws-secretsmanager://${region}${prefix === '' ? '' : `?prefix=${prefix}`}`;
}

export function azureSecretsUrl(vaultName: string): string {
  return `azure-keyvault://${vaultName}`;
}

/** The stack outputs both programs export: the five settings plus the image every job runs. */
export interface PlatformOutputs<T> {
  LAKE_URL: T;
  STREAM_URL: T;
  WAREHOUSE_URL: T;
  SOURCE_URL: T;
  SECRETS_URL: T;
  imageRef: T;
}
