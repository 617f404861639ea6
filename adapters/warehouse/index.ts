import type { SecretStore } from '../secrets/secret-store.ts';
import { pickFactory } from '../url.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import { openRedshift } from './redshift.ts';
import type { SqlDatabase } from './sql-database.ts';

export type { CsvObject, SqlDatabase, SqlDialect, SqlParam } from './sql-database.ts';

/** The setting a URL came from, for error messages: the warehouse's, or a Postgres-wire source's. */
export type DatabaseSetting = 'WAREHOUSE_URL' | 'SOURCE_URL' | `${string}_SOURCE_URL`;

export interface OpenDatabaseOptions {
  /** Resolves a `?passwordSecret=<name>` in a postgres:// or redshift:// URL (the infra's URLs carry no password). */
  secrets?: SecretStore;
}

type DatabaseFactory = (
  url: string,
  setting: DatabaseSetting,
  options: OpenDatabaseOptions,
) => Promise<SqlDatabase>;

const DATABASE_FACTORIES: Record<'pglite' | 'postgres' | 'postgresql' | 'redshift', DatabaseFactory> = {
  pglite: openPglite,
  postgres: (url, setting, options) => openPostgres(url, { setting, ...options }),
  postgresql: (url, setting, options) => openPostgres(url, { setting, ...options }),
  redshift: (url, setting, options) => openRedshift(url, { setting, ...options }),
};

/** A Postgres-wire database (warehouse or OLTP source); `setting` names the variable for error messages. */
export function openSqlDatabase(
  setting: DatabaseSetting,
  url: string,
  options: OpenDatabaseOptions = {},
): Promise<SqlDatabase> {
  return pickFactory(setting, url, DATABASE_FACTORIES)(url, setting, options);
}

/** URL schemes this family accepts; configuration validation uses the same list. */
export const WAREHOUSE_SCHEMES = Object.keys(DATABASE_FACTORIES);
