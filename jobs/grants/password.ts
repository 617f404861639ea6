/**
 * Password verifiers computed here, so a login's password never appears in SQL text, a server log or an error:
 * the warehouse is given what it stores anyway (what a login is checked against), not the password.
 *
 * - PostgreSQL: a SCRAM-SHA-256 verifier (RFC 5802/7677, the format of pg_authid.rolpassword). `ALTER ROLE …
 *   PASSWORD '<verifier>'` stores it as is; a client logs in with the password through the SCRAM exchange.
 * - Redshift: `'md5' || md5(password || user)`, which CREATE/ALTER USER accept in place of a clear-text password.
 *
 * A verifier is not the secret, but it allows an offline guess at it: it is still never logged.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { SqlDialect } from '../../adapters/warehouse/sql-database.ts';

/** PostgreSQL's own iteration count (scram_iterations' default). */
const SCRAM_ITERATIONS = 4096;

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64 parts, as PostgreSQL stores it. */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16)): string {
  // PostgreSQL runs SASLprep on the password first; for the ASCII passwords the stacks generate it changes nothing.
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Redshift's pre-hashed password form: `md5` + md5 hex of the password followed by the user name. */
export function redshiftMd5Password(password: string, user: string): string {
  return `md5${createHash('md5').update(`${password}${user}`).digest('hex')}`;
}

/** What the dialect's CREATE/ALTER of a login is given for this password. */
export function passwordVerifier(dialect: SqlDialect, password: string, login: string): string {
  return dialect === 'redshift' ? redshiftMd5Password(password, login) : scramSha256Verifier(password);
}
