/**
 * The access policy (policy.ts) as SQL statements, per dialect: PostgreSQL (also Azure Database for PostgreSQL) and
 * Amazon Redshift. Pure: what exists already comes in (WarehouseRoles), statements go out, so both dialects are
 * unit-tested without a cluster (render.test.ts) and the PostgreSQL ones also run for real (test/grants.e2e.test.ts).
 *
 * Where the two differ:
 * - roles: PostgreSQL has one kind (`create role … login|nologin`); Redshift has users (logins) and roles
 *   (role-based access control: `create role`, `grant role … to <user>`), and a grant names a role as `role <name>`.
 * - passwords: a SCRAM-SHA-256 verifier on PostgreSQL, Redshift's `md5…` form (password.ts): never the password.
 * - ownership: only PostgreSQL lets a role (ecomm_models) own tables; on Redshift the builders get DROP instead.
 * - per-login settings (`default_transaction_read_only`): PostgreSQL only; the monitor also opens every transaction
 *   read-only itself (jobs/monitor/readonly.ts).
 */
import type { SqlDialect } from '../../adapters/warehouse/sql-database.ts';
import {
  type Access,
  MODEL_OWNER_ROLE,
  type RolePolicy,
  WAREHOUSE_SCHEMAS,
  type WarehouseSchema,
} from './policy.ts';

/** One statement of the sync. `sensitive` ones hold a password verifier: never logged or quoted in an error. */
export interface Statement {
  sql: string;
  sensitive?: boolean;
}

/** What the warehouse holds before the sync, read by the job (index.ts): the sync changes only what differs. */
export interface WarehouseRoles {
  /** Names of the roles (PostgreSQL) or users and roles (Redshift) that exist. */
  existing: ReadonlySet<string>;
  /** PostgreSQL: the existing roles that may log in. */
  canLogin: ReadonlySet<string>;
  /** Memberships that exist, as `<group> > <member>`. */
  memberships: ReadonlySet<string>;
  /** PostgreSQL: existing roles created NOINHERIT (jobs/monitor/readonly-role.sql made ecomm_monitor so). */
  noInherit: ReadonlySet<string>;
  /** PostgreSQL: roles whose transactions start read-only already (`default_transaction_read_only=on`). */
  readOnly: ReadonlySet<string>;
  /** The role the sync runs as: the warehouse's admin. */
  admin: string;
  /** Whether the admin is a superuser (otherwise it is made a member of each role it manages, see renderRoles). */
  superuser: boolean;
}

/** The key of a membership in WarehouseRoles.memberships. */
export function membership(group: string, member: string): string {
  return `${group} > ${member}`;
}

/** Per login: the password verifier to set, or null when its secret is missing (the login then cannot log in). */
export type LoginVerifiers = ReadonlyMap<string, string | null>;

const NAME = /^[a-z_][a-z0-9_]*$/;

/** Refuses a name that would need quoting: every name of the policy is a plain identifier, rendered unquoted. */
export function checkedName(name: string): string {
  if (!NAME.test(name)) throw new Error(`"${name}" is not a plain lowercase SQL identifier`);
  return name;
}

/**
 * Roles, logins, passwords and memberships, each only where the warehouse differs from the policy (these are
 * cluster-wide objects: a sync changing nothing writes nothing there). A login whose secret is missing is created
 * without a password (it cannot log in); an existing one keeps the password it has.
 */
export function renderRoles(
  policy: readonly RolePolicy[],
  dialect: SqlDialect,
  state: WarehouseRoles,
  verifiers: LoginVerifiers,
): Statement[] {
  const statements: Statement[] = [];
  const redshift = dialect === 'redshift';
  const admin = checkedName(state.admin);
  for (const role of policy) {
    const name = checkedName(role.name);
    const verifier = role.login ? (verifiers.get(role.name) ?? null) : null;
    const password = verifier === null ? (redshift ? 'disable' : 'null') : `'${verifier}'`;
    const sensitive = verifier !== null;
    if (!state.existing.has(name)) {
      if (!role.login)
        statements.push({ sql: redshift ? `create role ${name}` : `create role ${name} nologin` });
      else
        statements.push({
          sql: redshift
            ? `create user ${name} password ${password}`
            : `create role ${name} login password ${password}`,
          sensitive,
        });
    } else if (role.login && verifier !== null) {
      statements.push({
        sql: redshift
          ? `alter user ${name} password ${password}`
          : `alter role ${name} login password ${password}`,
        sensitive,
      });
    } else if (role.login && !redshift && !state.canLogin.has(name)) {
      statements.push({ sql: `alter role ${name} login` });
    }
    // PostgreSQL: a non-superuser admin (Azure's) may set default privileges for, and hand tables over to, only
    // the roles it is a member of.
    if (!redshift && !state.superuser && !state.memberships.has(membership(name, admin)))
      statements.push({ sql: `grant ${name} to ${admin}` });
    // A member uses its groups' privileges only if it inherits them.
    if (!redshift && (role.memberOf ?? []).length > 0 && state.noInherit.has(name))
      statements.push({ sql: `alter role ${name} inherit` });
    // A membership among the policy's roles that the policy no longer names is revoked (people's memberships in the
    // group roles are theirs to manage, and left alone).
    for (const group of policy.filter((candidate) => !candidate.login).map((candidate) => candidate.name)) {
      if (!state.memberships.has(membership(group, name)) || (role.memberOf ?? []).includes(group)) continue;
      statements.push({
        sql: redshift ? `revoke role ${group} from ${name}` : `revoke ${group} from ${name}`,
      });
    }
    for (const group of role.memberOf ?? []) {
      if (state.memberships.has(membership(group, name))) continue;
      statements.push({
        sql: redshift
          ? `grant role ${checkedName(group)} to ${name}`
          : `grant ${checkedName(group)} to ${name}`,
      });
    }
    if (role.readOnly && !redshift && !state.readOnly.has(name)) {
      statements.push({ sql: `alter role ${name} set default_transaction_read_only = on` });
      // A monitor page is a handful of small queries; anything slower is a bug, not a reason to load the warehouse.
      statements.push({ sql: `alter role ${name} set statement_timeout = '15s'` });
    }
  }
  return statements;
}

/** Table privileges for an access level. */
export function tablePrivileges(access: Access, dialect: SqlDialect): string {
  if (access === 'read') return 'select';
  if (access === 'lock') return 'select, update';
  const write = 'select, insert, update, delete, truncate';
  // Redshift: a builder that does not own a table (only users own tables there) may still drop it in a swap.
  return access === 'create' && dialect === 'redshift' ? `${write}, drop` : write;
}

/** Schema privileges for an access level. */
export function schemaPrivileges(access: Access): string {
  return access === 'create' ? 'usage, create' : 'usage';
}

function grantee(role: RolePolicy, dialect: SqlDialect): string {
  return dialect === 'redshift' && !role.login ? `role ${role.name}` : role.name;
}

/**
 * The roles whose new tables in a schema must be granted by default: the logins that may create there, and the
 * admin (ensureWarehouseSchema creates the ops and bronze tables as the sync's login).
 */
export function creatorsIn(policy: readonly RolePolicy[], schema: WarehouseSchema, admin: string): string[] {
  const logins = policy
    .filter((role) => role.login && role.access[schema] === 'create')
    .map((role) => role.name);
  return [...new Set([admin, ...logins])];
}

/**
 * Every privilege of every policy role on every schema, revoked then granted as the policy says, on the tables
 * there now and on those created later (default privileges): run in one transaction, so no role ever sees a
 * moment without its grants, and a privilege removed from the policy is removed from the warehouse.
 */
export function renderPrivileges(
  policy: readonly RolePolicy[],
  dialect: SqlDialect,
  admin: string,
): Statement[] {
  const statements: Statement[] = WAREHOUSE_SCHEMAS.map((schema) => ({
    sql: `create schema if not exists ${schema}`,
  }));
  const forRole = dialect === 'redshift' ? 'for user' : 'for role';
  for (const schema of WAREHOUSE_SCHEMAS) {
    const creators = creatorsIn(policy, schema, checkedName(admin));
    for (const role of policy) {
      const to = grantee(role, dialect);
      const access = role.access[schema];
      statements.push({ sql: `revoke all on all tables in schema ${schema} from ${to}` });
      statements.push({ sql: `revoke all on schema ${schema} from ${to}` });
      for (const creator of creators) {
        statements.push({
          sql: `alter default privileges ${forRole} ${creator} in schema ${schema} revoke all on tables from ${to}`,
        });
      }
      if (!access) continue;
      const privileges = tablePrivileges(access, dialect);
      statements.push({ sql: `grant ${schemaPrivileges(access)} on schema ${schema} to ${to}` });
      statements.push({ sql: `grant ${privileges} on all tables in schema ${schema} to ${to}` });
      for (const creator of creators) {
        statements.push({
          sql: `alter default privileges ${forRole} ${creator} in schema ${schema} grant ${privileges} on tables to ${to}`,
        });
      }
    }
  }
  return statements;
}

/**
 * PostgreSQL: the model tables (silver, gold, pii) not owned by ecomm_models are handed to it, so every login that
 * builds models may swap them (tables built before the policy, or by the admin).
 */
export function renderOwnership(dialect: SqlDialect, tablesNotOwned: readonly string[]): Statement[] {
  if (dialect === 'redshift') return [];
  return tablesNotOwned.map((table) => ({
    sql: `alter table ${table.split('.').map(checkedName).join('.')} owner to ${MODEL_OWNER_ROLE}`,
  }));
}
