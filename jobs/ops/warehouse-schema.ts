import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';

const SQL_ROOT = new URL('../../sql/', import.meta.url).pathname;

/** Creates the ops and bronze tables if missing: every job may be the first to touch a new warehouse. */
export async function ensureWarehouseSchema(db: SqlDatabase): Promise<void> {
  const statements = ['create schema if not exists ops', 'create schema if not exists bronze'];
  for (const folder of ['ops', 'bronze']) {
    for (const file of readdirSync(join(SQL_ROOT, folder)).filter((name) => name.endsWith('.sql')).sort()) {
      statements.push(readFileSync(join(SQL_ROOT, folder, file), 'utf8'));
    }
  }
  await db.exec(statements.join(';\n'));
}
