/**
 * The program in one call: validate the stack config (the stack's own over its cloud's shared
 * settings), build the platform spec from it and the job catalog, and run the program of the cloud
 * the stack name names. Only that cloud's SDK modules load.
 */
import * as pulumi from '@pulumi/pulumi';
import type { PlatformOutputs } from './adapter-urls.ts';
import { type ConfigSecretValues, WAREHOUSE_LOGIN_KEY } from './components/secrets.ts';
import { parseStackConfig, type StackConfig } from './config.ts';
import { buildPlatformSpec, sourceSecretName } from './spec.ts';
import { readCloudDefaults } from './stack-files.ts';

/** Config secrets keyed by the platform secret names the spec uses, kept secret in state. */
export function configSecretValues(config: StackConfig): ConfigSecretValues {
  const values: ConfigSecretValues = {
    PII_HASH_KEY: pulumi.secret(config.piiHashKey),
    SOURCE_PASSWORD: pulumi.secret(config.sourcePassword),
    [WAREHOUSE_LOGIN_KEY]: pulumi.secret(config.warehouseLoginKey),
  };
  if (config.warehouseAdminPassword !== undefined)
    values.WAREHOUSE_PASSWORD = pulumi.secret(config.warehouseAdminPassword);
  // Config validation pairs each with its source: a value here is a source the spec stores a secret for.
  const sourceCredentials = [
    ['CRM_SOURCE_URL', config.crmSourceToken],
    ['HISTORY_SOURCE_URL', config.historySourcePassword],
    ['FX_SOURCE_URL', config.fxSourceApiKey],
  ] as const;
  for (const [setting, value] of sourceCredentials)
    if (value !== undefined) values[sourceSecretName(setting)] = pulumi.secret(value);
  return values;
}

export async function runPlatform(
  rawConfig: Record<string, string>,
  stack: string,
): Promise<PlatformOutputs<pulumi.Output<string>>> {
  const config = parseStackConfig(rawConfig, stack, { cloudDefaults: readCloudDefaults });
  const spec = buildPlatformSpec(config);
  const secrets = configSecretValues(config);
  if (config.cloud === 'aws') {
    const { deployAws } = await import('./aws/program.ts');
    return deployAws(spec, secrets);
  }
  const { deployAzure } = await import('./azure/program.ts');
  return deployAzure(spec, secrets);
}
