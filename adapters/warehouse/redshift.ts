/**
 * Amazon Redshift (`redshift://`): the AWS warehouse. The same pg driver and connection handling as PostgreSQL
 * (postgres.ts); only the bulk paths differ, because Redshift has no COPY FROM STDIN and no COPY TO STDOUT:
 * it loads straight from S3 with its own COPY, and a CSV export is streamed through a cursor.
 */
import type pg from 'pg';
import { postgresCsvRecord } from '../csv.ts';
import { quoteIdent } from './pglite.ts';
import { type EngineProfile, openPgWire, type PgWireOptions, parsePgWireUrl } from './postgres.ts';
import { BulkLoadError, type CsvObject, type SqlDatabase } from './sql-database.ts';

/** Rows per FETCH: Redshift caps FETCH FORWARD at 1000 on single-node clusters. */
const FETCH_ROWS = 1000;

const IAM_ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
/** `workgroup.account.region.redshift-serverless.amazonaws.com` or `cluster.id.region.redshift.amazonaws.com`. */
const REGION_IN_HOST = /\.([a-z]{2}(?:-[a-z]+)+-\d)\.redshift(?:-serverless)?\.amazonaws\.com(?:\.cn)?$/;

export interface RedshiftCopy {
  table: string;
  columns: string[];
  /** `s3://bucket/key` of one CSV object with a header line. */
  location: string;
  /** IAM role Redshift assumes to read the bucket; undefined means the namespace's default role. */
  iamRole?: string;
  /** Region of the bucket, when it is not the warehouse's own. */
  region?: string;
}

/**
 * Redshift's COPY of one staged CSV, options chosen to read it the way PostgreSQL's COPY CSV does:
 * - FORMAT AS CSV: RFC 4180 quoting, `""` inside quotes, quoted commas and line breaks.
 * - IGNOREHEADER 1: the staged CSV starts with a header line (PostgreSQL: HEADER true).
 * - NULL AS '': an empty field is NULL, as PostgreSQL's unquoted empty field. It also replaces Redshift's default
 *   null marker `\N`, which PostgreSQL's CSV reads as the two characters `\N`.
 *   Difference: Redshift documents no way to tell a quoted `""` from an empty field (EMPTYASNULL and NULL AS ''
 *   "produce the same behavior" and EMPTYASNULL nulls quoted empties too), so an empty string may arrive as NULL.
 *   Bronze is all text and silver turns empty text into NULL (`nullif(trim(x), '')`), so silver and gold agree.
 * - DATEFORMAT/TIMEFORMAT 'auto': ISO dates and timestamps with offsets, as PostgreSQL's input functions read them.
 * - No ACCEPTINVCHARS, TRUNCATECOLUMNS or MAXERROR: bad bytes or overlong values fail the load, as on PostgreSQL.
 */
export function redshiftCopyStatement(copy: RedshiftCopy): string {
  if (!copy.location.startsWith('s3://')) {
    throw new Error(`Redshift COPY reads only from S3, not ${copy.location}: set LAKE_URL to an s3:// lake`);
  }
  if (copy.iamRole !== undefined && !IAM_ROLE_ARN.test(copy.iamRole)) {
    throw new Error(
      `iamRole must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got "${copy.iamRole}"`,
    );
  }
  if (copy.region !== undefined && !AWS_REGION.test(copy.region)) {
    throw new Error(`region must be an AWS region such as eu-west-1, got "${copy.region}"`);
  }
  return [
    `COPY ${copy.table} (${copy.columns.map(quoteIdent).join(', ')})`,
    `FROM ${literal(copy.location)}`,
    copy.iamRole === undefined ? 'IAM_ROLE default' : `IAM_ROLE ${literal(copy.iamRole)}`,
    'FORMAT AS CSV',
    'IGNOREHEADER 1',
    "NULL AS ''",
    "DATEFORMAT 'auto'",
    "TIMEFORMAT 'auto'",
    ...(copy.region === undefined ? [] : [`REGION ${literal(copy.region)}`]),
  ].join('\n');
}

/** A string literal; backslashes and control characters are refused (Redshift and PostgreSQL read them apart). */
function literal(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\\\u0000-\u001f\u007f]/.test(text))
    throw new Error(`cannot use "${text}" in a Redshift COPY statement`);
  return `'${text.replaceAll("'", "''")}'`;
}

/** Every value as the server's text output (what COPY prints), no JS conversion in between. */
const SERVER_TEXT: pg.CustomTypesConfig = { getTypeParser: (() => (value: string) => value) as never };
let cursorCount = 0;

/** CSV of a SELECT through a cursor, FETCH_ROWS at a time: Redshift has no COPY TO STDOUT. */
async function* cursorCsv(client: pg.ClientBase, selectSql: string, inTransaction: boolean) {
  cursorCount += 1;
  const cursor = `ecomm_csv_${cursorCount}`;
  // Cursors live only inside a transaction; inside the caller's transaction the caller owns COMMIT/ROLLBACK.
  if (!inTransaction) await client.query('BEGIN');
  try {
    await client.query(`DECLARE ${cursor} CURSOR FOR ${selectSql}`);
    for (let first = true; ; first = false) {
      const batch = await client.query<(string | null)[]>({
        text: `FETCH FORWARD ${FETCH_ROWS} FROM ${cursor}`,
        rowMode: 'array',
        types: SERVER_TEXT,
      });
      if (first) yield postgresCsvRecord(batch.fields.map((field) => field.name));
      if (batch.rows.length > 0) yield batch.rows.map(postgresCsvRecord).join('');
      if (batch.rows.length < FETCH_ROWS) break;
    }
    await client.query(`CLOSE ${cursor}`);
    if (!inTransaction) await client.query('COMMIT');
  } catch (error) {
    if (!inTransaction) await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/**
 * Redshift COPY loads every object whose key starts with the given one (`batch_1.csv` would also load
 * `batch_1.csv.bak`): refuse when the lake holds any such neighbour, so a load never takes more than its batch.
 */
async function assertSingleObject(source: CsvObject): Promise<void> {
  for await (const info of source.store.list(source.key)) {
    if (info.key !== source.key) {
      throw new Error(
        `Redshift COPY of ${source.key} would also load ${info.key} (COPY reads a key prefix): ` +
          'rename or remove it',
      );
    }
  }
}

function redshiftEngine({ iamRole, region }: RedshiftSettings): EngineProfile {
  return {
    dialect: 'redshift',
    locking: { locksBlockReaders: true, writersConflict: true },
    defaultPort: 5439,
    defaultTls: true,
    params: ['iamRole', 'region'],
    async copyFromCsv(client, table, columns, source) {
      const location = source.store.locate(source.key);
      const statement = redshiftCopyStatement({ table, columns, location, iamRole, region });
      await assertSingleObject(source);
      await client.query(statement).catch((error: unknown) => {
        throw redshiftLoadError(error, table, source);
      });
      // Same session, right after the COPY: the rows that COPY loaded.
      const [row] = (await client.query<{ loaded: number }>('select pg_last_copy_count() as loaded')).rows;
      return Number(row?.loaded ?? 0);
    },
    copyToCsv: cursorCsv,
    locateRefusedRow: locateInLoadErrors,
  };
}

/**
 * Redshift answers a refused row with XX000 "Load into table … failed. Check 'stl_load_errors'"; its DETAIL
 * carries the COPY's query id. Other errors are returned unchanged.
 */
export function redshiftLoadError(error: unknown, table: string, object: CsvObject): unknown {
  const { message, detail } = error as { message?: unknown; detail?: unknown };
  if (!/stl_load_errors/i.test(String(message ?? ''))) return error;
  const query = /\bquery:\s*(\d+)/.exec(String(detail ?? ''))?.[1];
  return new BulkLoadError(
    String(message),
    { table, object, code: (error as { code?: string }).code, queryId: query ? Number(query) : undefined },
    { cause: error },
  );
}

/**
 * The first refused row of the COPY from stl_load_errors (the session's last COPY when the query id is unknown):
 * its line (counted like PostgreSQL's, the header being line 1), column and reason.
 */
export async function locateInLoadErrors(client: pg.ClientBase, refused: BulkLoadError): Promise<void> {
  const { rows } = await client.query<{ line_number: unknown; colname: unknown; err_reason: unknown }>(
    `select line_number, trim(colname) as colname, trim(err_reason) as err_reason from stl_load_errors
     where query = ${refused.queryId === undefined ? 'pg_last_copy_id()' : '$1'}
     order by line_number limit 1`,
    refused.queryId === undefined ? [] : [refused.queryId],
  );
  const [row] = rows;
  if (!row) return;
  refused.line = row.line_number === null ? null : Number(row.line_number);
  refused.column = row.colname ? String(row.colname) : null;
  if (row.err_reason) refused.message = String(row.err_reason);
}

export interface RedshiftSettings {
  iamRole?: string;
  region?: string;
}

/** The COPY settings of a redshift:// URL; throws naming the setting when they are malformed. */
export function redshiftSettings(url: string, setting: string): RedshiftSettings {
  const { params, config } = parsePgWireUrl(url, setting, redshiftEngine({}));
  const settings: RedshiftSettings = {
    iamRole: params.get('iamRole') ?? undefined,
    region: params.get('region') ?? REGION_IN_HOST.exec(String(config.host))?.[1],
  };
  try {
    redshiftCopyStatement({ table: 't', columns: [], location: 's3://check/key', ...settings });
  } catch (error) {
    throw new Error(`${setting}: ${(error as Error).message}`);
  }
  return settings;
}

/**
 * `redshift://user[:pass]@<workgroup>.<account>.<region>.redshift-serverless.amazonaws.com:5439/dev`
 * `?iamRole=arn:aws:iam::<account>:role/<name>&region=<bucket region>&sslmode=verify-full&passwordSecret=<name>`.
 * iamRole defaults to the namespace's default IAM role; region defaults to the one in the host name. TLS is on
 * and verified unless sslmode says otherwise.
 */
export async function openRedshift(url: string, options: PgWireOptions = {}): Promise<SqlDatabase> {
  const settings = redshiftSettings(url, options.setting ?? 'database URL');
  return openPgWire(url, options, redshiftEngine(settings));
}
