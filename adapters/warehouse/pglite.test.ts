import { describe, expect, it } from 'vitest';
import { sqlDatabaseContract } from './contract.ts';
import { openSqlDatabase } from './index.ts';
import { csvRecordChunks } from './pglite.ts';

sqlDatabaseContract('PGlite', () => openSqlDatabase('WAREHOUSE_URL', 'pglite://memory'));

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

describe('database factory', () => {
  it('names SOURCE_URL when the source URL has an unknown scheme', () => {
    expect(() => openSqlDatabase('SOURCE_URL', 'mysql://db')).toThrow(
      /SOURCE_URL: unsupported URL "mysql:\/\/db"/,
    );
  });
});
