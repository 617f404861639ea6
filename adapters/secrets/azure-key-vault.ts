import { redactedMessage, redactUrl } from '../redact.ts';
import { SecretNotFoundError, type SecretStore } from './secret-store.ts';

/** The one call this adapter makes; tests inject a fake (there is no Key Vault emulator). */
export interface KeyVaultSecretReader {
  getSecret(name: string): Promise<{ value?: string }>;
}

const VAULT_NAME = /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/i;

/**
 * Key Vault secret names allow only letters, digits and dashes (1-127, case-insensitive), so the platform's names
 * are looked up with `_` as `-`: PII_HASH_KEY is the vault secret PII-HASH-KEY. The Azure stack stores them with
 * this same function (infra/naming.ts).
 */
export function keyVaultName(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,127}$/.test(name)) {
    throw new Error(`secret name "${name}" must be 1-127 letters, digits, _ or - to live in Key Vault`);
  }
  return name.replaceAll('_', '-');
}

/** `https://<vault>.vault.azure.net` for `azure-keyvault://<vault>`; a full host name for sovereign clouds. */
export function keyVaultUri(url: string): string {
  if (!URL.canParse(url)) throw new Error(`SECRETS_URL: cannot parse "${redactUrl(url)}" as a URL`);
  const parsed = new URL(url);
  const host = parsed.hostname;
  if (parsed.search !== '' || parsed.pathname.replace(/^\/$/, '') !== '') {
    throw new Error(
      `SECRETS_URL: "${redactUrl(url)}" takes no path or parameters: azure-keyvault://<vault name>`,
    );
  }
  if (host.includes('.')) return `https://${host}`;
  if (!VAULT_NAME.test(host)) {
    throw new Error(`SECRETS_URL: "${host}" is not a Key Vault name (3-24 letters, digits and dashes)`);
  }
  return `https://${host}.vault.azure.net`;
}

/** Loaded on first use: the Azure SDKs cost start-up time that embedded runs and --help should not pay. */
async function openSecretClient(vaultUri: string): Promise<KeyVaultSecretReader> {
  const [{ DefaultAzureCredential }, { SecretClient }] = await Promise.all([
    import('@azure/identity'),
    import('@azure/keyvault-secrets'),
  ]);
  return new SecretClient(vaultUri, new DefaultAzureCredential());
}

/**
 * Azure Key Vault (`azure-keyvault://<vault-name>`), signed in with DefaultAzureCredential (the job's managed
 * identity on Azure, a developer's `az login` locally). Values are cached for the process lifetime.
 */
export function openAzureKeyVault(url: string, options: { client?: KeyVaultSecretReader } = {}): SecretStore {
  const vaultUri = keyVaultUri(url);
  let client = options.client;
  const cache = new Map<string, Promise<string>>();
  async function read(name: string): Promise<string> {
    try {
      const vaultName = keyVaultName(name);
      client ??= await openSecretClient(vaultUri);
      const secret = await client.getSecret(vaultName);
      if (secret.value === undefined || secret.value === '') throw new SecretNotFoundError(url, name);
      return secret.value;
    } catch (error) {
      if (error instanceof SecretNotFoundError) throw error;
      if ((error as { statusCode?: unknown }).statusCode === 404) throw new SecretNotFoundError(url, name);
      // Key Vault's messages name the secret and the reason (Forbidden, a firewall), never the value.
      throw new Error(`cannot read secret ${name} from ${redactUrl(url)}: ${redactedMessage(error)}`, {
        cause: error,
      });
    }
  }
  return {
    url,
    get(name: string) {
      let value = cache.get(name);
      if (value === undefined) {
        value = read(name);
        cache.set(name, value);
        // A failure is not cached: the next get asks again.
        value.catch(() => cache.delete(name));
      }
      return value;
    },
  };
}
