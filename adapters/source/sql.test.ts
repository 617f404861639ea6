import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/pg-database.ts';
import { openSqlDatabase } from '../warehouse/index.ts';
import { openPglite } from '../warehouse/pglite.ts';
import type { SqlDatabase } from '../warehouse/sql-database.ts';
import { openSourceConnector, SOURCE_SCHEMES } from './index.ts';
import {
  MissingStreamsError,
  type SourceConnector,
  type SourceStream,
  type WindowRequest,
} from './source-connector.ts';

/** A composite key and a quoted name: the connector must quote every identifier. */
const LINES: SourceStream = {
  name: 'order_lines',
  remoteName: 'Order Lines',
  columns: ['order_id', 'line', 'note', 'updated_at'],
  primaryKey: ['order_id', 'line'],
  cursor: 'updated_at',
};

const FIRST: WindowRequest = { after: null, lookbackSeconds: 0, safetyLagSeconds: 0 };

interface Engine {
  /** Where the test writes the rows the connector reads. */
  db: SqlDatabase;
  connector: SourceConnector;
  url: string;
  dispose(): Promise<void>;
}

const engines: [string, () => Promise<Engine>][] = [
  [
    'PGlite',
    async () => {
      // One in-memory database, shared: the connector reads through the test's connection (as the jobs' context).
      const db = await openPglite('pglite://memory');
      const connector = await openSourceConnector('SOURCE_URL', 'pglite://memory', { database: db });
      return {
        db,
        connector,
        url: 'pglite://memory',
        dispose: async () => {
          await connector.close();
          await db.close();
        },
      };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const database: TestDatabase = await createTestDatabase('source_sql');
      const db = await openSqlDatabase('SOURCE_URL', database.url);
      // Its own connection, opened from the URL like any other source.
      const connector = await openSourceConnector('HISTORY_SOURCE_URL', database.url);
      return {
        db,
        connector,
        url: database.url,
        dispose: async () => {
          await connector.close();
          await db.close();
          await database.dispose();
        },
      };
    },
  ],
];

/** What a window hands its writer: the CSV text, and the rows a writer would count (no newline in the test data). */
async function readWindow(
  connector: SourceConnector,
  request: WindowRequest,
): Promise<{ csv: string | null; window: Awaited<ReturnType<SourceConnector['readWindow']>> }> {
  let csv: string | null = null;
  const window = await connector.readWindow(LINES, request, async (chunks) => {
    csv = await text(chunks);
    return csv.split('\n').length - 2;
  });
  return { csv, window };
}

describe('SOURCE_SCHEMES', () => {
  it('names the Postgres-wire backends, but not Redshift: it has no COPY TO STDOUT', () => {
    expect(SOURCE_SCHEMES).toEqual(expect.arrayContaining(['pglite', 'postgres', 'postgresql']));
    expect(SOURCE_SCHEMES).not.toContain('redshift');
  });

  it('refuses another scheme, naming the setting', async () => {
    await expect(openSourceConnector('CRM_SOURCE_URL', 'ftp://crm')).rejects.toThrow(
      /CRM_SOURCE_URL: unsupported URL "ftp:\/\/crm"; expected one of pglite:\/\//,
    );
  });
});

describe.each(engines)('SQL source on %s', (_engine, open) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await open();
    await engine.db.exec(`
      create table "Order Lines" (order_id integer, line integer, note text, updated_at timestamptz, extra text);
      insert into "Order Lines" values
        (2, 1, 'b', '2024-01-01 00:00:02+00', 'x'),
        (1, 2, 'tie, quoted', '2024-01-01 00:00:03+00', 'x'),
        (1, 1, null, '2024-01-01 00:00:01+00', 'x'),
        (3, 1, 'tie', '2024-01-01 00:00:03+00', 'x');`);
  }, 60_000);
  afterAll(async () => {
    await engine?.dispose();
  });

  it('names the missing tables, the setting and the URL without its password', async () => {
    await engine.connector.check([LINES]);
    const missing = { ...LINES, remoteName: 'nope' };
    const error = await engine.connector.check([LINES, missing]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MissingStreamsError);
    expect((error as MissingStreamsError).missing).toEqual(['nope']);
    expect((error as Error).message).toMatch(/^source tables missing in [A-Z_]*SOURCE_URL \S+: nope$/);
    const password = new URL(engine.url).password;
    if (password) expect((error as Error).message).not.toContain(`:${password}@`);
  });

  it('reads a first window up to the newest cursor, every tie in it, in cursor then key order', async () => {
    const { csv, window } = await readWindow(engine.connector, FIRST);
    expect(window).toEqual({ upTo: '2024-01-01 00:00:03+00', rereadFrom: null, rows: 4, reread: 0 });
    // Exactly COPY's CSV of the declared columns (not `extra`): the raw bytes downstream depends on.
    expect(csv).toBe(
      'order_id,line,note,updated_at\n' +
        '1,1,,2024-01-01 00:00:01+00\n' +
        '2,1,b,2024-01-01 00:00:02+00\n' +
        '1,2,"tie, quoted",2024-01-01 00:00:03+00\n' +
        '3,1,tie,2024-01-01 00:00:03+00\n',
    );
  });

  it('hands nothing to the writer when nothing is newer than the checkpoint', async () => {
    const { csv, window } = await readWindow(engine.connector, {
      ...FIRST,
      after: '2024-01-01 00:00:03+00',
      lookbackSeconds: 3600,
    });
    expect(csv).toBeNull();
    expect(window).toEqual({ upTo: null, rereadFrom: null, rows: 0, reread: 0 });
  });

  it('re-reads the lookback behind the checkpoint and counts those rows', async () => {
    await engine.db.exec(`insert into "Order Lines" values (4, 1, 'new', '2024-01-01 00:00:05+00', 'x')`);
    const { csv, window } = await readWindow(engine.connector, {
      ...FIRST,
      after: '2024-01-01 00:00:03+00',
      lookbackSeconds: 1.5,
    });
    // (00:00:01.5, 00:00:05]: the rows at 00:00:02 and 00:00:03 again and the new one, not the one at 00:00:01.
    expect(window).toEqual({
      upTo: '2024-01-01 00:00:05+00',
      rereadFrom: '2024-01-01 00:00:01.5+00',
      rows: 4,
      reread: 3,
    });
    expect(csv?.split('\n').slice(1, -1)).toEqual([
      '2,1,b,2024-01-01 00:00:02+00',
      '1,2,"tie, quoted",2024-01-01 00:00:03+00',
      '3,1,tie,2024-01-01 00:00:03+00',
      '4,1,new,2024-01-01 00:00:05+00',
    ]);
  });

  it('leaves rows younger than the safety lag, with every row sharing their cursor, to a later window', async () => {
    await engine.db.exec(`insert into "Order Lines" values
      (5, 1, 'young', now() - interval '10 seconds', 'x'),
      (5, 2, 'young tie', now() - interval '10 seconds', 'x')`);
    const held = await readWindow(engine.connector, {
      after: '2024-01-01 00:00:05+00',
      lookbackSeconds: 0,
      safetyLagSeconds: 60,
    });
    expect(held.window.upTo).toBeNull();
    const { window } = await readWindow(engine.connector, {
      after: '2024-01-01 00:00:05+00',
      lookbackSeconds: 0,
      safetyLagSeconds: 0,
    });
    expect(window.rows).toBe(2);
    expect(window.reread).toBe(0);
  });

  it('counts the rows no window can read (cursor null or in the future), with their first keys', async () => {
    expect(await engine.connector.unreadable(LINES)).toEqual({ count: 0, sample: [] });
    await engine.db.exec(`insert into "Order Lines" values
      (9, 2, 'future', '2999-01-01 00:00:00+00', 'x'),
      (9, 1, 'no cursor', null, 'x')`);
    expect(await engine.connector.unreadable(LINES)).toEqual({
      count: 2,
      sample: ['9|1 (null)', '9|2 (2999-01-01 00:00:00+00)'],
    });
    // And no window reads them.
    const { window } = await readWindow(engine.connector, FIRST);
    expect(window.upTo).not.toBe('2999-01-01 00:00:00+00');
    expect(window.rows).toBe(7);
  });
});
