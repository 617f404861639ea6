/**
 * `ecomm grants`: creates the warehouse roles of the access policy (policy.ts) and brings their privileges in step
 * with it; idempotent, so it runs at the start of every `ecomm run` whose login may manage roles, and alone. It is
 * the one job that runs as the warehouse's admin (docs/access.md).
 */
import { SecretNotFoundError } from '../../adapters/secrets/index.ts';
import { schemeOf } from '../../adapters/url.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { passwordVerifier } from './password.ts';
import { ACCESS_POLICY, MODEL_OWNER_ROLE, type RolePolicy } from './policy.ts';
import {
  type LoginVerifiers,
  membership,
  renderOwnership,
  renderPrivileges,
  renderRoles,
  type Statement,
  type WarehouseRoles,
} from './render.ts';

export interface GrantsOptions {
  /** Print the statements (passwords left out) instead of running them. */
  dryRun?: boolean;
}

export interface GrantsResult {
  /** Why nothing was done (PGlite has one user; a login that may not manage roles), or null when synced. */
  skipped: string | null;
  roles: number;
  statements: number;
  /** Logins whose password secret is missing: created without a password, so they cannot log in yet. */
  withoutPassword: string[];
}

/** The login cannot create roles: the grants are someone else's (the admin's `ecomm grants`). */
export class CannotManageRolesError extends Error {}

export async function syncGrants(
  context: JobContext,
  options: GrantsOptions = {},
  output: PrintLine = () => {},
  policy: readonly RolePolicy[] = ACCESS_POLICY,
): Promise<GrantsResult> {
  if (schemeOf(context.config.WAREHOUSE_URL) === 'pglite') {
    const skipped =
      'the embedded warehouse (PGlite) has a single user: there are no roles to grant, every job uses it';
    context.log.info({ job: 'grants' }, `grants: nothing to do: ${skipped}`);
    return { skipped, roles: 0, statements: 0, withoutPassword: [] };
  }
  const db = await context.warehouse();
  const verifiers = await loginVerifiers(context, db, policy);
  const withoutPassword = [...verifiers].filter(([, verifier]) => verifier === null).map(([login]) => login);
  for (const login of withoutPassword) {
    const secret = policy.find((role) => role.name === login)?.passwordSecret;
    context.log.warn(
      { job: 'grants', login, secret },
      `grants: secret ${secret} not found in ${context.secrets().url}: login ${login} keeps the password it has (a new one gets none, and cannot log in until the secret is set and grants runs again)`,
    );
  }
  if (options.dryRun) {
    const state = await readWarehouseRoles(db, policy);
    const roles = renderRoles(policy, db.dialect, state, verifiers);
    for (const statement of [...roles, ...renderPrivileges(policy, db.dialect, state.admin)])
      output(`${shown(statement)};`);
    output(
      `-- then: alter table <each silver, gold and pii table> owner to ${MODEL_OWNER_ROLE} (PostgreSQL)`,
    );
    return { skipped: null, roles: policy.length, statements: 0, withoutPassword };
  }
  const { state, statements: roleStatements } = await applyRoles(db, policy, verifiers);
  const privileges = renderPrivileges(policy, db.dialect, state.admin);
  let handedOver = 0;
  await db.transaction(async (tx) => {
    for (const statement of privileges) await runStatement(tx, statement);
    const handover = renderOwnership(db.dialect, await modelTablesNotOwned(tx));
    for (const statement of handover) await runStatement(tx, statement);
    handedOver = handover.length;
  });
  const count = roleStatements + privileges.length + handedOver;
  context.log.info({ job: 'grants', roles: policy.length, statements: count }, 'grants: policy applied');
  return { skipped: null, roles: policy.length, statements: count, withoutPassword };
}

/**
 * `ecomm run`'s first step: the sync when the run's login may manage roles (a first run as the admin, a laptop
 * with a local PostgreSQL); otherwise one log line, since the roles are then the admin's `ecomm grants`.
 */
export async function syncGrantsIfAllowed(context: JobContext): Promise<GrantsResult> {
  try {
    return await syncGrants(context);
  } catch (error) {
    if (!(error instanceof CannotManageRolesError)) throw error;
    context.log.info({ job: 'grants' }, `grants: skipped in this run: ${error.message}`);
    return { skipped: error.message, roles: 0, statements: 0, withoutPassword: [] };
  }
}

/** A statement's text for a person: a password verifier is replaced by a placeholder. */
function shown(statement: Statement): string {
  return statement.sensitive
    ? statement.sql.replace(/password '[^']*'/, "password '<verifier>'")
    : statement.sql;
}

/** The engine's refusal of a statement of the sync: the statement quoted only when it holds no verifier. */
export class GrantStatementError extends Error {
  /** SQLSTATE, when the engine gave one. */
  readonly code: string | undefined;
  constructor(statement: Statement, error: unknown) {
    super(`grants: "${shown(statement)}" failed: ${(error as Error).message}`);
    this.name = 'GrantStatementError';
    this.code = (error as { code?: string }).code;
  }
}

async function runStatement(db: SqlDatabase, statement: Statement): Promise<void> {
  try {
    await db.exec(statement.sql);
  } catch (error) {
    // The engine's message names the role, never the statement; the error keeps no cause that could quote it.
    throw new GrantStatementError(statement, error);
  }
}

async function readWarehouseRoles(db: SqlDatabase, policy: readonly RolePolicy[]): Promise<WarehouseRoles> {
  const redshift = db.dialect === 'redshift';
  const [me] = await db.query<{ admin: string; superuser: boolean; createrole: boolean }>(
    redshift
      ? 'select usename as admin, usesuper as superuser, usesuper as createrole from pg_user where usename = current_user'
      : 'select rolname as admin, rolsuper as superuser, rolcreaterole as createrole from pg_roles where rolname = current_user',
  );
  if (!me || !(me.superuser || me.createrole)) {
    throw new CannotManageRolesError(
      `the warehouse login ${me?.admin ?? '(unknown)'} may not create roles: run \`ecomm grants\` with the admin's WAREHOUSE_URL`,
    );
  }
  const names = policy.map((role) => role.name);
  const list = names.map((_, index) => `$${index + 1}`).join(', ');
  const roles = await db.query<{ name: string; can_login: boolean; inherit: boolean; config: string }>(
    redshift
      ? `select usename as name, true as can_login, true as inherit, '' as config from pg_user where usename in (${list})
         union all select role_name as name, false as can_login, true as inherit, '' as config from svv_roles where role_name in (${list})`
      : `select rolname as name, rolcanlogin as can_login, rolinherit as inherit, coalesce(array_to_string(rolconfig, ','), '') as config
         from pg_roles where rolname in (${list})`,
    redshift ? [...names, ...names] : names,
  );
  const members = await db.query<{ grp: string; member: string }>(
    redshift
      ? `select role_name as grp, user_name as member from svv_user_grants where role_name in (${list})`
      : `select g.rolname as grp, m.rolname as member from pg_auth_members a
         join pg_roles g on g.oid = a.roleid join pg_roles m on m.oid = a.member where g.rolname in (${list})`,
    names,
  );
  return {
    existing: new Set(roles.map((row) => row.name)),
    canLogin: new Set(roles.filter((row) => row.can_login).map((row) => row.name)),
    noInherit: new Set(roles.filter((row) => !row.inherit).map((row) => row.name)),
    readOnly: new Set(
      roles.filter((row) => row.config.includes('default_transaction_read_only=on')).map((row) => row.name),
    ),
    memberships: new Set(members.map((row) => membership(row.grp, row.member))),
    admin: me.admin,
    superuser: me.superuser,
  };
}

/**
 * Roles are shared by every database of the server: two syncs at once (two warehouses on one server, a test
 * suite) may race on one role. The loser reads the roles again and goes on with what is still missing.
 */
async function applyRoles(
  db: SqlDatabase,
  policy: readonly RolePolicy[],
  verifiers: LoginVerifiers,
): Promise<{ state: WarehouseRoles; statements: number }> {
  let statements = 0;
  for (let attempt = 1; ; attempt += 1) {
    const state = await readWarehouseRoles(db, policy);
    try {
      for (const statement of renderRoles(policy, db.dialect, state, verifiers)) {
        await runStatement(db, statement);
        statements += 1;
      }
      return { state, statements };
    } catch (error) {
      if (attempt >= 5 || !ROLE_RACE_CODES.has(String((error as { code?: unknown }).code))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
    }
  }
}

/** duplicate_object (a role created meanwhile), unique_violation, internal_error ("tuple concurrently updated"). */
const ROLE_RACE_CODES = new Set(['42710', '23505', 'XX000']);

async function loginVerifiers(
  context: JobContext,
  db: SqlDatabase,
  policy: readonly RolePolicy[],
): Promise<LoginVerifiers> {
  const verifiers = new Map<string, string | null>();
  for (const role of policy) {
    if (!role.login || !role.passwordSecret) continue;
    try {
      const password = await context.secrets().get(role.passwordSecret);
      verifiers.set(role.name, passwordVerifier(db.dialect, password, role.name));
    } catch (error) {
      if (!(error instanceof SecretNotFoundError)) throw error;
      verifiers.set(role.name, null);
    }
  }
  return verifiers;
}

async function modelTablesNotOwned(db: SqlDatabase): Promise<string[]> {
  if (db.dialect === 'redshift') return [];
  const rows = await db.query<{ name: string }>(
    `select schemaname || '.' || tablename as name from pg_tables
     where schemaname in ('silver', 'gold', 'pii') and tableowner <> $1 order by 1`,
    [MODEL_OWNER_ROLE],
  );
  return rows.map((row) => row.name);
}

/**
 * The role the model builds hand their new tables to: ecomm_models when the policy is applied (PostgreSQL) and the
 * login may act as it (a builder login, or the admin). Unset otherwise: PGlite (one user), Redshift (only users
 * own tables there; the builders get DROP instead), or a warehouse `ecomm grants` never ran on.
 */
export async function modelTableOwner(db: SqlDatabase): Promise<string | undefined> {
  if (db.dialect !== 'postgres') return undefined;
  // Roles belong to the server, the policy to a database: the role may exist because another database on the same
  // server applied it. Only where it may create in silver (this database's sync granted it) are tables handed over.
  const [row] = await db.query<{ owner: boolean }>(
    `select pg_has_role(current_user, r.oid, 'USAGE') and current_user <> r.rolname
       and has_schema_privilege(r.rolname, n.nspname, 'CREATE') as owner
     from pg_roles r cross join pg_namespace n where r.rolname = $1 and n.nspname = 'silver'`,
    [MODEL_OWNER_ROLE],
  );
  return row?.owner ? MODEL_OWNER_ROLE : undefined;
}

/** `ecomm grants [--dry-run]`. */
export async function run(context: JobContext, options: GrantsOptions, output: PrintLine): Promise<number> {
  const result = await syncGrants(context, options, output);
  if (result.skipped) output(`grants: nothing to do: ${result.skipped}`);
  else if (!options.dryRun)
    output(
      `grants: ${result.roles} roles in step with the access policy (${result.statements} statements)` +
        (result.withoutPassword.length > 0
          ? `; without a password (secret missing): ${result.withoutPassword.join(', ')}`
          : ''),
    );
  return 0;
}
