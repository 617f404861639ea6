import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { openEnvSecrets } from '../secrets/env.ts';
import { openLocalStore } from '../storage/local.ts';
import { ObjectNotFoundError } from '../storage/object-store.ts';
import { sqlDatabaseContract } from './contract.ts';
import { openSqlDatabase } from './index.ts';
import { openPostgres } from './postgres.ts';

// Fails (not skips) without the local services: `npm run services:up`.
const env = loadServiceEnv();
const pgUrl = new URL(env.TEST_PG_URL);
/** The test server's URL with another user:password, port or query. */
function urlWith(change: {
  password?: string;
  port?: string;
  search?: string;
  noPassword?: boolean;
}): string {
  const url = new URL(env.TEST_PG_URL);
  if (change.password !== undefined) url.password = change.password;
  if (change.noPassword) url.password = '';
  if (change.port !== undefined) url.port = change.port;
  if (change.search !== undefined) url.search = change.search;
  return url.toString();
}

sqlDatabaseContract('PostgreSQL', () => openSqlDatabase('WAREHOUSE_URL', env.TEST_PG_URL));

describe('PostgreSQL concurrency', () => {
  it('runs as many statements at once as the pool has connections, one inside a transaction, with readers let through locks', async () => {
    const pooled = await openPostgres(env.TEST_PG_URL, { poolSize: 3 });
    try {
      expect(pooled.concurrency).toEqual({
        connections: 3,
        locksBlockReaders: false,
        writersConflict: false,
      });
      await pooled.transaction(async (tx) => expect(tx.concurrency.connections).toBe(1));
    } finally {
      await pooled.close();
    }
    const byDefault = await openPostgres(env.TEST_PG_URL);
    await byDefault.close();
    expect(byDefault.concurrency.connections).toBe(4);
  });
});

describe('PostgreSQL connection settings', () => {
  it('accepts postgresql:// and prints the URL without its password', async () => {
    const db = await openSqlDatabase('SOURCE_URL', env.TEST_PG_URL.replace(/^postgres:/, 'postgresql:'));
    try {
      expect(db.dialect).toBe('postgres');
      expect(db.url).toContain(':***@');
      expect(db.url).not.toContain(`:${pgUrl.password}@`);
      expect(await db.query('select 1 as one')).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('gives up on an unreachable port after its bounded retries, naming the setting and host only', async () => {
    const started = Date.now();
    const error = await openPostgres(urlWith({ port: '1', password: 'hunter2-secret' }), {
      setting: 'WAREHOUSE_URL',
      connectAttempts: 3,
      connectBaseDelayMs: 5,
    }).catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      `WAREHOUSE_URL postgres://${pgUrl.username}:***@${pgUrl.hostname}:1${pgUrl.pathname}: ` +
        'cannot connect after 3 attempts (ECONNREFUSED)',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fails a wrong password at once, without retrying and without printing it', async () => {
    const started = Date.now();
    const error = await openPostgres(urlWith({ password: 'not-the-password' }), {
      setting: 'SOURCE_URL',
      connectAttempts: 4,
      connectBaseDelayMs: 2_000,
    }).catch((caught: Error) => caught);
    const message = (error as Error).message;
    expect(message).toMatch(
      /^SOURCE_URL postgres:\/\/\w+:\*\*\*@.*: password authentication failed for user "/,
    );
    expect(message).not.toContain('not-the-password');
    // A retry would have waited at least half of the 2 s base delay.
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('reads the password from the secret store named by passwordSecret, plain or as Redshift-style JSON', async () => {
    const secrets = openEnvSecrets('env://', {
      PLAIN_PW: pgUrl.password,
      JSON_PW: JSON.stringify({ username: pgUrl.username, password: pgUrl.password }),
    });
    for (const name of ['PLAIN_PW', 'JSON_PW']) {
      const url = urlWith({ noPassword: true, search: `?sslmode=disable&passwordSecret=${name}` });
      const db = await openSqlDatabase('WAREHOUSE_URL', url, { secrets });
      expect(await db.query('select 2 as two')).toEqual([{ two: 2 }]);
      await db.close();
    }
    await expect(
      openSqlDatabase('WAREHOUSE_URL', urlWith({ noPassword: true, search: '?passwordSecret=PLAIN_PW' })),
    ).rejects.toThrow('WAREHOUSE_URL: passwordSecret=PLAIN_PW needs a secret store (SECRETS_URL)');
  });

  it('sets work_mem on every connection when the URL asks, and refuses a value that is not a size', async () => {
    const db = await openSqlDatabase('WAREHOUSE_URL', urlWith({ search: '?work_mem=64MB' }));
    try {
      const shown = await Promise.all(
        [1, 2, 3].map(() =>
          db.transaction(async (tx) => (await tx.query<{ work_mem: string }>('show work_mem'))[0]?.work_mem),
        ),
      );
      expect(shown).toEqual(['64MB', '64MB', '64MB']);
    } finally {
      await db.close();
    }
    const plain = await openSqlDatabase('WAREHOUSE_URL', env.TEST_PG_URL);
    try {
      expect((await plain.query<{ work_mem: string }>('show work_mem'))[0]?.work_mem).not.toBe('64MB');
    } finally {
      await plain.close();
    }
    await expect(
      openSqlDatabase('WAREHOUSE_URL', urlWith({ search: "?work_mem=64MB';drop table x;--" })),
    ).rejects.toThrow(/^WAREHOUSE_URL: work_mem=.* is not a size such as 64MB/);
  });

  it('turns JIT off on every connection unless the URL says jit=on, and refuses another value', async () => {
    const jitOf = async (url: string) => {
      const db = await openSqlDatabase('WAREHOUSE_URL', url);
      try {
        return await Promise.all(
          [1, 2].map(() =>
            db.transaction(async (tx) => (await tx.query<{ jit: string }>('show jit'))[0]?.jit),
          ),
        );
      } finally {
        await db.close();
      }
    };
    expect(await jitOf(env.TEST_PG_URL)).toEqual(['off', 'off']);
    expect(await jitOf(urlWith({ search: '?jit=on' }))).toEqual(['on', 'on']);
    await expect(openSqlDatabase('WAREHOUSE_URL', urlWith({ search: '?jit=maybe' }))).rejects.toThrow(
      'WAREHOUSE_URL: jit=maybe must be on or off',
    );
  });

  it('refuses unknown URL parameters and sslmodes before connecting', async () => {
    await expect(openSqlDatabase('SOURCE_URL', urlWith({ search: '?sslmod=require' }))).rejects.toThrow(
      /^SOURCE_URL: unknown URL parameter\(s\) sslmod in "postgres:\/\/\w+:\*\*\*@/,
    );
    await expect(openSqlDatabase('SOURCE_URL', urlWith({ search: '?sslmode=allow' }))).rejects.toThrow(
      'SOURCE_URL: unsupported sslmode=allow',
    );
  });
});

describe('PostgreSQL connections under failure', () => {
  it('releases the connection when a CSV stream is abandoned half way', async () => {
    const db = await openPostgres(env.TEST_PG_URL, { poolSize: 1 });
    try {
      const stream = db.copyToCsv("select n, repeat('x', 100) as pad from generate_series(1, 200000) as n");
      for await (const _chunk of stream) break;
      // With one connection, this waits forever unless the abandoned COPY's connection was given back.
      expect(await db.query('select 3 as three')).toEqual([{ three: 3 }]);
    } finally {
      await db.close();
    }
  });

  it('keeps the pool usable after a load from a missing object and after a failing statement', async () => {
    const db = await openPostgres(env.TEST_PG_URL, { poolSize: 1 });
    const lake = openLocalStore(`file://${mkdtempSync(join(tmpdir(), 'pg-missing-'))}`);
    const table = `missing_${Math.random().toString(36).slice(2, 8)}`;
    try {
      await db.exec(`create table ${table} (id integer)`);
      await expect(db.copyFromCsv(table, ['id'], { store: lake, key: 'nope.csv' })).rejects.toBeInstanceOf(
        ObjectNotFoundError,
      );
      await expect(db.query('select * from no_such_table_here')).rejects.toThrow(/no_such_table_here/);
      await lake.put('bad.csv', 'id\nnot-a-number\n');
      await expect(db.copyFromCsv(table, ['id'], { store: lake, key: 'bad.csv' })).rejects.toThrow(
        /invalid input syntax for type integer/,
      );
      expect(await db.query(`select cast(count(*) as integer) as n from ${table}`)).toEqual([{ n: 0 }]);
    } finally {
      await db.exec(`drop table if exists ${table}`);
      await db.close();
    }
  });
});
