import { randomBytes } from 'node:crypto';
import pg from 'pg';
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
