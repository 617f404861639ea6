/**
 * The Postgres-wire source (postgres://, postgresql://, pglite://): a stream is a table of the `public` schema and
 * its cursor a timestamptz column. Rows leave the database as `COPY (select …) TO STDOUT` CSV, streamed, never held.
 */

import { redactUrl } from '../redact.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
import { schemeOf } from '../url.ts';
import { openSqlDatabase } from '../warehouse/index.ts';
import { quoteIdent } from '../warehouse/pglite.ts';
import type { SqlDatabase } from '../warehouse/sql-database.ts';
import {
  MissingStreamsError,
  type SourceConnector,
  type SourceSetting,
  type SourceStream,
  type SourceWindow,
  type UnreadableRows,
  type WindowRequest,
  type WindowWriter,
} from './source-connector.ts';

/** Keys shown for rows no window can read. */
const SAMPLE_KEYS = 5;

/** Separator of a composite key's columns in the sample: the same text jobs/contracts/source-keys.ts computes. */
const KEY_SEPARATOR = '|';

export interface SqlSourceOptions {
  secrets?: SecretStore;
  /**
   * A connection already open on this URL (the jobs' SOURCE_URL database, which reconcile and backfill use too): the
   * connector reads through it and leaves closing it to its owner. An embedded PGlite cannot be opened twice.
   */
  database?: SqlDatabase;
}

export async function openSqlSource(
  setting: SourceSetting,
  url: string,
  options: SqlSourceOptions = {},
): Promise<SourceConnector> {
  if (options.database) return sqlSourceConnector(options.database, { setting, url, owned: false });
  const database = await openSqlDatabase(setting, url, options.secrets ? { secrets: options.secrets } : {});
  return sqlSourceConnector(database, { setting, url, owned: true });
}

export function sqlSourceConnector(
  db: SqlDatabase,
  where: { setting: SourceSetting; url: string; owned: boolean },
): SourceConnector {
  return {
    kind: schemeOf(where.url) === 'pglite' ? 'pglite' : 'postgres',
    check: (streams) => assertTablesExist(db, where, streams),
    readWindow: (stream, request, write) => readWindow(db, stream, request, write),
    unreadable: (stream) => unreadableRows(db, stream),
    close: async () => {
      if (where.owned) await db.close();
    },
  };
}

/**
 * One repeatable-read snapshot for the bound, the re-read count and the rows: the count describes exactly the CSV
 * written, and a row committed meanwhile is wholly in the next window.
 */
function readWindow(
  db: SqlDatabase,
  stream: SourceStream,
  request: WindowRequest,
  write: WindowWriter,
): Promise<SourceWindow> {
  return db.transaction(async (tx) => {
    await tx.exec('set transaction isolation level repeatable read');
    const { upTo, rereadFrom } = await windowBounds(tx, stream, request);
    if (!upTo) return { upTo: null, rereadFrom: null, rows: 0, reread: 0 };
    const reread = await countRereads(tx, stream, rereadFrom, request.after);
    const lower = rereadFrom ?? request.after;
    const cursor = quoteIdent(stream.cursor);
    const range = `${lower ? `${cursor} > ${timestampLiteral(lower)} and ` : ''}${cursor} <= ${timestampLiteral(upTo)}`;
    const rows = await write(concatenatedCsv(tx, [streamSelect(stream, range)]));
    return { upTo, rereadFrom, rows, reread };
  });
}

/**
 * The window's upper bound, the newest cursor value at least the safety lag old, only when something is newer
 * than the checkpoint: every row sharing it is in this window and the next starts after it, so ties are never
 * split. Cursor values travel as text: a JS Date would cut microseconds and re-read rows at the boundary.
 */
async function windowBounds(
  db: SqlDatabase,
  stream: SourceStream,
  request: WindowRequest,
): Promise<{ upTo: string | null; rereadFrom: string | null }> {
  const table = quoteIdent(stream.remoteName);
  const cursor = quoteIdent(stream.cursor);
  const [bound] = await db.query<{ up_to: string | null; reread_from: string | null }>(
    request.after
      ? `select cast(max(${cursor}) as varchar) as up_to,
           cast(cast($2 as timestamptz) - make_interval(secs => $3) as varchar) as reread_from
         from ${table}
         where ${cursor} <= now() - make_interval(secs => $1) and ${cursor} > cast($2 as timestamptz)`
      : `select cast(max(${cursor}) as varchar) as up_to, cast(null as varchar) as reread_from
         from ${table} where ${cursor} <= now() - make_interval(secs => $1)`,
    request.after
      ? [request.safetyLagSeconds, request.after, request.lookbackSeconds]
      : [request.safetyLagSeconds],
  );
  return { upTo: bound?.up_to ?? null, rereadFrom: bound?.up_to ? (bound.reread_from ?? null) : null };
}

async function countRereads(
  db: SqlDatabase,
  stream: SourceStream,
  rereadFrom: string | null,
  after: string | null,
): Promise<number> {
  if (!rereadFrom || !after) return 0;
  const cursor = quoteIdent(stream.cursor);
  const [row] = await db.query<{ n: number }>(
    `select cast(count(*) as integer) as n from ${quoteIdent(stream.remoteName)}
     where ${cursor} > cast($1 as timestamptz) and ${cursor} <= cast($2 as timestamptz)`,
    [rereadFrom, after],
  );
  return Number(row?.n ?? 0);
}

/** A stream's SELECT: its columns, in cursor then key order, so the same rows always make the same bytes. */
export function streamSelect(stream: SourceStream, where: string): string {
  const columns = stream.columns.map(quoteIdent).join(', ');
  const keyOrder = stream.primaryKey.map(quoteIdent).join(', ');
  return `select ${columns} from ${quoteIdent(stream.remoteName)} where ${where} order by ${quoteIdent(stream.cursor)}, ${keyOrder}`;
}

/** The CSV of one or more SELECTs (COPY ... TO STDOUT) as one: the first header line only, no row held. */
export async function* concatenatedCsv(db: SqlDatabase, selects: string[]): AsyncGenerator<Buffer> {
  for (const [index, select] of selects.entries()) {
    let header = index > 0;
    for await (const chunk of db.copyToCsv(select)) {
      let bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      if (header) {
        // Column names hold no newline: the header of every COPY after the first ends at the first one.
        const end = bytes.indexOf(0x0a);
        if (end < 0) continue;
        bytes = bytes.subarray(end + 1);
        header = false;
      }
      if (bytes.length > 0) yield bytes;
    }
  }
}

/** Rows no window can read: cursor NULL or later than the source's clock. */
async function unreadableRows(db: SqlDatabase, stream: SourceStream): Promise<UnreadableRows> {
  const table = quoteIdent(stream.remoteName);
  const cursor = quoteIdent(stream.cursor);
  const unreadable = `${cursor} is null or ${cursor} > now()`;
  const [counted] = await db.query<{ n: number }>(
    `select cast(count(*) as integer) as n from ${table} where ${unreadable}`,
  );
  const count = Number(counted?.n ?? 0);
  if (count === 0) return { count, sample: [] };
  const keyText = stream.primaryKey
    .map((column) => `cast(${quoteIdent(column)} as varchar)`)
    .join(` || '${KEY_SEPARATOR}' || `);
  const sample = await db.query<{ key_text: string; cursor_value: string | null }>(
    `select ${keyText} as key_text, cast(${cursor} as varchar) as cursor_value
     from ${table} where ${unreadable}
     order by ${stream.primaryKey.map(quoteIdent).join(', ')} limit ${SAMPLE_KEYS}`,
  );
  return { count, sample: sample.map((row) => `${row.key_text} (${row.cursor_value ?? 'null'})`) };
}

async function assertTablesExist(
  db: SqlDatabase,
  where: { setting: SourceSetting; url: string },
  streams: SourceStream[],
): Promise<void> {
  const present = await db.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'public'",
  );
  const missing = streams
    .map((stream) => stream.remoteName)
    .filter((name) => !present.some((row) => row.table_name === name));
  if (missing.length > 0)
    throw new MissingStreamsError(
      `source tables missing in ${where.setting} ${redactUrl(where.url)}: ${missing.join(', ')}`,
      missing,
    );
}

/** COPY takes no parameters; the value came from the database as a timestamp, and is checked before quoting. */
export function timestampLiteral(value: string): string {
  if (!/^[0-9: .+\-T]+$/.test(value)) throw new Error(`refusing a malformed watermark timestamp: ${value}`);
  return `cast('${value}' as timestamptz)`;
}
