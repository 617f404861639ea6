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
 * What a job may run side by side on one engine: PGlite is one connection inside this process; PostgreSQL and
 * Redshift are pools of connections, and Redshift's locks and isolation are stricter.
 */
export interface EngineConcurrency {
  /** Statements that can run at once: the pool's connections, 1 for an engine inside this process. */
  connections: number;
  /**
   * A table lock also blocks the table's readers (Redshift's LOCK), so a reader of a table some transaction has
   * locked waits for that transaction's end.
   */
  locksBlockReaders: boolean;
  /**
   * Two transactions that read and write one table at once can abort one another (Redshift's serializable
   * isolation, error 1023), so writers of shared tables go one at a time.
   */
  writersConflict: boolean;
}

/**
 * A Postgres-wire database: the OLTP source, or the warehouse (PostgreSQL, Redshift, PGlite).
 * All statements go through here so a job never knows which engine it talks to.
 */
export interface SqlDatabase {
  readonly url: string;
  readonly dialect: SqlDialect;
  readonly concurrency: EngineConcurrency;
  query<Row extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: SqlParam[],
  ): Promise<Row[]>;
  /**
   * Runs one or more statements with no parameters (DDL, model builds). Gives the rows one statement's command tag
   * counts (CREATE TABLE AS, INSERT, UPDATE, DELETE), or null: several statements, a tag without a count.
   */
  exec(sql: string): Promise<number | null>;
  /** Runs fn inside one transaction on one connection; rolls back if fn rejects. */
  transaction<T>(fn: (tx: SqlDatabase) => Promise<T>): Promise<T>;
  /** COPY-style bulk load of a CSV object (header line first) into table(columns); returns rows loaded. */
  copyFromCsv(table: string, columns: string[], source: CsvObject): Promise<number>;
  /** Streams the result of a SELECT as CSV with a header line (COPY ... TO STDOUT). */
  copyToCsv(selectSql: string): Readable;
  close(): Promise<void>;
}

/**
 * The engine refused a row of a bulk load (a value too long, a malformed CSV line): which table and, when the engine
 * says, where in the CSV object. `line` is the object's physical line (1 is the header) on which the refused
 * record ends, as PostgreSQL's COPY counts; Redshift fills it from stl_load_errors once the transaction has ended.
 */
export class BulkLoadError extends Error {
  readonly table: string;
  readonly object: CsvObject;
  line: number | null;
  column: string | null;
  /** SQLSTATE, when the engine gave one. */
  readonly code: string | undefined;
  /** Redshift: the COPY's query id, to look the row up in stl_load_errors. */
  readonly queryId: number | undefined;
  constructor(
    message: string,
    where: {
      table: string;
      object: CsvObject;
      line?: number | null;
      column?: string | null;
      code?: string;
      queryId?: number;
    },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'BulkLoadError';
    this.table = where.table;
    this.object = where.object;
    this.line = where.line ?? null;
    this.column = where.column ?? null;
    this.code = where.code;
    this.queryId = where.queryId;
  }
}

/** SQLSTATE classes of refused data: data exceptions (22) and integrity constraint violations (23). */
const REFUSED_DATA = /^(22|23)/;

/**
 * The BulkLoadError for a PostgreSQL (or PGlite) COPY error about the data, which names the row in its context
 * (`COPY orders, line 3, column order_id: "…"`); other errors (connection, permissions) are returned unchanged.
 * `linesBefore` shifts the line when the object was sent in several COPY statements.
 */
export function postgresCopyError(
  error: unknown,
  table: string,
  object: CsvObject,
  linesBefore = 0,
): unknown {
  const { code, where, message } = error as { code?: unknown; where?: unknown; message?: unknown };
  if (typeof code !== 'string' || !REFUSED_DATA.test(code)) return error;
  const at = /COPY [^,]+, line (\d+)(?:, column ([^:]+))?/.exec(typeof where === 'string' ? where : '');
  return new BulkLoadError(
    String(message ?? 'refused by the warehouse'),
    {
      table,
      object,
      line: at ? Number(at[1]) + linesBefore : null,
      column: at?.[2] ?? null,
      code,
    },
    { cause: error },
  );
}

/** The BulkLoadError in an error's cause chain (jobs wrap it to name their batch), if any. */
export function refusedRowIn(error: unknown): BulkLoadError | undefined {
  let current = error;
  for (let depth = 0; current instanceof Object && depth < 6; depth += 1) {
    if (current instanceof BulkLoadError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
