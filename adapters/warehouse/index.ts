import { pickFactory } from '../url.ts';
import { openPglite } from './pglite.ts';
import type { SqlDatabase } from './sql-database.ts';

export type { CsvObject, SqlDatabase, SqlDialect, SqlParam } from './sql-database.ts';

const DATABASE_FACTORIES: Record<'pglite', (url: string) => Promise<SqlDatabase>> = {
  pglite: openPglite,
};

/** A Postgres-wire database (warehouse or OLTP source); `setting` names the variable for error messages. */
export function openSqlDatabase(setting: 'WAREHOUSE_URL' | 'SOURCE_URL', url: string): Promise<SqlDatabase> {
  return pickFactory(setting, url, DATABASE_FACTORIES)(url);
}

/** URL schemes this family accepts; configuration validation uses the same list. */
export const WAREHOUSE_SCHEMES = Object.keys(DATABASE_FACTORIES);
