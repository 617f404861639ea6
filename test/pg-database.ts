import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openSqlDatabase } from '../adapters/warehouse/index.ts';
import { openPglite } from '../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';

/** A throwaway database on the test PostgreSQL server, for suites that need the fixed schema names to themselves. */
export interface TestDatabase {
  url: string;
  dispose(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const services = loadServiceEnv();
  const name = `${label}_${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await asAdmin((admin) => admin.query(`create database ${name}`));
  return {
    url: services.TEST_PG_URL.replace(/\/[^/?]+(\?|$)/, `/${name}$1`),
    dispose: () => asAdmin((admin) => admin.query(`drop database if exists ${name} with (force)`)),
  };
}

async function asAdmin(work: (admin: pg.Client) => Promise<unknown>): Promise<void> {
  const admin = new pg.Client({ connectionString: loadServiceEnv().TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    await work(admin);
  } finally {
    await admin.end();
  }
}

/** An open warehouse for a test suite, and how to throw it away. */
export interface TestWarehouse {
  db: SqlDatabase;
  dispose(): Promise<void>;
}

/**
 * The two engines a warehouse suite runs on, for `describe.each`: PGlite in memory (the embedded default) and a
 * throwaway database on the test PostgreSQL server.
 */
export function warehouseEngines(label: string): [string, () => Promise<TestWarehouse>][] {
  return [
    [
      'PGlite',
      async () => {
        const db = await openPglite('pglite://memory');
        return { db, dispose: () => db.close() };
      },
    ],
    [
      'PostgreSQL',
      async () => {
        const database = await createTestDatabase(label);
        const db = await openSqlDatabase('WAREHOUSE_URL', database.url);
        return {
          db,
          dispose: async () => {
            await db.close();
            await database.dispose();
          },
        };
      },
    ],
  ];
}

/** `db` with every `query` it is sent also kept, in order, in `queries` (`exec` and transactions pass through). */
export function recordingQueries(db: SqlDatabase): { db: SqlDatabase; queries: string[] } {
  const queries: string[] = [];
  return {
    db: {
      ...db,
      query: (sql, params) => {
        queries.push(sql);
        return db.query(sql, params);
      },
    },
    queries,
  };
}

/** `db` with each statement sent through `exec` kept, inside a transaction or not, with when it started and ended. */
export function tracingStatements(db: SqlDatabase): {
  db: SqlDatabase;
  statements: { sql: string; inTransaction: boolean; start: number; end: number }[];
} {
  const statements: { sql: string; inTransaction: boolean; start: number; end: number }[] = [];
  const wrap = (target: SqlDatabase, inTransaction: boolean): SqlDatabase => ({
    ...target,
    exec: async (sql) => {
      const start = performance.now();
      try {
        return await target.exec(sql);
      } finally {
        statements.push({ sql, inTransaction, start, end: performance.now() });
      }
    },
    transaction: (fn) => target.transaction((tx) => fn(wrap(tx, true))),
  });
  return { db: wrap(db, false), statements };
}
