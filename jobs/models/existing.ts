/**
 * What the warehouse holds already, whatever the login may read of it (pg_namespace and pg_tables exist on
 * PostgreSQL, PGlite and Redshift). A job's own login may not create schemas or tables (docs/access.md), and
 * PostgreSQL refuses even `create … if not exists` of an existing object to a role without CREATE: so the jobs
 * create only what is missing.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';

/** The schemas of `names` that do not exist. */
export async function missingSchemas(db: SqlDatabase, names: readonly string[]): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `select nspname as name from pg_namespace where nspname in (${names.map((_, index) => `$${index + 1}`).join(', ')})`,
    [...names],
  );
  const present = new Set(rows.map((row) => row.name));
  return names.filter((name) => !present.has(name));
}

/** The tables of `names` (`<schema>.<table>`) that do not exist. */
export async function missingTables(db: SqlDatabase, names: readonly string[]): Promise<string[]> {
  const schemas = [...new Set(names.map((name) => name.split('.')[0] as string))];
  const rows = await db.query<{ name: string }>(
    `select schemaname || '.' || tablename as name from pg_tables
     where schemaname in (${schemas.map((_, index) => `$${index + 1}`).join(', ')})`,
    schemas,
  );
  const present = new Set(rows.map((row) => row.name));
  return names.filter((name) => !present.has(name));
}
