/**
 * The monitor never writes. Two guards, either enough on its own:
 * 1. In production it connects as `ecomm_monitor`, a role with SELECT on `ops` and `gold` only and
 *    `default_transaction_read_only` (jobs/monitor/readonly-role.sql, docs/monitor.md).
 * 2. In code, every statement runs inside a transaction opened `read only`, so even a misconfigured URL (the
 *    jobs' own read-write user, the embedded PGlite) cannot be written through the monitor: the engine rejects
 *    INSERT, UPDATE, DELETE, DDL and `set transaction read write` with "cannot execute … in a read-only
 *    transaction".
 */
import { Readable } from 'node:stream';
import type { CsvObject, SqlDatabase, SqlParam } from '../../adapters/warehouse/sql-database.ts';

/**
 * Makes the open transaction read-only, then reads once: after a transaction's first query PostgreSQL refuses
 * `set transaction read write` ("must be set before any query"), so the mode cannot be switched back. PostgreSQL
 * syntax, which Redshift shares (its BEGIN takes `READ ONLY`; SET TRANSACTION follows the PostgreSQL 8 grammar it
 * derives from; not yet run against a cluster, see docs/monitor.md).
 */
export const READ_ONLY_STATEMENT = 'set transaction read only; select 1';

export class ReadOnlyViolation extends Error {
  constructor(operation: string) {
    super(`the monitor's warehouse handle is read-only: ${operation} is not allowed`);
    this.name = 'ReadOnlyViolation';
  }
}

/** A handle on `db` through which nothing can be written: each call is its own read-only transaction. */
export function readOnlyDatabase(db: SqlDatabase): SqlDatabase {
  const inReadOnlyTransaction = <T>(fn: (tx: SqlDatabase) => Promise<T>): Promise<T> =>
    db.transaction(async (tx) => {
      await tx.exec(READ_ONLY_STATEMENT);
      return fn(pinnedReadOnly(tx));
    });
  return {
    url: db.url,
    dialect: db.dialect,
    concurrency: db.concurrency,
    query<Row extends Record<string, unknown>>(sql: string, params?: SqlParam[]) {
      return inReadOnlyTransaction((tx) => tx.query<Row>(sql, params));
    },
    exec(sql: string) {
      return inReadOnlyTransaction((tx) => tx.exec(sql));
    },
    transaction: inReadOnlyTransaction,
    copyFromCsv(_table: string, _columns: string[], _source: CsvObject): Promise<number> {
      return Promise.reject(new ReadOnlyViolation('COPY … FROM'));
    },
    copyToCsv(_selectSql: string): Readable {
      const stream = new Readable({ read() {} });
      stream.destroy(new ReadOnlyViolation('COPY … TO (exports are not a monitor feature)'));
      return stream;
    },
    close: () => db.close(),
  };
}

/** The open read-only transaction itself: nested `transaction` calls reuse it. */
function pinnedReadOnly(tx: SqlDatabase): SqlDatabase {
  const pinned: SqlDatabase = {
    url: tx.url,
    dialect: tx.dialect,
    concurrency: tx.concurrency,
    query: (sql, params) => tx.query(sql, params),
    exec: (sql) => tx.exec(sql),
    transaction: (fn) => fn(pinned),
    copyFromCsv: () => Promise.reject(new ReadOnlyViolation('COPY … FROM')),
    copyToCsv: () => {
      const stream = new Readable({ read() {} });
      stream.destroy(new ReadOnlyViolation('COPY … TO'));
      return stream;
    },
    close: async () => {},
  };
  return pinned;
}
