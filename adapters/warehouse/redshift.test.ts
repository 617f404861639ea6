import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { postgresCsvRecord } from '../csv.ts';
import { openLocalStore } from '../storage/local.ts';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.ts';
import { openSqlDatabase } from './index.ts';
import {
  locateInLoadErrors,
  redshiftCopyStatement,
  redshiftLoadError,
  redshiftSettings,
} from './redshift.ts';
import { BulkLoadError, type SqlDatabase } from './sql-database.ts';

const ROLE = 'arn:aws:iam::123456789012:role/ecomm-warehouse-copy';
const HOST = 'ecomm.123456789012.eu-west-1.redshift-serverless.amazonaws.com';

describe('redshiftCopyStatement', () => {
  it('loads one S3 CSV with a header, empty fields as NULL and ISO dates and times', () => {
    expect(
      redshiftCopyStatement({
        table: 'bronze.orders',
        columns: ['order_id', 'status', '_batch_id'],
        location: "s3://ecomm-lake/staging/source=orders/ingestion_date=2026-01-02/orders_o'1.csv",
        iamRole: ROLE,
        region: 'eu-west-1',
      }),
    ).toBe(
      [
        'COPY bronze.orders ("order_id", "status", "_batch_id")',
        "FROM 's3://ecomm-lake/staging/source=orders/ingestion_date=2026-01-02/orders_o''1.csv'",
        `IAM_ROLE '${ROLE}'`,
        'FORMAT AS CSV',
        'IGNOREHEADER 1',
        "NULL AS ''",
        "DATEFORMAT 'auto'",
        "TIMEFORMAT 'auto'",
        "REGION 'eu-west-1'",
      ].join('\n'),
    );
  });

  it("uses the namespace's default role and the warehouse's region when the URL names none", () => {
    const statement = redshiftCopyStatement({ table: 't', columns: ['a'], location: 's3://b/k.csv' });
    expect(statement).toContain('\nIAM_ROLE default\n');
    expect(statement).not.toContain('REGION');
  });

  it('refuses a lake that is not S3, a malformed role, and keys with backslashes', () => {
    const copy = { table: 't', columns: ['a'], iamRole: ROLE };
    expect(() => redshiftCopyStatement({ ...copy, location: '/data/lake/staging/a.csv' })).toThrow(
      'Redshift COPY reads only from S3, not /data/lake/staging/a.csv: set LAKE_URL to an s3:// lake',
    );
    expect(() => redshiftCopyStatement({ ...copy, location: 's3://b/k', iamRole: "x' --" })).toThrow(
      /iamRole must be an IAM role ARN/,
    );
    expect(() => redshiftCopyStatement({ ...copy, location: 's3://b/a\\b.csv' })).toThrow(/cannot use/);
  });
});

describe('a row Redshift refuses', () => {
  const object = { store: {} as ObjectStore, key: 'staging/source=customers/x.csv' };
  const refusal = Object.assign(
    new Error("Load into table 'customers' failed.  Check 'stl_load_errors' system table for details."),
    {
      code: 'XX000',
      detail: [
        '  -----------------------------------------------',
        '  error:  String length exceeds DDL length',
        '  code:      1204',
        '  query:     81754',
        '  location:  funcs_string.hpp:395',
        '  -----------------------------------------------',
      ].join('\n'),
    },
  );

  it('becomes a BulkLoadError with the COPY query id; other errors pass unchanged', () => {
    const error = redshiftLoadError(refusal, 'bronze.customers', object);
    expect(error).toBeInstanceOf(BulkLoadError);
    expect(error).toMatchObject({ table: 'bronze.customers', queryId: 81754, line: null, code: 'XX000' });
    expect((error as BulkLoadError).cause).toBe(refusal);
    const dropped = Object.assign(new Error('Connection terminated unexpectedly'), { code: '08006' });
    expect(redshiftLoadError(dropped, 'bronze.customers', object)).toBe(dropped);
  });

  it('is located in stl_load_errors once its transaction has ended: line, column and reason', async () => {
    const asked: { text: string; params: unknown[] }[] = [];
    const client = {
      async query(text: string, params: unknown[]) {
        asked.push({ text, params });
        return {
          rows: [
            { line_number: 3, colname: 'street_address', err_reason: 'String length exceeds DDL length' },
          ],
        };
      },
    } as unknown as pg.ClientBase;
    const refused = redshiftLoadError(refusal, 'bronze.customers', object) as BulkLoadError;
    await locateInLoadErrors(client, refused);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.text).toMatch(/from stl_load_errors\s+where query = \$1/);
    expect(asked[0]?.params).toEqual([81754]);
    expect(refused).toMatchObject({ line: 3, column: 'street_address' });
    expect(refused.message).toBe('String length exceeds DDL length');

    const unknown = new BulkLoadError('refused', { table: 'bronze.customers', object });
    await locateInLoadErrors(client, unknown);
    expect(asked[1]?.text).toMatch(/where query = pg_last_copy_id\(\)/);
    expect(asked[1]?.params).toEqual([]);
  });
});

describe('redshift:// settings', () => {
  it('reads iamRole and region, and takes the region from a serverless host name by default', () => {
    expect(
      redshiftSettings(`redshift://admin@${HOST}:5439/dev?iamRole=${ROLE}&region=us-east-1`, 'X'),
    ).toEqual({
      iamRole: ROLE,
      region: 'us-east-1',
    });
    expect(redshiftSettings(`redshift://admin@${HOST}/dev`, 'X')).toEqual({ region: 'eu-west-1' });
    expect(redshiftSettings('redshift://admin@c1.abc.us-west-2.redshift.amazonaws.com/dev', 'X').region).toBe(
      'us-west-2',
    );
  });

  it('rejects a bad role or parameter naming the setting, before connecting', async () => {
    await expect(
      openSqlDatabase('WAREHOUSE_URL', `redshift://admin@${HOST}/dev?iamRole=admin`),
    ).rejects.toThrow(/^WAREHOUSE_URL: iamRole must be an IAM role ARN/);
    await expect(openSqlDatabase('WAREHOUSE_URL', `redshift://admin@${HOST}/dev?iam_role=x`)).rejects.toThrow(
      /^WAREHOUSE_URL: unknown URL parameter\(s\) iam_role/,
    );
  });
});

describe('postgresCsvRecord', () => {
  it('prints NULL, empty strings, quotes, separators and line breaks as PostgreSQL COPY CSV does', () => {
    expect(
      postgresCsvRecord(['1', null, '', 'a,b', 'say "hi"', 'x\ny', 'x\ry', ' lead', '\\.', '日本']),
    ).toBe('1,,"","a,b","say ""hi""","x\ny","x\ry", lead,\\.,日本\n');
    expect(postgresCsvRecord(['\\.'])).toBe('"\\."\n');
    expect(postgresCsvRecord([null])).toBe('\n');
  });
});

/** The Redshift backend's own code paths, run over the wire against PostgreSQL (no Redshift here). */
describe('Redshift backend over a PostgreSQL server', () => {
  const env = loadServiceEnv();
  const asRedshift = `${env.TEST_PG_URL.replace(/^postgres:/, 'redshift:')}?sslmode=disable&iamRole=${ROLE}`;
  const table = `redshift_${Math.random().toString(36).slice(2, 8)}`;
  let redshift: SqlDatabase;
  let postgres: SqlDatabase;
  beforeAll(async () => {
    redshift = await openSqlDatabase('WAREHOUSE_URL', asRedshift);
    postgres = await openSqlDatabase('WAREHOUSE_URL', env.TEST_PG_URL);
    await postgres.exec(`create table ${table} (id integer, label varchar(100), at timestamptz, amount numeric(12, 2),
      day date, flag boolean, ratio double precision)`);
    await postgres.exec(`insert into ${table}
      select n, case n % 5 when 0 then null when 1 then '' when 2 then 'a,"b"' when 3 then E'two\\nlines'
        else 'plain ' || n end,
        cast('2026-01-02 03:04:05.123456+00' as timestamptz) + n * interval '1 minute', n * 1.25,
        cast('2026-01-01' as date) + n, n % 2 = 0, n / 3.0
      from generate_series(1, 2500) as n`);
  });
  afterAll(async () => {
    await postgres?.exec(`drop table if exists ${table}`);
    await Promise.all([redshift?.close(), postgres?.close()]);
  });

  async function text(stream: Readable): Promise<string> {
    let out = '';
    for await (const chunk of stream) out += chunk.toString();
    return out;
  }

  it('speaks the redshift dialect, with its locking, and keeps the same row shapes', async () => {
    expect(redshift.dialect).toBe('redshift');
    // Its LOCK blocks readers, and writers of one table abort one another (serializable isolation).
    expect(redshift.concurrency).toEqual({ connections: 4, locksBlockReaders: true, writersConflict: true });
    const [row] = await redshift.query(`select id, amount, day from ${table} where id = 4`);
    expect(row).toEqual({ id: 4, amount: '5.00', day: new Date('2026-01-05T00:00:00Z') });
  });

  it('streams a query as CSV byte for byte like COPY TO STDOUT, across many FETCH batches', async () => {
    const select = `select id, label, at, amount, day, flag, ratio, null as nothing from ${table} order by id`;
    const viaCursor = await text(redshift.copyToCsv(select));
    expect(viaCursor).toBe(await text(postgres.copyToCsv(select)));
    expect(viaCursor.split('\n')[0]).toBe('id,label,at,amount,day,flag,ratio,nothing');
    expect(await text(redshift.copyToCsv(`select id from ${table} where id < 0`))).toBe('id\n');
  });

  it('streams through a cursor inside a transaction without ending it', async () => {
    const csv = await redshift.transaction(async (tx) => {
      await tx.query(`update ${table} set label = 'in tx' where id = 1`);
      const out = await text(tx.copyToCsv(`select id, label from ${table} where id = 1`));
      await tx.query(`update ${table} set label = '' where id = 1`);
      return out;
    });
    expect(csv).toBe('id,label\n1,in tx\n');
  });

  it('refuses to COPY from a lake that is not S3', async () => {
    const lake = openLocalStore(`file://${mkdtempSync(join(tmpdir(), 'redshift-'))}`);
    await lake.put('staging/a.csv', 'id\n1\n');
    await expect(redshift.copyFromCsv(table, ['id'], { store: lake, key: 'staging/a.csv' })).rejects.toThrow(
      /^Redshift COPY reads only from S3, not .*staging\/a\.csv: set LAKE_URL to an s3:\/\/ lake$/,
    );
  });

  it('refuses a key that is the prefix of another object, which COPY would load too', async () => {
    const keys = ['staging/b_1.csv', 'staging/b_1.csv.bak'];
    const s3Like: ObjectStore = {
      url: 's3://lake',
      locate: (key) => `s3://lake/${key}`,
      async *list(prefix) {
        for (const key of keys.filter((k) => k.startsWith(prefix)))
          yield { key, size: 1, lastModified: new Date() } satisfies ObjectInfo;
      },
      get: async () => Readable.from([]),
      put: async () => ({ key: '', size: 0, lastModified: new Date() }),
      head: async () => undefined,
      delete: async () => {},
      close: async () => {},
    };
    await expect(
      redshift.copyFromCsv(table, ['id'], { store: s3Like, key: 'staging/b_1.csv' }),
    ).rejects.toThrow(
      'Redshift COPY of staging/b_1.csv would also load staging/b_1.csv.bak (COPY reads a key prefix)',
    );
  });
});
