import { mkdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { postgresCsvRecord } from '../csv.ts';
import { type CsvObject, postgresCopyError, type SqlDatabase, type SqlParam } from './sql-database.ts';

/** PGlite speaks only through its blob device for COPY: feed it bounded chunks cut at CSV record ends. */
const COPY_CHUNK_BYTES = 8 * 1024 * 1024;

type Queryable = PGlite | Transaction;

/**
 * Embedded PostgreSQL (PGlite, WASM) as source database or warehouse: `pglite://./data/warehouse` keeps
 * files in that folder, `pglite://memory` keeps everything in memory.
 */
export async function openPglite(url: string): Promise<SqlDatabase> {
  const location = pgliteLocation(url);
  if (location !== undefined) mkdirSync(location, { recursive: true });
  const db = await PGlite.create(location);
  await db.exec("SET TIME ZONE 'UTC'");
  return pgliteDatabase(url, db, db, async () => db.close());
}

export function pgliteLocation(url: string): string | undefined {
  const rest = url.replace(/^pglite:\/\//, '');
  if (rest === '' || rest === 'memory') return undefined;
  return rest;
}

/** One connection, in this process: a second statement waits for the first. */
const PGLITE_CONCURRENCY = { connections: 1, locksBlockReaders: false, writersConflict: false } as const;

function pgliteDatabase(url: string, root: PGlite, conn: Queryable, close: () => Promise<void>): SqlDatabase {
  const database: SqlDatabase = {
    url,
    dialect: 'postgres',
    concurrency: PGLITE_CONCURRENCY,
    async query<Row extends Record<string, unknown>>(sql: string, params: SqlParam[] = []) {
      const result = await conn.query<Row>(sql, params);
      return result.rows;
    },
    async exec(sql: string) {
      const results = await conn.exec(sql);
      return results.length === 1 ? (results[0]?.rowCount ?? null) : null;
    },
    async transaction<T>(fn: (tx: SqlDatabase) => Promise<T>): Promise<T> {
      if (conn !== root) return fn(database);
      return root.transaction((tx) => fn(pgliteDatabase(url, root, tx, async () => {})));
    },
    async copyFromCsv(table: string, columns: string[], source: CsvObject) {
      const body = await source.store.get(source.key);
      const columnList = columns.map(quoteIdent).join(', ');
      let loaded = 0;
      let header = true;
      // Each chunk's COPY counts lines from 1: the lines of the chunks before make a refused row's line absolute.
      let linesBefore = 0;
      for await (const chunk of csvRecordChunks(body, COPY_CHUNK_BYTES)) {
        const result = await conn
          .query(
            `COPY ${table} (${columnList}) FROM '/dev/blob' WITH (FORMAT csv, HEADER ${header ? 'true' : 'false'})`,
            [],
            { blob: new Blob([chunk]) },
          )
          .catch((error: unknown) => {
            throw postgresCopyError(error, table, source, linesBefore);
          });
        header = false;
        loaded += result.affectedRows ?? 0;
        linesBefore += countNewlines(chunk);
      }
      return loaded;
    },
    copyToCsv(selectSql: string) {
      return Readable.from(cursorCsv(conn, conn !== root, selectSql));
    },
    close,
  };
  return database;
}

/** Rows per FETCH: bounds memory however large the result (PGlite's COPY TO would hand back one whole blob). */
const FETCH_ROWS = 10_000;
let cursorCount = 0;

/**
 * CSV of a SELECT through a cursor, FETCH_ROWS at a time, every value as the server's own text output (what COPY
 * prints), so extraction streams instead of materialising the table.
 */
async function* cursorCsv(
  conn: Queryable,
  inTransaction: boolean,
  selectSql: string,
): AsyncGenerator<string> {
  // Column names and types without running the query for real (works inside a transaction too).
  const { fields } = await conn.query(`select * from (${selectSql}) as described limit 0`);
  const asText = Object.fromEntries(fields.map((field) => [field.dataTypeID, (value: string) => value]));
  yield postgresCsvRecord(fields.map((field) => field.name));
  cursorCount += 1;
  const cursor = `ecomm_csv_${cursorCount}`;
  if (!inTransaction) await conn.exec('BEGIN');
  try {
    await conn.exec(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${selectSql}`);
    for (;;) {
      const batch = await conn.query<(string | null)[]>(`FETCH FORWARD ${FETCH_ROWS} FROM ${cursor}`, [], {
        rowMode: 'array',
        parsers: asText,
      });
      if (batch.rows.length > 0) yield batch.rows.map(postgresCsvRecord).join('');
      if (batch.rows.length < FETCH_ROWS) break;
    }
    await conn.exec(`CLOSE ${cursor}`);
    if (!inTransaction) await conn.exec('COMMIT');
  } catch (error) {
    if (!inTransaction) await conn.exec('ROLLBACK');
    throw error;
  }
}

function countNewlines(bytes: Uint8Array): number {
  let lines = 0;
  for (const byte of bytes) if (byte === 0x0a) lines += 1;
  return lines;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Re-chunks a CSV byte stream so every chunk ends at a record boundary: a newline outside quotes. RFC 4180 quotes
 * escape by doubling, so an even count of quote bytes seen means "outside a quoted field".
 */
export async function* csvRecordChunks(
  body: AsyncIterable<Uint8Array>,
  targetBytes: number,
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let insideQuotes = false;
  for await (const piece of body) {
    const bytes = typeof piece === 'string' ? Buffer.from(piece) : piece;
    let cutAfter = -1;
    for (let index = 0; index < bytes.length; index += 1) {
      const byte = bytes[index];
      if (byte === 0x22) insideQuotes = !insideQuotes;
      else if (byte === 0x0a && !insideQuotes) cutAfter = index;
    }
    if (pendingBytes + bytes.length >= targetBytes && cutAfter >= 0) {
      pending.push(bytes.subarray(0, cutAfter + 1));
      yield Buffer.concat(pending);
      pending = [bytes.subarray(cutAfter + 1)];
      pendingBytes = bytes.length - cutAfter - 1;
    } else {
      pending.push(bytes);
      pendingBytes += bytes.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending);
}
