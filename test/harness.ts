import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalStore } from '../adapters/storage/local.ts';
import type { ObjectStore } from '../adapters/storage/object-store.ts';
import type { EventStream } from '../adapters/stream/event-stream.ts';
import { openMemoryStream } from '../adapters/stream/memory.ts';
import { openPglite } from '../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext, type JobContext } from '../jobs/context.ts';
import { createSourceSchema, type GenerateResult, generate } from '../jobs/generate/index.ts';

/** Fixed "as of" day for tests: the data is the same whatever day the suite runs. */
export const TEST_AS_OF = new Date('2026-10-01T00:00:00Z');

/** An embedded platform for one test file: a temp lake, an in-process stream, in-memory PGlite databases. */
export interface EmbeddedPlatform {
  lake: ObjectStore;
  stream: EventStream;
  warehouse: SqlDatabase;
  source: SqlDatabase;
  folder: string;
  context(options?: { now?: () => Date }): JobContext;
  close(): Promise<void>;
}

export async function openEmbeddedPlatform(): Promise<EmbeddedPlatform> {
  const folder = mkdtempSync(join(tmpdir(), 'ecomm-test-'));
  const lake = openLocalStore(`file://${folder}/lake`);
  const stream = openMemoryStream('memory://');
  const [warehouse, source] = await Promise.all([
    openPglite('pglite://memory'),
    openPglite('pglite://memory'),
  ]);
  const config = loadConfig({
    LAKE_URL: `file://${folder}/lake`,
    STREAM_URL: 'memory://',
    WAREHOUSE_URL: 'pglite://memory',
    SOURCE_URL: 'pglite://memory',
    LOG_LEVEL: 'silent',
  });
  return {
    lake,
    stream,
    warehouse,
    source,
    folder,
    context: (options = {}) =>
      createJobContext(config, { ...options, shared: { lake, stream, warehouse, source } }),
    async close() {
      await Promise.all([warehouse.close(), source.close()]);
    },
  };
}

export async function seedPlatform(
  platform: EmbeddedPlatform,
  seed = 7,
  scale = 0.2,
): Promise<GenerateResult> {
  await createSourceSchema(platform.source);
  return generate({ db: platform.source, stream: platform.stream, seed, scale, asOf: TEST_AS_OF });
}

export async function gold(db: SqlDatabase): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'gold' order by table_name",
  );
  return rows.map((row) => row.table_name);
}

/** A table's content as one hash: every row as COPY writes it, in the order of all columns. */
export async function tableHash(db: SqlDatabase, table: string): Promise<string> {
  const [first] = await db.query<{ n: number }>(
    `select cast(count(*) as integer) as n from information_schema.columns where table_schema || '.' || table_name = $1`,
    [table],
  );
  const order = Array.from({ length: first?.n ?? 1 }, (_, index) => index + 1).join(', ');
  const hash = createHash('sha256');
  for await (const chunk of db.copyToCsv(`select * from ${table} order by ${order}`))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function goldHashes(db: SqlDatabase): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const table of await gold(db)) hashes[table] = await tableHash(db, `gold.${table}`);
  return hashes;
}
