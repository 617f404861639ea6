import { randomBytes } from 'node:crypto';
import snowflake from 'snowflake-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { openEnvSecrets } from '../secrets/env.ts';
import { openSourceConnector } from './index.ts';
import { openSnowflakeSource, parseSnowflakeUrl } from './snowflake.ts';
import {
  MissingStreamsError,
  type SourceConnector,
  type SourceStream,
  type WindowWriter,
} from './source-connector.ts';

// Fails (not skips) without the local services, as the other service suites do: `npm run services:up`.
const env = loadServiceEnv();
if (!env.TEST_SNOWFLAKE_URL)
  throw new Error(
    'TEST_SNOWFLAKE_URL missing from .services/env.json: run `npm run services:up` (starts fakesnow)',
  );
const SETTING = 'SNOWFLAKE_SOURCE_URL';
const secrets = openEnvSecrets('env://', { TEST_SNOWFLAKE_PASSWORD: env.TEST_SNOWFLAKE_PASSWORD });
/** fakesnow keeps tables in memory across test runs until it restarts: each run has its own. */
const RUN = randomBytes(4).toString('hex').toUpperCase();
const ORDERS = `ORDERS_${RUN}`;
const EVENTS = `EVENTS_${RUN}`;

const orders: SourceStream = {
  name: 'crm_orders',
  remoteName: ORDERS.toLowerCase(),
  columns: ['id', 'note', 'amount', 'paid', 'day', 'updated_at'],
  primaryKey: ['id'],
  cursor: 'updated_at',
};
const events: SourceStream = {
  name: 'crm_events',
  remoteName: EVENTS,
  columns: ['event_id', 'occurred_at'],
  primaryKey: ['event_id'],
  cursor: 'occurred_at',
};

let admin: snowflake.Connection;
let source: SourceConnector;

function exec(sqlText: string, binds: (string | number)[] = []): Promise<unknown[]> {
  return new Promise((resolve, reject) =>
    admin.execute({
      sqlText,
      binds,
      complete: (error, _statement, rows) => (error ? reject(error) : resolve(rows ?? [])),
    }),
  );
}

/** A writer that keeps the CSV, as the extract's lake writer would store it. */
function collect(): { write: WindowWriter; text: () => string } {
  let text = '';
  return {
    write: async (csv) => {
      for await (const chunk of csv) text += chunk.toString('utf8');
      return Math.max(0, text.split('\n').length - 2);
    },
    text: () => text,
  };
}

const window = { lookbackSeconds: 0, safetyLagSeconds: 60 };

beforeAll(async () => {
  snowflake.configure({ logLevel: 'OFF' });
  const url = parseSnowflakeUrl(SETTING, env.TEST_SNOWFLAKE_URL);
  admin = snowflake.createConnection({
    account: url.account,
    username: env.TEST_SNOWFLAKE_USER,
    password: env.TEST_SNOWFLAKE_PASSWORD,
    accessUrl: env.TEST_SNOWFLAKE_ENDPOINT,
  });
  await new Promise((resolve, reject) => admin.connect((error, c) => (error ? reject(error) : resolve(c))));
  await exec(`create database if not exists ${url.database}`);
  await exec(`create schema if not exists ${url.database}.${url.schema}`);
  await exec(`use schema ${url.database}.${url.schema}`);
  await exec(
    `create table ${ORDERS} (id integer, note varchar, amount number(10,2), paid boolean, day date, updated_at timestamp_ntz)`,
  );
  await exec(
    `insert into ${ORDERS} values
       (1, 'first', 12.50, true, '2026-01-02', '2026-01-02 10:00:00'),
       (2, 'a "quoted", note', 0.10, false, null, '2026-01-02 11:00:00.123456'),
       (3, '', null, null, '2026-01-03', '2026-01-02 12:00:00'),
       (4, 'NULL', 7.00, true, '2026-01-03', '2026-01-02 12:00:00')`,
  );
  await exec(`create table ${EVENTS} (event_id integer, occurred_at timestamp_tz)`);
  await exec(
    `insert into ${EVENTS} values (1, '2026-01-02 10:00:00.5+02:00'), (2, '2026-01-02 09:00:00.5+00:00')`,
  );
  source = await openSnowflakeSource(SETTING, env.TEST_SNOWFLAKE_URL, { secrets });
}, 60_000);

afterAll(async () => {
  await source?.close();
  await new Promise((resolve) => admin?.destroy(resolve));
});

describe('Snowflake source (fakesnow)', () => {
  it('passes check() for present tables, names resolved as Snowflake stores them', async () => {
    await expect(source.check([orders, events])).resolves.toBeUndefined();
  });

  it('reads a first window: the stream columns in order, values as the PostgreSQL extract writes them', async () => {
    const out = collect();
    const read = await source.readWindow(orders, { after: null, ...window }, out.write);
    expect(read).toEqual({ upTo: '2026-01-02 12:00:00', rereadFrom: null, rows: 4, reread: 0 });
    expect(out.text()).toBe(
      [
        'id,note,amount,paid,day,updated_at',
        '1,first,12.50,t,2026-01-02,2026-01-02 10:00:00',
        '2,"a ""quoted"", note",0.10,f,,2026-01-02 11:00:00.123456',
        // ties on the last cursor value are both in the window, in key order; a null number is empty, the text NULL stays
        '3,"",,,2026-01-03,2026-01-02 12:00:00',
        '4,NULL,7.00,t,2026-01-03,2026-01-02 12:00:00',
        '',
      ].join('\n'),
    );
  });

  it('never splits ties: a window ends after every row sharing its last cursor value', async () => {
    const out = collect();
    const read = await source.readWindow(
      orders,
      { after: '2026-01-02 11:00:00.123456', ...window },
      out.write,
    );
    expect(read.upTo).toBe('2026-01-02 12:00:00');
    expect(out.text().split('\n').slice(1, -1)).toEqual([
      '3,"",,,2026-01-03,2026-01-02 12:00:00',
      '4,NULL,7.00,t,2026-01-03,2026-01-02 12:00:00',
    ]);
  });

  it('reads nothing, and writes nothing, when nothing is newer than the checkpoint', async () => {
    let called = false;
    const read = await source.readWindow(orders, { after: '2026-01-02 12:00:00', ...window }, async () => {
      called = true;
      return 0;
    });
    expect(read).toEqual({ upTo: null, rereadFrom: null, rows: 0, reread: 0 });
    expect(called).toBe(false);
  });

  it('leaves rows younger than the safety lag to a later window', async () => {
    await exec(`insert into ${ORDERS} values (5, 'fresh', 1.00, true, null, dateadd(second, -5, sysdate()))`);
    const out = collect();
    const read = await source.readWindow(
      orders,
      { after: '2026-01-02 12:00:00', lookbackSeconds: 0, safetyLagSeconds: 3600 },
      out.write,
    );
    expect(read.upTo).toBeNull();
    const later = await source.readWindow(
      orders,
      { after: '2026-01-02 12:00:00', lookbackSeconds: 0, safetyLagSeconds: 0 },
      collect().write,
    );
    expect(later.rows).toBe(1);
    await exec(`delete from ${ORDERS} where id = 5`);
  });

  it('re-reads behind the checkpoint by the lookback: a late commit with an older cursor is caught', async () => {
    await exec(
      `insert into ${ORDERS} values
         (6, 'late', 2.00, false, null, '2026-01-02 11:59:30'),
         (7, 'new', 3.00, true, null, '2026-01-02 13:00:00')`,
    );
    const out = collect();
    const read = await source.readWindow(
      orders,
      { after: '2026-01-02 12:00:00', lookbackSeconds: 60, safetyLagSeconds: 60 },
      out.write,
    );
    expect(read).toEqual({
      upTo: '2026-01-02 13:00:00',
      rereadFrom: '2026-01-02 11:59:00',
      rows: 4,
      reread: 3,
    });
    expect(
      out
        .text()
        .split('\n')
        .slice(1, -1)
        .map((line) => line.split(',')[0]),
    ).toEqual(['6', '3', '4', '7']);
  });

  it('reads a TIMESTAMP_TZ cursor in UTC, the checkpoint exact and readable back', async () => {
    const out = collect();
    const first = await source.readWindow(events, { after: null, ...window }, out.write);
    expect(first.upTo).toBe('2026-01-02 09:00:00.5+00:00');
    expect(out.text()).toBe('event_id,occurred_at\n1,2026-01-02 08:00:00.5+00\n2,2026-01-02 09:00:00.5+00\n');
    const next = await source.readWindow(events, { after: first.upTo, ...window }, collect().write);
    expect(next.upTo).toBeNull();
  });

  it('counts rows no window can read: cursor null or in the future, with their first keys', async () => {
    await exec(`insert into ${EVENTS} values (9, null), (8, dateadd(day, 1, current_timestamp()))`);
    const unreadable = await source.unreadable(events);
    expect(unreadable.count).toBe(2);
    expect(unreadable.sample).toHaveLength(2);
    expect(unreadable.sample[0]).toMatch(/^8 \(\d{4}-\d{2}-\d{2} [\d:.]+\+00:00\)$/);
    expect(unreadable.sample[1]).toBe('9 (null)');
    await expect(source.unreadable(orders)).resolves.toEqual({ count: 0, sample: [] });
  });

  it('names the missing tables in check()', async () => {
    const missing = { ...orders, name: 'gone', remoteName: 'no_such_table' };
    const failure = await source.check([orders, missing]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MissingStreamsError);
    expect((failure as MissingStreamsError).missing).toEqual(['no_such_table']);
    expect((failure as Error).message).toMatch(
      /source tables missing in SNOWFLAKE_SOURCE_URL .*: no_such_table/,
    );
  });

  it('names a missing column and a cursor of the wrong type', async () => {
    await expect(source.check([{ ...orders, columns: [...orders.columns, 'nope'] }])).rejects.toThrow(
      /lacks column NOPE|lacks column nope/,
    );
    await expect(source.check([{ ...orders, cursor: 'day' }])).rejects.toThrow(
      /DAY is DATE; a cursor must be/,
    );
  });

  it('is opened by openSourceConnector for snowflake:// URLs', async () => {
    const opened = await openSourceConnector(SETTING, env.TEST_SNOWFLAKE_URL, { secrets });
    try {
      expect(opened.kind).toBe('snowflake');
      await expect(opened.check([orders])).resolves.toBeUndefined();
    } finally {
      await opened.close();
    }
  });

  it("refuses a wrong password with Snowflake's message and without the secret", async () => {
    const secret = 'Wr0ng-S3cret-value';
    const wrong = openEnvSecrets('env://', { TEST_SNOWFLAKE_PASSWORD: secret });
    const failure = (await openSnowflakeSource(SETTING, env.TEST_SNOWFLAKE_URL, { secrets: wrong }).catch(
      (error: unknown) => error,
    )) as Error;
    expect(failure).toBeInstanceOf(Error);
    expect(failure.message).toMatch(
      /^SNOWFLAKE_SOURCE_URL snowflake:\/\/.*: cannot log in as ecomm: Incorrect username or password was specified/,
    );
    expect(failure.message).not.toContain(secret);
    expect(String(failure.stack)).not.toContain(secret);
  });
});

describe('parseSnowflakeUrl', () => {
  it('reads account, database, schema and the parameters; host= replaces the account host', () => {
    expect(
      parseSnowflakeUrl(
        SETTING,
        'snowflake://xy12345.eu-west-1/ANALYTICS/HISTORY?warehouse=WH&user=extract&passwordSecret=sf-pw&role=READER&host=http%3A%2F%2F127.0.0.1%3A8080',
      ),
    ).toEqual({
      account: 'xy12345.eu-west-1',
      database: 'ANALYTICS',
      schema: 'HISTORY',
      warehouse: 'WH',
      user: 'extract',
      passwordSecret: 'sf-pw',
      role: 'READER',
      accessUrl: 'http://127.0.0.1:8080',
    });
  });

  it('refuses a password in the URL, unknown parameters and a missing secret name, without echoing secrets', () => {
    expect(() => parseSnowflakeUrl(SETTING, 'snowflake://u:hunter2@acct/DB/S?passwordSecret=x')).toThrow(
      /no credentials in the URL/,
    );
    expect(() => parseSnowflakeUrl(SETTING, 'snowflake://u:hunter2@acct/DB/S?passwordSecret=x')).not.toThrow(
      /hunter2/,
    );
    expect(() =>
      parseSnowflakeUrl(SETTING, 'snowflake://acct/DB/S?user=u&passwordSecret=x&password=p'),
    ).toThrow(/unknown parameter password .*password=\*\*\*/);
    expect(() => parseSnowflakeUrl(SETTING, 'snowflake://acct/DB/S?user=u')).toThrow(/passwordSecret=/);
    expect(() => parseSnowflakeUrl(SETTING, 'snowflake://acct/DB?user=u&passwordSecret=x')).toThrow(
      /<account>\/<database>\/<schema>/,
    );
  });
});
