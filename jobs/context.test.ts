import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openSqlDatabase } from '../adapters/warehouse/index.ts';
import { openPglite } from '../adapters/warehouse/pglite.ts';
import { createTestDatabase } from '../test/pg-database.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createJobContext } from './context.ts';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

/** The PII hash key a context on these settings hands the models, or the error it refuses with. */
async function piiKeyWith(settings: Record<string, string>): Promise<string | Error> {
  const context = createJobContext(loadConfig({ LOG_LEVEL: 'silent', ...settings }));
  try {
    return await context.piiHashKey();
  } catch (error) {
    return error as Error;
  } finally {
    await context.close();
  }
}

describe('the PII hash key', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('is the built-in demo key only with every backend embedded and ECOMM_DEMO on', async () => {
    vi.stubEnv('PII_HASH_KEY', '');
    expect(await piiKeyWith({ ECOMM_DEMO: '1' })).toBe('embedded-demo-pii-key');
    expect(await piiKeyWith({ ECOMM_DEMO: 'true' })).toBe('embedded-demo-pii-key');
  });

  it('is a configuration error naming the secret, the store and ECOMM_DEMO when the demo flag is off', async () => {
    vi.stubEnv('PII_HASH_KEY', '');
    const error = await piiKeyWith({});
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'invalid configuration:\n  - PII_HASH_KEY: secret not found in the secret store env:// (SECRETS_URL); ' +
        'store the key that hashes PII in gold there; for the laptop demo (every backend embedded) set ' +
        'ECOMM_DEMO=1 to use the built-in demo key',
    );
  });

  it.each([
    ['a PostgreSQL source', { SOURCE_URL: 'postgres://etl:hunter2@db.internal/shop' }],
    ['a PostgreSQL warehouse', { WAREHOUSE_URL: 'postgres://etl:hunter2@db.internal/dw' }],
    ['a cloud lake', { LAKE_URL: 's3://lake-bucket/prefix' }],
    ['a Kafka stream', { STREAM_URL: 'kafka://broker:9092' }],
  ])('refuses the demo key with %s even when ECOMM_DEMO is on', async (_label, backend) => {
    vi.stubEnv('PII_HASH_KEY', '');
    const error = await piiKeyWith({ ECOMM_DEMO: '1', ...backend });
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /PII_HASH_KEY: secret not found in the secret store env:\/\/ \(SECRETS_URL\).*only for the laptop demo, with every backend embedded and ECOMM_DEMO=1/,
    );
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('comes from the secret store whenever it holds one, demo or not', async () => {
    vi.stubEnv('PII_HASH_KEY', 'a-real-key');
    expect(await piiKeyWith({ ECOMM_DEMO: '1' })).toBe('a-real-key');
    expect(await piiKeyWith({ SOURCE_URL: 'postgres://etl@db.internal/shop' })).toBe('a-real-key');
  });

  it('rejects a demo flag that is not a yes or a no, naming it', () => {
    expect(() => loadConfig({ ECOMM_DEMO: 'sure' })).toThrow(
      'ECOMM_DEMO (got "sure"): must be 1, true or yes (on), or 0, false or no (off)',
    );
    expect(loadConfig({ ECOMM_DEMO: 'no' }).ECOMM_DEMO).toBe(false);
    expect(loadConfig({}).ECOMM_DEMO).toBe(false);
  });

  it('ecomm run on embedded defaults without ECOMM_DEMO exits 2 before extracting anything', () => {
    const folder = mkdtempSync(join(tmpdir(), 'ecomm-no-demo-'));
    const run = spawnSync(process.execPath, [CLI, 'run', '--demo', '--scale', '0.1'], {
      encoding: 'utf8',
      cwd: folder,
      env: { PATH: process.env.PATH ?? '', OPENLINEAGE_URL: 'none' },
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain('PII_HASH_KEY: secret not found in the secret store env:// (SECRETS_URL)');
    expect(run.stderr).toContain('set ECOMM_DEMO=1');
    // Nothing was generated or extracted: the lake holds no object.
    const lake = join(folder, 'data', 'lake');
    const objects = existsSync(lake)
      ? readdirSync(lake, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())
      : [];
    expect(objects).toEqual([]);
  }, 90_000);
});

describe('source connectors', () => {
  it('reads SOURCE_URL through the context source() connection, opened once, closed with the context', async () => {
    const source = await openPglite('pglite://memory');
    try {
      await source.exec('create table probe (id integer, updated_at timestamptz)');
      const context = createJobContext(loadConfig({ LOG_LEVEL: 'silent', SOURCE_URL: 'pglite://memory' }), {
        shared: { source },
      });
      const connector = await context.sourceConnector('SOURCE_URL');
      expect(await context.sourceConnector('SOURCE_URL')).toBe(connector);
      const probe = {
        name: 'probe',
        remoteName: 'probe',
        columns: ['id'],
        primaryKey: ['id'],
        cursor: 'updated_at',
      };
      await connector.check([probe]);
      await context.close();
      // The shared connection is the caller's: the connector's close left it open.
      expect(await source.query('select 1 as one')).toEqual([{ one: 1 }]);
    } finally {
      await source.close();
    }
  });

  it('is a configuration error for a source setting that is not set', async () => {
    const context = createJobContext(loadConfig({ LOG_LEVEL: 'silent' }));
    await expect(context.sourceConnector('CRM_SOURCE_URL')).rejects.toThrow(/CRM_SOURCE_URL: not set/);
    await context.close();
  });
});

describe('contexts on one shared warehouse', () => {
  it('create the schema of a new warehouse in turn: several opened at once all get it', async () => {
    const database = await createTestDatabase('shared_schema');
    const db = await openSqlDatabase('WAREHOUSE_URL', database.url);
    try {
      const config = loadConfig({ LOG_LEVEL: 'silent' });
      const contexts = Array.from({ length: 4 }, () =>
        createJobContext(config, { shared: { warehouse: db } }),
      );
      // At once on a pool of connections, `create table if not exists` of one table can fail on the other's type.
      const opened = await Promise.all(contexts.map((context) => context.warehouse()));
      expect(opened.every((opened) => opened === db)).toBe(true);
      const [tables] = await db.query<{ n: number }>(
        "select cast(count(*) as integer) as n from information_schema.tables where table_schema in ('ops', 'bronze')",
      );
      expect(tables?.n).toBeGreaterThan(10);
    } finally {
      await db.close();
      await database.dispose();
    }
  });
});
