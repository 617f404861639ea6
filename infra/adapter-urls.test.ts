import { describe, expect, it } from 'vitest';
import {
  awsSecretsUrl,
  azureLakeUrl,
  azureSecretsUrl,
  eventHubsStreamUrl,
  isPlatformSetting,
  mskStreamUrl,
  postgresUrl,
  redshiftUrl,
  s3LakeUrl,
} from './adapter-urls.ts';

const endpoint = {
  host: 'db.internal',
  port: 5432,
  database: 'warehouse',
  user: 'ecomm_admin',
  passwordSecret: 'WAREHOUSE_PASSWORD',
};

describe('adapter URLs', () => {
  it('addresses the lake as s3://bucket or az://account/container', () => {
    expect(s3LakeUrl('lake-bucket')).toBe('s3://lake-bucket');
    expect(s3LakeUrl('lake-bucket', 'v1')).toBe('s3://lake-bucket/v1');
    expect(azureLakeUrl('acct', 'lake')).toBe('az://acct/lake');
  });

  it('gives MSK IAM auth and Event Hubs SASL as kafka:// URLs with the auth profile in the query', () => {
    expect(mskStreamUrl('b-1.x:9098,b-2.x:9098', 'eu-west-1')).toBe(
      'kafka://b-1.x:9098,b-2.x:9098?auth=msk-iam&region=eu-west-1',
    );
    expect(eventHubsStreamUrl('ecomm-ns')).toBe('kafka://ecomm-ns.servicebus.windows.net:9093?auth=entra');
  });

  it('names the secret holding the password instead of embedding it, and requires TLS', () => {
    expect(postgresUrl(endpoint)).toBe(
      'postgres://ecomm_admin@db.internal:5432/warehouse?sslmode=require&passwordSecret=WAREHOUSE_PASSWORD',
    );
    expect(redshiftUrl({ ...endpoint, port: 5439 })).toMatch(
      /^redshift:\/\/ecomm_admin@db\.internal:5439\/warehouse\?/,
    );
    expect(postgresUrl(endpoint)).not.toMatch(/:[^/@]+@/);
  });

  it('points the secrets adapter at a Secrets Manager region or a Key Vault', () => {
    expect(awsSecretsUrl('eu-west-1')).toBe('aws-secretsmanager://eu-west-1');
    expect(awsSecretsUrl('eu-west-1', 'ecomm-prod/')).toBe(
      'aws-secretsmanager://eu-west-1?prefix=ecomm-prod/',
    );
    expect(azureSecretsUrl('ecomm-prod-kv')).toBe('azure-keyvault://ecomm-prod-kv');
  });

  it('knows which environment variables are platform settings', () => {
    expect(isPlatformSetting('LAKE_URL')).toBe(true);
    expect(isPlatformSetting('LAKE_URI')).toBe(false);
  });
});
