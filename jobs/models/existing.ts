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

/** Whether the table (`<schema>.<table>`) exists. */
export async function tableExists(db: SqlDatabase, name: string): Promise<boolean> {
  const [schema, table] = name.split('.') as [string, string];
  const [row] = await db.query<{ n: unknown }>(
    'select count(*) as n from information_schema.tables where table_schema = $1 and table_name = $2',
    [schema, table],
  );
  return Number(row?.n ?? 0) > 0;
}

/** A table's column names in order; none when it does not exist. */
export async function tableColumns(db: SqlDatabase, name: string): Promise<string[]> {
  const [schema, table] = name.split('.') as [string, string];
  const rows = await db.query<{ column_name: string }>(
    `select cast(column_name as varchar(128)) as column_name from information_schema.columns
     where table_schema = $1 and table_name = $2 order by ordinal_position`,
    [schema, table],
  );
  return rows.map((row) => row.column_name.toLowerCase());
}

/** The rows of a table (or temporary table). */
export async function countRows(db: SqlDatabase, table: string): Promise<number> {
  const [counted] = await db.query<{ row_count: unknown }>(`select count(*) as row_count from ${table}`);
  return Number(counted?.row_count ?? 0);
}
