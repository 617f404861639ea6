import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { keyedTableSql } from '../../sql/dialects/macros.ts';
import { REALTIME_KEYS } from '../kpis/realtime.ts';
import { createBronzeTables } from '../models/build.ts';
import { missingTables } from '../models/existing.ts';
import { loadBronzeTables, SQL_ROOT, splitTopLevel } from '../models/models.ts';

/** One `create table if not exists <schema>.<table> (...)` file and the column definitions it declares. */
export interface DeclaredTable {
  /** `<schema>.<table>` */
  name: string;
  sql: string;
  /** Each column's definition as written (`failed_at timestamptz`), in DDL order. */
  columns: { name: string; definition: string }[];
}

/**
 * Creates the ops and bronze tables if missing, and adds the columns a newer release declares to tables an older
 * one created: every job may be the first to touch a new (or an older) warehouse.
 */
export async function ensureWarehouseSchema(db: SqlDatabase): Promise<void> {
  const ops = declaredTables(join(SQL_ROOT, 'ops'));
  const realtime = declaredTables(join(SQL_ROOT, 'realtime'));
  for (let attempt = 1; ; attempt += 1) {
    try {
      // A job's own login may not create in the warehouse (docs/access.md), and PostgreSQL refuses it even
      // `create ... if not exists` of an existing object. The admin (and PGlite's one user) runs the DDL, which also
      // adds what a newer release declares (an index); a job's login only checks that every table is there.
      if (!(await mayCreateSchemas(db))) {
        const declared = [...[...ops, ...realtime].map((table) => table.name), ...bronzeTableNames()];
        const missing = await missingTables(db, declared);
        if (missing.length > 0) throw new MissingWarehouseTablesError(missing);
        await addMissingColumns(db, [...ops, ...realtime]);
        return;
      }
      await db.exec(
        [
          'create schema if not exists ops',
          ...ops.map((table) => {
            const key = OPS_KEYS[table.name];
            return key ? keyedTableSql(table.name, table.sql, key, db.dialect) : table.sql;
          }),
        ].join(';\n'),
      );
      await db.exec(
        [
          'create schema if not exists realtime',
          ...realtime.map((table) => keyedTableSql(table.name, table.sql, keyOf(table.name), db.dialect)),
        ].join(';\n'),
      );
      await createBronzeTables(db);
      // Bronze and pii too: an older bronze.customers lacks the keyed hashes the load now copies into it.
      await addMissingColumns(db, [
        ...ops,
        ...realtime,
        ...declaredTables(join(SQL_ROOT, 'bronze')),
        ...declaredTables(join(SQL_ROOT, 'pii')),
      ]);
      return;
    } catch (error) {
      // Two jobs starting together on a fresh warehouse (the run and the stream service) race on the same
      // `create ... if not exists`: PostgreSQL lets both pass the check and fails the second with a duplicate. The
      // winner's objects are then there, so going again finds them.
      // Each lost race leaves one more object created, so the racers converge; the jittered pause spreads them out.
      if (attempt >= 20 || !CREATE_RACE_CODES.has(String((error as { code?: unknown }).code))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
    }
  }
}

/**
 * The ops tables read by key, indexed by it (sorted on Redshift): the reconciliation reads one source table's keys
 * of ops.reconcile_versions, which holds every source table's (jobs/reconcile/key-versions.ts).
 */
const OPS_KEYS: Record<string, string[]> = { 'ops.reconcile_versions': ['source', 'key_number', 'key_text'] };

/** The key a realtime table is found by (jobs/kpis/realtime.ts). */
function keyOf(table: string): string[] {
  const key = REALTIME_KEYS[table];
  if (!key) throw new Error(`sql/realtime declares ${table}, which REALTIME_KEYS does not list`);
  return key;
}

/** The warehouse lacks tables that the login may not create: the admin's `ecomm grants` creates them. */
export class MissingWarehouseTablesError extends Error {
  constructor(missing: string[]) {
    super(
      `the warehouse lacks ${missing.join(', ')}, which this login may not create: run \`ecomm grants\` with the admin's WAREHOUSE_URL first (docs/access.md)`,
    );
    this.name = 'MissingWarehouseTablesError';
  }
}

/** Whether the login may create schemas in the database: the admin, PGlite's one user; never a job's own login. */
async function mayCreateSchemas(db: SqlDatabase): Promise<boolean> {
  const [row] = await db.query<{ allowed: boolean }>(
    "select has_database_privilege(current_database(), 'CREATE') as allowed",
  );
  return row?.allowed === true;
}

/** The bronze tables sql/bronze declares, `bronze.<table>`. */
function bronzeTableNames(): string[] {
  return loadBronzeTables(SQL_ROOT).map((table) => table.name);
}

/**
 * unique_violation (pg_type, pg_namespace), duplicate_table, duplicate_schema, duplicate_column, and duplicate_object
 * (`type "order_events" already exists`: a table's row type created by the other racer first; seen in CI).
 */
const CREATE_RACE_CODES = new Set(['23505', '42P07', '42P06', '42701', '42710']);

/**
 * `alter table ... add column` for every declared column the live table lacks. Redshift has no `add column if not
 * exists` and adds one column per statement, so the live columns are read first. New columns must be nullable (or
 * carry a default): rows already there get null.
 */
export async function addMissingColumns(db: SqlDatabase, tables: DeclaredTable[]): Promise<string[]> {
  if (tables.length === 0) return [];
  const live = await db.query<{ table_name: string; column_name: string }>(
    `select table_schema || '.' || table_name as table_name, column_name from information_schema.columns
     where table_schema || '.' || table_name in (${tables.map((_, index) => `$${index + 1}`).join(', ')})`,
    tables.map((table) => table.name),
  );
  const present = new Set(live.map((row) => `${row.table_name}.${row.column_name}`));
  const added: string[] = [];
  for (const table of tables) {
    // A table with no live columns was not created (a view, or another schema's): leave it alone.
    if (!live.some((row) => row.table_name === table.name)) continue;
    for (const column of table.columns) {
      if (present.has(`${table.name}.${column.name}`)) continue;
      if (/\bnot\s+null\b/i.test(column.definition) && !/\bdefault\b/i.test(column.definition)) {
        throw new Error(
          `${table.name}.${column.name} is declared not null without a default: existing rows cannot take it`,
        );
      }
      await db.exec(`alter table ${table.name} add column ${column.definition}`);
      added.push(`${table.name}.${column.name}`);
    }
  }
  return added;
}

/** The `create table if not exists` files of one folder, parsed. */
export function declaredTables(folder: string): DeclaredTable[] {
  return readdirSync(folder)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((file) => parseDeclaredTable(join(folder, file), readFileSync(join(folder, file), 'utf8')));
}

export function parseDeclaredTable(file: string, sql: string): DeclaredTable {
  const code = sql.replace(/--[^\n]*/g, '');
  const match =
    /create\s+table\s+if\s+not\s+exists\s+([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\s*\(([\s\S]*)\)\s*;?\s*$/i.exec(
      code.trim(),
    );
  if (!match) throw new Error(`${file}: expected one "create table if not exists <schema>.<table> (...)"`);
  const columns = splitTopLevel(match[2] as string)
    .map((part) => part.trim().replace(/\s+/g, ' '))
    .map((definition) => ({
      name: (definition.split(/\s+/)[0] as string).toLowerCase(),
      definition,
    }));
  return { name: (match[1] as string).toLowerCase(), sql, columns };
}
