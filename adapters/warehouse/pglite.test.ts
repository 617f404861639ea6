import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalStore } from '../storage/local.ts';
import { sqlDatabaseContract } from './contract.ts';
import { openSqlDatabase } from './index.ts';
import { csvRecordChunks, openPglite } from './pglite.ts';
import { BulkLoadError } from './sql-database.ts';

sqlDatabaseContract('PGlite', () => openSqlDatabase('WAREHOUSE_URL', 'pglite://memory'));

describe('PGlite concurrency', () => {
  it('is one connection with PostgreSQL locking, also inside a transaction', async () => {
    const db = await openPglite('pglite://memory');
    try {
      const expected = { connections: 1, locksBlockReaders: false, writersConflict: false };
      expect(db.concurrency).toEqual(expected);
      await db.transaction(async (tx) => expect(tx.concurrency).toEqual(expected));
    } finally {
      await db.close();
    }
  });
});

describe('csvRecordChunks', () => {
  it('cuts only at newlines outside quoted fields', async () => {
    const input = ['a,b\n1,"x\ny"\n2,z\n'].map((s) => Buffer.from(s));
    const chunks: string[] = [];
    for await (const chunk of csvRecordChunks(
      (async function* () {
        yield* input;
      })(),
      1,
    ))
      chunks.push(Buffer.from(chunk).toString());
    expect(chunks.join('')).toBe('a,b\n1,"x\ny"\n2,z\n');
    for (const chunk of chunks) expect(chunk.endsWith('\n')).toBe(true);
  });
});

describe('PGlite bulk load', () => {
  it('names the line of a row refused in a later COPY chunk, counting the lines of the chunks before', async () => {
    const db = await openPglite('pglite://memory');
    const lake = openLocalStore(`file://${mkdtempSync(join(tmpdir(), 'pglite-copy-'))}`);
    try {
      await db.exec('create table chunked (id integer, label varchar(2000))');
      const filler = 'y'.repeat(1000);
      const records = ['id,label'];
      // About 9 MB: more than one 8 MiB COPY chunk; every 100th record spans two lines.
      for (let id = 0; id < 9000; id += 1)
        records.push(id % 100 === 0 ? `${id},"${filler}\nsecond line"` : `${id},${filler}`);
      records.push(`9000,${'z'.repeat(2001)}`);
      const csv = `${records.join('\n')}\n`;
      await lake.put('chunked.csv', csv);
      const error = await db
        .copyFromCsv('chunked', ['id', 'label'], { store: lake, key: 'chunked.csv' })
        .catch((failure: unknown) => failure);
      expect(error).toBeInstanceOf(BulkLoadError);
      expect(error).toMatchObject({ line: csv.split('\n').length - 1, column: 'label', code: '22001' });
    } finally {
      await db.close();
    }
  });
});

describe('database factory', () => {
  it('names SOURCE_URL when the source URL has an unknown scheme', () => {
    expect(() => openSqlDatabase('SOURCE_URL', 'mysql://db')).toThrow(
      /SOURCE_URL: unsupported URL "mysql:\/\/db"/,
    );
  });
});
