import type { Readable } from 'node:stream';
import type { ObjectStore } from '../storage/object-store.ts';

export type SqlDialect = 'postgres' | 'redshift';

export type SqlParam = string | number | boolean | null | Date;

/** A CSV object in the lake to bulk-load: first line is a header naming the columns. */
export interface CsvObject {
  store: ObjectStore;
  key: string;
}

/**
 * A Postgres-wire database: the OLTP source, or the warehouse (PostgreSQL, Redshift, PGlite).
 * All statements go through here so a job never knows which engine it talks to.
 */
export interface SqlDatabase {
  readonly url: string;
  readonly dialect: SqlDialect;
  query<Row extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: SqlParam[],
  ): Promise<Row[]>;
  /** Runs one or more statements with no parameters (DDL, model builds). */
  exec(sql: string): Promise<void>;
  /** Runs fn inside one transaction on one connection; rolls back if fn rejects. */
  transaction<T>(fn: (tx: SqlDatabase) => Promise<T>): Promise<T>;
  /** COPY-style bulk load of a CSV object (header line first) into table(columns); returns rows loaded. */
  copyFromCsv(table: string, columns: string[], source: CsvObject): Promise<number>;
  /** Streams the result of a SELECT as CSV with a header line (COPY ... TO STDOUT). */
  copyToCsv(selectSql: string): Readable;
  close(): Promise<void>;
}
