/**
 * The warehouse logins the jobs connect as, one per job or service that reads WAREHOUSE_URL (jobs/catalog.ts,
 * warehouseLoginOf), and their passwords. Nothing runs as the warehouse admin: each workload's WAREHOUSE_URL
 * names its own login and the secret holding its password, and only that workload may read that secret.
 *
 * The passwords are derived, not drawn: HMAC-SHA256 of the login under the stack's `warehouseLoginKey` (an
 * encrypted stack config value no job can read), so both clouds make them the same way without a random
 * provider, a rerun of `pulumi up` keeps them, and changing the key rotates them all.
 */
import { createHmac } from 'node:crypto';

/** The platform secret holding a login's password: `ECOMM_LOAD_PASSWORD` for `ecomm_load`. */
export function loginSecretName(login: string): string {
  return `${login.toUpperCase()}_PASSWORD`;
}

/**
 * A login's password: 46 characters, always with an upper- and a lowercase letter and a digit (Redshift asks for
 * each), the rest base64url, which neither database nor a connection URL treats specially.
 */
export function loginPassword(key: string, login: string): string {
  if (key.length < 32)
    throw new Error('warehouseLoginKey: use at least 32 characters of random key material');
  const digest = createHmac('sha256', key).update(`warehouse-login:${login}`).digest('base64url');
  return `Wl9${digest}`;
}
