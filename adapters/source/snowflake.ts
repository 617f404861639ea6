/**
 * Snowflake (`snowflake://<account>/<database>/<schema>?warehouse=…&user=…&passwordSecret=<name>`) through the
 * official snowflake-sdk: a stream is a table of the URL's schema, its cursor a TIMESTAMP_NTZ (read as UTC),
 * TIMESTAMP_LTZ or TIMESTAMP_TZ column. `role=` picks a role; `host=` (`http://127.0.0.1:8080`, or a host name
 * served over https) replaces `<account>.snowflakecomputing.com`, which is how the tests reach fakesnow.
 *
 * Every value is bound (`:1`, `:2`: numbered, because fakesnow rewrites some functions and would otherwise bind
 * positional `?` in its rewritten order); identifiers are quoted. Names are matched as Snowflake stores them: a
 * contract's `updated_at` finds the column `UPDATED_AT` when no column is named `updated_at` exactly.
 */
import type { Readable } from 'node:stream';
import type snowflake from 'snowflake-sdk';
import { csvLine, postgresCsvRecord } from '../csv.ts';
import { redactSecrets, redactUrl } from '../redact.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
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

export interface SnowflakeSourceOptions {
  /** Resolves `?passwordSecret=<name>`: a Snowflake URL never carries the password. */
  secrets?: SecretStore;
}

/** Keys shown for rows no window can read. */
const SAMPLE_KEYS = 5;
/** Separator of a composite key's columns in the sample, as jobs/contracts/source-keys.ts joins them. */
const KEY_SEPARATOR = '|';
/** Bytes of CSV gathered before handing them on: one write per row would dominate a large window. */
const CHUNK_BYTES = 64 * 1024;
const KNOWN_PARAMS = ['warehouse', 'user', 'passwordSecret', 'role', 'host'];
const CURSOR_TYPES = new Set(['TIMESTAMP_NTZ', 'TIMESTAMP_LTZ', 'TIMESTAMP_TZ']);

interface SnowflakeUrl {
  account: string;
  database: string;
  schema: string;
  warehouse: string | undefined;
  user: string;
  passwordSecret: string;
  role: string | undefined;
  accessUrl: string | undefined;
}

/** Parses a source URL; the errors name the setting and the URL (nothing in it is a secret, but it is redacted). */
export function parseSnowflakeUrl(setting: string, url: string): SnowflakeUrl {
  const fail = (why: string) => new Error(`${setting}: ${why} in ${redactUrl(url)}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('not a URL');
  }
  if (parsed.protocol !== 'snowflake:') throw fail('expected snowflake://');
  if (parsed.username || parsed.password)
    throw fail('no credentials in the URL: give user= and passwordSecret=');
  const parts = parsed.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const account = decodeURIComponent(parsed.hostname);
  const [database, schema] = parts;
  if (!account || !database || !schema || parts.length !== 2)
    throw fail('expected snowflake://<account>/<database>/<schema>');
  const params = parsed.searchParams;
  const unknown = [...params.keys()].filter((key) => !KNOWN_PARAMS.includes(key));
  if (unknown.length > 0)
    throw fail(`unknown parameter ${unknown.join(', ')} (known: ${KNOWN_PARAMS.join(', ')})`);
  const user = params.get('user');
  const passwordSecret = params.get('passwordSecret');
  if (!user) throw fail('user= is required');
  if (!passwordSecret) throw fail('passwordSecret=<secret name> is required');
  const host = params.get('host');
  let accessUrl: string | undefined;
  if (host) {
    accessUrl = /^https?:\/\//.test(host) ? host.replace(/\/+$/, '') : `https://${host}`;
    if (!URL.canParse(accessUrl)) throw fail(`host=${host} is not a host or an http(s) URL`);
  }
  return {
    account,
    database,
    schema,
    warehouse: params.get('warehouse') ?? undefined,
    user,
    passwordSecret,
    role: params.get('role') ?? undefined,
    accessUrl,
  };
}

export async function openSnowflakeSource(
  setting: SourceSetting,
  url: string,
  options: SnowflakeSourceOptions = {},
): Promise<SourceConnector> {
  const config = parseSnowflakeUrl(setting, url);
  const where = `${setting} ${redactUrl(url)}`;
  if (!options.secrets)
    throw new Error(`${where}: passwordSecret=${config.passwordSecret} needs a secret store (SECRETS_URL)`);
  const password = await options.secrets.get(config.passwordSecret);
  /** Every message that leaves this module: redacted, and the password itself hidden should an SDK repeat it. */
  const scrub = (text: string) => redactSecrets(password ? text.replaceAll(password, '***') : text);
  const connection = await connectSnowflake(config, password).catch((error: unknown) => {
    throw new Error(scrub(`${where}: cannot log in as ${config.user}: ${messageOf(error)}`));
  });
  const sql = sqlRunner(connection, (error) => new Error(scrub(`${where}: ${messageOf(error)}`)));
  const source = { config, where, sql };
  return {
    kind: 'snowflake',
    check: (streams) => check(source, streams),
    readWindow: (stream, request, write) => readWindow(source, stream, request, write),
    unreadable: (stream) => unreadableRows(source, stream),
    close: () =>
      new Promise<void>((resolve) => {
        // A session the server already dropped is closed all the same.
        connection.destroy(() => resolve());
      }),
  };
}

function messageOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined && !message.includes(String(code)) ? `${message} (${code})` : message;
}

let loadedSdk: Promise<typeof snowflake> | undefined;

/**
 * The SDK, loaded on the first connection: it takes a quarter of a second to load, which every `ecomm` process
 * would otherwise pay at start whether or not it reads Snowflake.
 */
function snowflakeSdk(): Promise<typeof snowflake> {
  loadedSdk ??= import('snowflake-sdk').then(({ default: sdk }) => {
    // The SDK logs to stdout by default; its errors reach the job through the callbacks below, redacted.
    sdk.configure({ logLevel: 'OFF' });
    return sdk;
  });
  return loadedSdk;
}

/** A connection for `config`, named `application` in Snowflake's query history (the extract, or the generator). */
export async function connectSnowflake(
  config: SnowflakeUrl,
  password: string,
  application = 'ecomm-extract',
): Promise<snowflake.Connection> {
  const connection = (await snowflakeSdk()).createConnection({
    account: config.account,
    username: config.user,
    password,
    database: config.database,
    schema: config.schema,
    ...(config.warehouse ? { warehouse: config.warehouse } : {}),
    ...(config.role ? { role: config.role } : {}),
    ...(config.accessUrl ? { accessUrl: config.accessUrl } : {}),
    application,
    // Rows as arrays: two columns differing only in case would collide as object keys.
    rowMode: 'array',
  });
  return new Promise((resolve, reject) =>
    connection.connect((error, connected) => (error ? reject(error) : resolve(connected))),
  );
}

type Bind = string | number;
type Row = unknown[];

interface SqlRunner {
  rows(sqlText: string, binds?: Bind[]): Promise<Row[]>;
  stream(sqlText: string, binds?: Bind[]): AsyncIterable<Row>;
}

function sqlRunner(connection: snowflake.Connection, wrap: (error: unknown) => Error): SqlRunner {
  // Numbers as the server's text (NUMBER(38,x) does not fit a double), JSON types as their JSON text.
  const fetchAsString: snowflake.DataType[] = ['Number', 'JSON'];
  return {
    rows: (sqlText, binds = []) =>
      new Promise((resolve, reject) => {
        connection.execute({
          sqlText,
          binds,
          fetchAsString,
          rowMode: 'array',
          complete: (error, _statement, rows) =>
            error ? reject(wrap(error)) : resolve((rows ?? []) as Row[]),
        });
      }),
    stream: (sqlText, binds = []) => {
      const statement = connection.execute({
        sqlText,
        binds,
        fetchAsString,
        rowMode: 'array',
        streamResult: true,
      });
      return wrapErrors(statement.streamRows(), wrap);
    },
  };
}

async function* wrapErrors(rows: Readable, wrap: (error: unknown) => Error): AsyncGenerator<Row> {
  try {
    for await (const row of rows) yield row as Row;
  } catch (error) {
    throw wrap(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Names and types

interface TableInfo {
  name: string;
  columns: { name: string; type: string }[];
}

interface Source {
  config: SnowflakeUrl;
  where: string;
  sql: SqlRunner;
}

/** The tables of the URL's schema with their columns (one query, whatever the number of streams). */
async function schemaTables(source: Source): Promise<TableInfo[]> {
  const rows = await source.sql.rows(
    `select table_schema, table_name, column_name, data_type from information_schema.columns
     where upper(table_schema) = upper(:1) order by table_name, ordinal_position`,
    [source.config.schema],
  );
  const schemas = new Set(rows.map((row) => String(row[0])));
  const schema = resolveName([...schemas], source.config.schema);
  const tables = new Map<string, TableInfo>();
  for (const [tableSchema, tableName, columnName, dataType] of rows) {
    if (tableSchema !== schema) continue;
    const name = String(tableName);
    const table = tables.get(name) ?? { name, columns: [] };
    table.columns.push({ name: String(columnName), type: String(dataType).toUpperCase() });
    tables.set(name, table);
  }
  return [...tables.values()];
}

/** The exact name when present, else the one name equal to it ignoring case (Snowflake upper-cases unquoted names). */
function resolveName(present: string[], wanted: string): string | undefined {
  if (present.includes(wanted)) return wanted;
  const matches = present.filter((name) => name.toUpperCase() === wanted.toUpperCase());
  return matches.length === 1 ? matches[0] : undefined;
}

interface ResolvedStream {
  table: string;
  /** The stream's columns as the table names them, in the stream's order. */
  columns: { name: string; type: string }[];
  primaryKey: string[];
  cursor: { name: string; type: string };
}

type Resolution = { stream: ResolvedStream } | { missingTable: true } | { problem: string };

function resolveStream(tables: TableInfo[], stream: SourceStream): Resolution {
  const tableName = resolveName(
    tables.map((table) => table.name),
    stream.remoteName,
  );
  const table = tables.find((candidate) => candidate.name === tableName);
  if (!table) return { missingTable: true };
  const names = table.columns.map((column) => column.name);
  const lookup = (wanted: string) => {
    const name = resolveName(names, wanted);
    return table.columns.find((column) => column.name === name);
  };
  const wanted = [...new Set([...stream.columns, ...stream.primaryKey, stream.cursor])];
  const missing = wanted.filter((name) => !lookup(name));
  if (missing.length > 0)
    return { problem: `${table.name} lacks column${plural(missing)} ${missing.join(', ')}` };
  const cursor = lookup(stream.cursor) as { name: string; type: string };
  if (!CURSOR_TYPES.has(cursor.type))
    return {
      problem:
        `${table.name}.${cursor.name} is ${cursor.type}; a cursor must be ${[...CURSOR_TYPES].join(', ')} ` +
        '(a DATE cursor would read a day while it is still being written)',
    };
  return {
    stream: {
      table: table.name,
      columns: stream.columns.map((name) => lookup(name) as { name: string; type: string }),
      primaryKey: stream.primaryKey.map((name) => (lookup(name) as { name: string }).name),
      cursor,
    },
  };
}

const plural = (items: unknown[]) => (items.length === 1 ? '' : 's');

async function check(source: Source, streams: SourceStream[]): Promise<void> {
  const tables = await schemaTables(source);
  const missing: string[] = [];
  const problems: string[] = [];
  for (const stream of streams) {
    const resolved = resolveStream(tables, stream);
    if ('missingTable' in resolved) missing.push(stream.remoteName);
    else if ('problem' in resolved) problems.push(resolved.problem);
  }
  const schema = `${source.config.database}.${source.config.schema}`;
  if (missing.length > 0)
    throw new MissingStreamsError(
      `source tables missing in ${source.where} (schema ${schema}): ${missing.join(', ')}` +
        (problems.length > 0 ? `; also: ${problems.join('; ')}` : ''),
      missing,
    );
  if (problems.length > 0) throw new Error(`${source.where}: ${problems.join('; ')}`);
}

async function resolved(source: Source, stream: SourceStream): Promise<ResolvedStream> {
  const resolution = resolveStream(await schemaTables(source), stream);
  if ('stream' in resolution) return resolution.stream;
  if ('missingTable' in resolution)
    throw new MissingStreamsError(`source tables missing in ${source.where}: ${stream.remoteName}`, [
      stream.remoteName,
    ]);
  throw new Error(`${source.where}: ${resolution.problem}`);
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** A fully qualified, quoted table name: the session's current schema is not relied on. */
function tableRef(source: Source, table: string): string {
  return [source.config.database, source.config.schema, table].map(quoteIdent).join('.');
}

/**
 * The source's clock in the cursor's type. A TIMESTAMP_NTZ is taken as UTC wall-clock time (sysdate()), as the
 * extract's checkpoints and the lake's timestamps are.
 */
const nowFor = (cursorType: string) => (cursorType === 'TIMESTAMP_NTZ' ? 'sysdate()' : 'current_timestamp()');

function wholeSeconds(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a whole number of seconds >= 0`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Windows

/**
 * The window's upper bound is the newest cursor value at least the safety lag old, only when something is newer than
 * the checkpoint: every row sharing it is read now and the next window starts after it, so ties are never split.
 * The rows are read by a second statement bounded by that value, so a row committed between the two with an older
 * cursor is read too (the lookback would have caught it next time). Snowflake has no repeatable-read snapshot
 * across statements, so the re-read count comes from the rows themselves, not from a third query.
 */
async function readWindow(
  source: Source,
  stream: SourceStream,
  request: WindowRequest,
  write: WindowWriter,
): Promise<SourceWindow> {
  const lag = wholeSeconds('safetyLagSeconds', request.safetyLagSeconds);
  const lookback = wholeSeconds('lookbackSeconds', request.lookbackSeconds);
  const table = await resolved(source, stream);
  const cursor = quoteIdent(table.cursor.name);
  const type = table.cursor.type;
  const from = tableRef(source, table.table);
  const after = request.after;
  const [bound] = await source.sql.rows(
    after === null
      ? `select max(${cursor}), null from ${from} where ${cursor} <= dateadd(second, -:1, ${nowFor(type)})`
      : `select max(${cursor}), dateadd(second, -:3, cast(:2 as ${type})) from ${from}
         where ${cursor} <= dateadd(second, -:1, ${nowFor(type)}) and ${cursor} > cast(:2 as ${type})`,
    after === null ? [lag] : [lag, after, lookback],
  );
  if (!bound || bound[0] === null || bound[0] === undefined)
    return { upTo: null, rereadFrom: null, rows: 0, reread: 0 };
  const upTo = cursorText(bound[0], type);
  const rereadFrom = after === null ? null : cursorText(bound[1], type);

  const columns = table.columns.map((column) => quoteIdent(column.name)).join(', ');
  const order = [table.cursor.name, ...table.primaryKey].map(quoteIdent).join(', ');
  const rereadFlag = after === null ? 'false' : `${cursor} <= cast(:3 as ${type})`;
  const lower = rereadFrom === null ? '' : `${cursor} > cast(:2 as ${type}) and `;
  const rows = source.sql.stream(
    `select ${columns}, ${rereadFlag} from ${from}
     where ${lower}${cursor} <= cast(:1 as ${type}) order by ${order}`,
    after === null ? [upTo] : [upTo, rereadFrom as string, after],
  );
  const counted = { reread: 0 };
  const written = await write(csvChunks(stream.columns, table.columns, rows, counted));
  return { upTo, rereadFrom, rows: written, reread: counted.reread };
}

async function* csvChunks(
  header: string[],
  columns: { type: string }[],
  rows: AsyncIterable<Row>,
  counted: { reread: number },
): AsyncGenerator<Buffer> {
  const formats = columns.map((column) => formatterFor(column.type));
  let chunk = csvLine(header);
  for await (const row of rows) {
    const values = formats.map((format, index) => format(row[index]));
    chunk += postgresCsvRecord(values);
    if (row[formats.length] === true) counted.reread += 1;
    if (chunk.length >= CHUNK_BYTES) {
      yield Buffer.from(chunk);
      chunk = '';
    }
  }
  if (chunk.length > 0) yield Buffer.from(chunk);
}

/** Rows no window can read: cursor NULL or later than the source's clock, with their first keys. */
async function unreadableRows(source: Source, stream: SourceStream): Promise<UnreadableRows> {
  const table = await resolved(source, stream);
  const cursor = quoteIdent(table.cursor.name);
  const from = tableRef(source, table.table);
  const unreadable = `${cursor} is null or ${cursor} > ${nowFor(table.cursor.type)}`;
  const [counted] = await source.sql.rows(`select count(*) from ${from} where ${unreadable}`);
  const count = Number(counted?.[0] ?? 0);
  if (count === 0) return { count, sample: [] };
  const keyColumns = table.primaryKey.map((name) => {
    const column = table.columns.find((candidate) => candidate.name === name);
    return { name, format: formatterFor(column?.type ?? 'TEXT') };
  });
  const rows = await source.sql.rows(
    `select ${[...keyColumns.map((key) => quoteIdent(key.name)), cursor].join(', ')} from ${from}
     where ${unreadable} order by ${keyColumns.map((key) => quoteIdent(key.name)).join(', ')} limit ${SAMPLE_KEYS}`,
  );
  const sample = rows.map((row) => {
    const key = keyColumns.map((column, index) => column.format(row[index]) ?? '').join(KEY_SEPARATOR);
    const value = row[keyColumns.length];
    return `${key} (${value === null || value === undefined ? 'null' : cursorText(value, table.cursor.type)})`;
  });
  return { count, sample };
}

// ---------------------------------------------------------------------------------------------
// Values as text

/** What the SDK gives for DATE and TIMESTAMP_* columns: a Date that also knows its nanoseconds and offset. */
interface SfDate extends Date {
  getEpochSeconds(): number;
  getNanoSeconds(): number;
}

interface SfTime {
  getMidnightSeconds(): number;
  getNanoSeconds(): number;
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** `YYYY-MM-DD` of a UTC instant. */
function dateText(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** `.123` of `digits` fraction digits (trailing zeros dropped), or nothing for a whole second. */
function fractionText(nanos: number, digits: number): string {
  const fraction = String(nanos).padStart(9, '0').slice(0, digits).replace(/0+$/, '');
  return fraction ? `.${fraction}` : '';
}

function clockText(secondsOfDay: number, nanos: number, digits: number): string {
  const hours = Math.floor(secondsOfDay / 3600);
  const minutes = Math.floor((secondsOfDay % 3600) / 60);
  return `${pad(hours)}:${pad(minutes)}:${pad(secondsOfDay % 60)}${fractionText(nanos, digits)}`;
}

/**
 * A timestamp in UTC: `2026-01-02 03:04:05.123456`, with ` +00`-style offset for the zoned types. `digits` is 6 for
 * the lake (microseconds, as PostgreSQL writes them and the contracts read them) and 9 for a checkpoint, which must
 * be exact: a cut value would sit below its own row, and every later window would read that row again.
 */
function timestampText(value: SfDate, type: string, digits: number, offset: string): string {
  const seconds = value.getEpochSeconds();
  const secondsOfDay = ((seconds % 86_400) + 86_400) % 86_400;
  const text = `${dateText(seconds)} ${clockText(secondsOfDay, value.getNanoSeconds(), digits)}`;
  return type === 'TIMESTAMP_NTZ' ? text : `${text}${offset}`;
}

/** A cursor value as the checkpoint text: exact, and in a form Snowflake's cast reads back. */
function cursorText(value: unknown, type: string): string {
  return timestampText(value as SfDate, type, 9, '+00:00');
}

type Formatter = (value: unknown) => string | null;

/** The text of one value in the lake's CSV, by the column's Snowflake type: what PostgreSQL's COPY would write. */
function formatterFor(type: string): Formatter {
  const nullable =
    (format: (value: unknown) => string): Formatter =>
    (value) =>
      value === null || value === undefined ? null : format(value);
  if (type.startsWith('TIMESTAMP'))
    return nullable((value) => timestampText(value as SfDate, type, 6, '+00'));
  if (type === 'DATE') return nullable((value) => dateText((value as SfDate).getEpochSeconds()));
  if (type === 'TIME')
    return nullable((value) =>
      clockText((value as SfTime).getMidnightSeconds(), (value as SfTime).getNanoSeconds(), 6),
    );
  if (type === 'BOOLEAN') return nullable((value) => (value === true || value === 'TRUE' ? 't' : 'f'));
  if (type === 'BINARY') return nullable((value) => `\\x${Buffer.from(value as Uint8Array).toString('hex')}`);
  if (FETCHED_AS_STRING.has(type))
    // fetchAsString turns a null into the text NULL, which no number and no JSON text can be.
    return (value) => (value === null || value === undefined || value === 'NULL' ? null : String(value));
  return nullable((value) => (typeof value === 'string' ? value : JSON.stringify(value)));
}

/** The information_schema types the SDK hands over as text (fetchAsString `Number` and `JSON`). */
const FETCHED_AS_STRING = new Set([
  'NUMBER',
  'DECIMAL',
  'NUMERIC',
  'FLOAT',
  'REAL',
  'DOUBLE',
  'VARIANT',
  'OBJECT',
  'ARRAY',
]);
