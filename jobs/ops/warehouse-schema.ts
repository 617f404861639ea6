import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { createBronzeTables } from '../transform/build.ts';
import { SQL_ROOT } from '../transform/models.ts';

/** Creates the ops and bronze tables if missing: every job may be the first to touch a new warehouse. */
export async function ensureWarehouseSchema(db: SqlDatabase): Promise<void> {
  const ops = readdirSync(join(SQL_ROOT, 'ops'))
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((file) => readFileSync(join(SQL_ROOT, 'ops', file), 'utf8'));
  await db.exec(['create schema if not exists ops', ...ops].join(';\n'));
  await createBronzeTables(db);
}
