import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlDatabase } from '../../adapters/warehouse/index.ts';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import { openPostgres } from '../../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { createTestDatabase } from '../../test/pg-database.ts';
import { loadBronzeTables, SQL_ROOT } from '../models/models.ts';
import {
  addMissingColumns,
  declaredTables,
  ensureWarehouseSchema,
  parseDeclaredTable,
} from './warehouse-schema.ts';

const env = loadServiceEnv();

describe('declared ops tables', () => {
  it('parses every sql/ops file, and every column is nullable or has a default (so it can be added later)', () => {
    const tables = declaredTables(join(SQL_ROOT, 'ops'));
    expect(tables.map((table) => table.name)).toContain('ops.batches');
    for (const table of tables) {
      expect(table.columns.length, table.name).toBeGreaterThan(2);
      for (const column of table.columns) expect(column.name).toMatch(/^[a-z_][a-z0-9_]*$/);
    }
  });

  it('refuses a file that is not one create-table statement', () => {
    expect(() => parseDeclaredTable('x.sql', 'create view ops.x as select 1')).toThrow(
      /x\.sql: expected one/,
    );
  });
});

function migrationCases(name: string, open: () => Promise<SqlDatabase>) {
  describe(`adding declared columns on ${name}`, () => {
    const schema = `mig_${randomBytes(4).toString('hex')}`;
    let db: SqlDatabase;
    afterAll(async () => {
      await db.exec(`drop schema if exists ${schema} cascade`);
      await db.close();
    });

    it('adds the columns a newer release declares, keeps the rows, and does nothing the second time', async () => {
      db = await open();
      await db.exec(`create schema ${schema}`);
      await db.exec(`create table ${schema}.ledger (id varchar(16) not null, rows_raw bigint)`);
      await db.query(`insert into ${schema}.ledger (id, rows_raw) values ('a', 3)`);
      const newer = parseDeclaredTable(
        'ledger.sql',
        `-- grain: one row per thing
         create table if not exists ${schema}.ledger (
           id varchar(16) not null,
           rows_raw bigint,
           failed_at timestamptz,
           failure_reason varchar(4096),
           attempts bigint default 0
         );`,
      );
      expect(await addMissingColumns(db, [newer])).toEqual([
        `${schema}.ledger.failed_at`,
        `${schema}.ledger.failure_reason`,
        `${schema}.ledger.attempts`,
      ]);
      expect(
        await db.query(
          `select id, cast(rows_raw as integer) as rows_raw, failed_at, failure_reason,
             cast(attempts as integer) as attempts from ${schema}.ledger`,
        ),
      ).toEqual([{ id: 'a', rows_raw: 3, failed_at: null, failure_reason: null, attempts: 0 }]);
      expect(await addMissingColumns(db, [newer])).toEqual([]);
    });

    it('refuses to add a not-null column without a default, naming it', async () => {
      const stricter = parseDeclaredTable(
        'ledger.sql',
        `create table if not exists ${schema}.ledger (id varchar(16) not null, owner varchar(64) not null)`,
      );
      await expect(addMissingColumns(db, [stricter])).rejects.toThrow(
        `${schema}.ledger.owner is declared not null without a default`,
      );
    });
  });
}

migrationCases('PGlite', () => openPglite('pglite://memory'));
migrationCases('PostgreSQL', () => openPostgres(env.TEST_PG_URL));

describe('ensureWarehouseSchema', () => {
  it('brings an ops table created by an older release up to the declared columns', async () => {
    const db = await openPglite('pglite://memory');
    try {
      await db.exec(
        `create schema ops; create table ops.batches (batch_id varchar(128) not null, source varchar(64) not null,
           source_kind varchar(8) not null, ingestion_date date not null, raw_key varchar(1024) not null,
           rows_raw bigint not null, extracted_at timestamptz not null)`,
      );
      await ensureWarehouseSchema(db);
      const columns = await db.query<{ column_name: string }>(
        `select column_name from information_schema.columns where table_schema = 'ops' and table_name = 'batches'
         order by ordinal_position`,
      );
      const declared = declaredTables(join(SQL_ROOT, 'ops')).find((table) => table.name === 'ops.batches');
      expect(columns.map((column) => column.column_name)).toEqual(
        declared?.columns.map((column) => column.name),
      );
    } finally {
      await db.close();
    }
  });
});

describe('ensureWarehouseSchema losing a create race', () => {
  /** `db` whose first `create schema if not exists realtime` fails with the given SQLSTATE, as a racer's win would. */
  function losingOnce(db: SqlDatabase, code: string): SqlDatabase {
    let failed = false;
    return {
      ...db,
      exec: async (sql) => {
        if (!failed && sql.startsWith('create schema if not exists realtime')) {
          failed = true;
          throw Object.assign(new Error(`injected ${code}`), { code });
        }
        return db.exec(sql);
      },
    };
  }

  it.each([
    ['duplicate_object (a racer created the row type first)', '42710'],
    ['duplicate_table', '42P07'],
    ['unique_violation (pg_type)', '23505'],
  ])('goes again after %s and creates the schema', async (_name, code) => {
    const db = await openPglite('pglite://memory');
    try {
      await ensureWarehouseSchema(losingOnce(db, code));
      const [tables] = await db.query<{ n: number }>(
        "select cast(count(*) as integer) as n from information_schema.tables where table_schema = 'realtime'",
      );
      expect(tables?.n).toBe(declaredTables(join(SQL_ROOT, 'realtime')).length);
    } finally {
      await db.close();
    }
  });

  it('fails at once on any other error', async () => {
    const db = await openPglite('pglite://memory');
    try {
      await expect(ensureWarehouseSchema(losingOnce(db, '42501'))).rejects.toThrow('injected 42501');
    } finally {
      await db.close();
    }
  });
});

describe('ensureWarehouseSchema on a fresh PostgreSQL warehouse', () => {
  it('lets several jobs starting together create the schema: none fails on the race', async () => {
    const database = await createTestDatabase('schema_race');
    const connections = await Promise.all(
      Array.from({ length: 4 }, () => openSqlDatabase('WAREHOUSE_URL', database.url)),
    );
    try {
      await Promise.all(connections.map((db) => ensureWarehouseSchema(db)));
      const [tables] = await (connections[0] as SqlDatabase).query<{ n: number }>(
        "select cast(count(*) as integer) as n from information_schema.tables where table_schema in ('ops', 'bronze')",
      );
      expect(tables?.n).toBe(declaredTables(join(SQL_ROOT, 'ops')).length + loadBronzeTables().length);
    } finally {
      await Promise.all(connections.map((db) => db.close()));
      await database.dispose();
    }
  });
});
