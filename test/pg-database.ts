import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadServiceEnv } from '../scripts/services/env.ts';

/** A throwaway database on the test PostgreSQL server, for suites that need fixed schema names. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const services = loadServiceEnv();
  const name = `${label}_${randomBytes(4).toString('hex')}`.replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: services.TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: services.TEST_PG_URL.replace(/\/[^/?]+(\?|$)/, `/${name}$1`),
    async drop() {
      const cleanup = new pg.Client({ connectionString: services.TEST_PG_ADMIN_URL });
      await cleanup.connect();
      try {
        await cleanup.query(`drop database if exists ${name} with (force)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}
