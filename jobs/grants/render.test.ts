import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JOB_CATALOG } from '../catalog.ts';
import { GrantStatementError } from './index.ts';
import { redshiftMd5Password, scramSha256Verifier } from './password.ts';
import { ACCESS_POLICY, jobLoginOf, passwordSecretOf, roleOf } from './policy.ts';
import {
  checkedName,
  creatorsIn,
  membership,
  renderOwnership,
  renderPrivileges,
  renderRoles,
  type WarehouseRoles,
} from './render.ts';

const EMPTY: WarehouseRoles = {
  existing: new Set(),
  canLogin: new Set(),
  noInherit: new Set(),
  memberships: new Set(),
  readOnly: new Set(),
  admin: 'ecomm_admin',
  superuser: true,
};

const SECRET = 'correct horse battery staple';

describe('access policy', () => {
  it('names each job login ecomm_<job> and its secret <LOGIN>_PASSWORD', () => {
    expect(jobLoginOf('stream-ingest')).toBe('ecomm_stream_ingest');
    expect(passwordSecretOf('stream-ingest')).toBe('ECOMM_STREAM_INGEST_PASSWORD');
    expect(roleOf('ecomm_load').passwordSecret).toBe('ECOMM_LOAD_PASSWORD');
  });

  it('has a login for every catalog job that opens the warehouse, and for no other job', () => {
    const needing = JOB_CATALOG.filter((job) => job.env.includes('WAREHOUSE_URL') && !job.warehouseAdmin).map(
      (job) => jobLoginOf(job.name),
    );
    const logins = ACCESS_POLICY.filter((role) => role.login).map((role) => role.name);
    expect(logins.sort()).toEqual(needing.sort());
    expect(JOB_CATALOG.filter((job) => job.warehouseAdmin).map((job) => job.name)).toEqual(['grants']);
  });

  it('lets no role near pii but data_engineer, the model builders and the loaders', () => {
    const withPii = ACCESS_POLICY.filter((role) => role.access.pii).map((role) => role.name);
    expect(withPii.sort()).toEqual([
      'data_engineer',
      'ecomm_backfill',
      'ecomm_batches',
      'ecomm_load',
      'ecomm_models',
      'ecomm_quarantine',
      'ecomm_rebuild',
      'ecomm_run',
      'ecomm_transform',
    ]);
  });
});

describe('password verifiers', () => {
  it('computes the SCRAM-SHA-256 verifier PostgreSQL stores (RFC 5802 keys, base64)', () => {
    const salt = Buffer.from('0123456789abcdef');
    const verifier = scramSha256Verifier(SECRET, salt);
    const salted = pbkdf2Sync(SECRET, salt, 4096, 32, 'sha256');
    const storedKey = createHash('sha256')
      .update(createHmac('sha256', salted).update('Client Key').digest())
      .digest('base64');
    const serverKey = createHmac('sha256', salted).update('Server Key').digest('base64');
    expect(verifier).toBe(`SCRAM-SHA-256$4096:${salt.toString('base64')}$${storedKey}:${serverKey}`);
    expect(verifier).not.toContain(SECRET);
  });

  it("gives Redshift 'md5' + md5(password + user)", () => {
    expect(redshiftMd5Password('ez', 'user1')).toBe(
      `md5${createHash('md5').update('ezuser1').digest('hex')}`,
    );
  });
});

describe('renderRoles', () => {
  const verifiers = new Map([['ecomm_load', 'SCRAM-SHA-256$4096:c2FsdA==$a:b']]);

  it('creates group roles NOLOGIN and logins with a verifier on PostgreSQL; the secret never appears', () => {
    const statements = renderRoles(ACCESS_POLICY, 'postgres', EMPTY, verifiers);
    const sql = statements.map((statement) => statement.sql);
    expect(sql).toContain('create role analyst nologin');
    expect(sql).toContain("create role ecomm_load login password 'SCRAM-SHA-256$4096:c2FsdA==$a:b'");
    // A login without its secret is created unable to log in.
    expect(sql).toContain('create role ecomm_extract login password null');
    expect(sql).toContain('grant monitor to ecomm_monitor');
    expect(sql).toContain('alter role ecomm_monitor set default_transaction_read_only = on');
    expect(statements.filter((statement) => statement.sensitive).map((s) => s.sql)).toEqual([
      "create role ecomm_load login password 'SCRAM-SHA-256$4096:c2FsdA==$a:b'",
    ]);
    expect(sql.join('\n')).not.toContain(SECRET);
  });

  it('uses users, roles and GRANT ROLE on Redshift', () => {
    const sql = renderRoles(ACCESS_POLICY, 'redshift', EMPTY, new Map([['ecomm_load', 'md5abc']])).map(
      (s) => s.sql,
    );
    expect(sql).toContain('create role analyst');
    expect(sql).toContain("create user ecomm_load password 'md5abc'");
    expect(sql).toContain('create user ecomm_extract password disable');
    expect(sql).toContain('grant role monitor to ecomm_monitor');
    expect(sql.some((statement) => statement.includes('default_transaction_read_only'))).toBe(false);
  });

  it('changes nothing that is already as the policy says, and keeps a password whose secret is missing', () => {
    const everything = new Set(ACCESS_POLICY.map((role) => role.name));
    const state: WarehouseRoles = {
      ...EMPTY,
      existing: everything,
      canLogin: new Set(ACCESS_POLICY.filter((role) => role.login).map((role) => role.name)),
      memberships: new Set(
        ACCESS_POLICY.flatMap((role) => (role.memberOf ?? []).map((group) => membership(group, role.name))),
      ),
      readOnly: new Set(['ecomm_monitor']),
    };
    expect(renderRoles(ACCESS_POLICY, 'postgres', state, new Map())).toEqual([]);
  });

  it('makes a login created NOINHERIT (the old readonly-role.sql) inherit its groups', () => {
    const state: WarehouseRoles = {
      ...EMPTY,
      existing: new Set(['ecomm_monitor']),
      noInherit: new Set(['ecomm_monitor']),
    };
    expect(renderRoles(ACCESS_POLICY, 'postgres', state, new Map()).map((s) => s.sql)).toContain(
      'alter role ecomm_monitor inherit',
    );
  });

  it('revokes a membership among policy roles that the policy no longer names, and leaves people alone', () => {
    const state: WarehouseRoles = {
      ...EMPTY,
      existing: new Set(ACCESS_POLICY.map((role) => role.name)),
      memberships: new Set([
        membership('ecomm_models', 'ecomm_stream_ingest'),
        membership('analyst', 'alice'),
        membership('ecomm_models', 'ecomm_transform'),
      ]),
    };
    const sql = renderRoles(ACCESS_POLICY, 'postgres', state, new Map()).map((s) => s.sql);
    expect(sql).toContain('revoke ecomm_models from ecomm_stream_ingest');
    expect(sql.filter((statement) => statement.startsWith('revoke'))).toEqual([
      'revoke ecomm_models from ecomm_stream_ingest',
    ]);
    expect(renderRoles(ACCESS_POLICY, 'redshift', state, new Map()).map((s) => s.sql)).toContain(
      'revoke role ecomm_models from ecomm_stream_ingest',
    );
  });

  it('makes a non-superuser admin a member of each role it manages (PostgreSQL)', () => {
    const sql = renderRoles(ACCESS_POLICY, 'postgres', { ...EMPTY, superuser: false }, new Map()).map(
      (s) => s.sql,
    );
    expect(sql).toContain('grant ecomm_transform to ecomm_admin');
  });
});

describe('renderPrivileges', () => {
  it('revokes, then grants each role its access, on the tables there and by default on those to come', () => {
    const sql = renderPrivileges(ACCESS_POLICY, 'postgres', 'ecomm_admin').map((s) => s.sql);
    expect(sql).toContain('create schema if not exists pii');
    expect(sql).toContain('revoke all on all tables in schema pii from analyst');
    expect(sql).toContain('grant usage on schema gold to bi_reader');
    expect(sql).toContain('grant select on all tables in schema gold to bi_reader');
    expect(sql).toContain(
      'alter default privileges for role ecomm_transform in schema gold grant select on tables to bi_reader',
    );
    expect(sql).toContain('grant usage, create on schema silver to ecomm_transform');
    expect(sql).toContain('grant select, update on all tables in schema bronze to ecomm_transform');
    expect(sql.some((statement) => / to bi_reader$/.test(statement) && statement.includes('silver'))).toBe(
      false,
    );
    // A revoke of every policy role precedes its grant: a privilege dropped from the policy leaves the warehouse.
    expect(sql.indexOf('revoke all on schema gold from bi_reader')).toBeLessThan(
      sql.indexOf('grant usage on schema gold to bi_reader'),
    );
  });

  it('names roles as ROLE and creators as users on Redshift, and gives builders DROP', () => {
    const sql = renderPrivileges(ACCESS_POLICY, 'redshift', 'admin').map((s) => s.sql);
    expect(sql).toContain('grant select on all tables in schema gold to role bi_reader');
    expect(sql).toContain(
      'alter default privileges for user ecomm_run in schema gold grant select on tables to role analyst',
    );
    expect(sql).toContain(
      'grant select, insert, update, delete, truncate, drop on all tables in schema gold to ecomm_transform',
    );
    expect(renderOwnership('redshift', ['gold.x'])).toEqual([]);
  });

  it('sets default privileges for the admin and every login that may create in the schema', () => {
    expect(creatorsIn(ACCESS_POLICY, 'gold', 'ecomm_admin')).toEqual([
      'ecomm_admin',
      'ecomm_transform',
      'ecomm_run',
      'ecomm_rebuild',
    ]);
    expect(creatorsIn(ACCESS_POLICY, 'ops', 'ecomm_admin')).toEqual(['ecomm_admin', 'ecomm_rebuild']);
  });

  it('refuses a name that would need quoting', () => {
    expect(() => checkedName('Robert"; drop table x; --')).toThrow(/not a plain lowercase SQL identifier/);
    expect(renderOwnership('postgres', ['gold.daily'])).toEqual([
      { sql: 'alter table gold.daily owner to ecomm_models' },
    ]);
  });
});

describe('GrantStatementError', () => {
  it('quotes a failed statement, but never one that carries a password verifier', () => {
    const verifier = scramSha256Verifier(SECRET);
    const refused = Object.assign(new Error('permission denied to alter role'), { code: '42501' });
    const error = new GrantStatementError(
      { sql: `alter role ecomm_load login password '${verifier}'`, sensitive: true },
      refused,
    );
    expect(error.message).toBe(
      `grants: "alter role ecomm_load login password '<verifier>'" failed: permission denied to alter role`,
    );
    expect(error.code).toBe('42501');
    expect(JSON.stringify(error)).not.toContain('SCRAM');
    expect(error.cause).toBeUndefined();
    expect(
      new GrantStatementError({ sql: 'grant usage on schema gold to analyst' }, refused).message,
    ).toContain('grant usage on schema gold to analyst');
  });
});
