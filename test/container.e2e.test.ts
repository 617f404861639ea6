import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_CATALOG } from '../jobs/catalog.ts';
import { MAIN_THREAD_NODE_FLAGS } from '../jobs/memory-limits.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { type CloudProfiles, createCloudProfiles } from './cloud-profiles.ts';

const ASSEMBLE = new URL('../scripts/image/assemble.sh', import.meta.url).pathname;

/**
 * The image's entrypoint as a container runs it: the production file set (scripts/image/assemble.sh, the same
 * script the Dockerfile runs: runtime sources and production packages only) started with a clean environment that
 * holds nothing but the documented variables, one job per process, against the test services.
 */
describe('the job image, run the way the container platform runs it', () => {
  let app: string;
  let profiles: CloudProfiles;
  let baseEnv: Record<string, string>;

  const ecomm = (args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, [join(app, 'jobs/cli.ts'), ...args], {
      cwd: app,
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });

  beforeAll(async () => {
    app = join(mkdtempSync(join(tmpdir(), 'image-')), 'app');
    execFileSync('bash', [ASSEMBLE, app], { stdio: 'pipe' });
    profiles = await createCloudProfiles('image');
    const services = loadServiceEnv();
    baseEnv = {
      PATH: '/usr/bin:/bin',
      HOME: app,
      NODE_ENV: 'production',
      NODE_OPTIONS: MAIN_THREAD_NODE_FLAGS,
      ECOMM_REQUIRE_SETTINGS: 'true',
      ...profiles.aws.settings,
      AWS_ACCESS_KEY_ID: services.TEST_S3_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: services.TEST_S3_SECRET_ACCESS_KEY,
      AWS_REGION: services.TEST_S3_REGION,
      PII_HASH_KEY: 'image-test-key',
    };
  }, 300_000);

  afterAll(async () => {
    await profiles?.dispose();
  });

  it('ships runtime sources and production packages only', () => {
    expect(existsSync(join(app, 'jobs/cli.ts'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/pg'))).toBe(true);
    for (const devOnly of ['vitest', 'typescript', '@pulumi', '@biomejs', 'azurite', 'playwright-core']) {
      expect(existsSync(join(app, 'node_modules', devOnly)), devOnly).toBe(false);
    }
    expect(existsSync(join(app, 'infra'))).toBe(false);
    expect(existsSync(join(app, 'jobs/cli.test.ts'))).toBe(false);
  });

  it('runs each step of the hourly run as its own job, one process each, with only the documented variables', () => {
    const generated = ecomm(['generate', '--scale', '0.1', '--as-of', '2026-10-01'], baseEnv);
    expect(generated.status, generated.stderr).toBe(0);
    // The run's steps as an operator starts them by hand (each is a manual job on the clouds).
    const order = ['extract', 'stream-ingest', 'validate', 'load', 'reconcile', 'transform', 'quality'];
    for (const job of order) {
      const spec = JOB_CATALOG.find((entry) => entry.name === job);
      // Each job gets exactly the variables the catalog (and so the infrastructure) gives it.
      const env: Record<string, string> = {
        PATH: baseEnv.PATH ?? '',
        HOME: app,
        NODE_ENV: 'production',
        ECOMM_REQUIRE_SETTINGS: 'true',
        AWS_ACCESS_KEY_ID: baseEnv.AWS_ACCESS_KEY_ID ?? '',
        AWS_SECRET_ACCESS_KEY: baseEnv.AWS_SECRET_ACCESS_KEY ?? '',
        AWS_REGION: baseEnv.AWS_REGION ?? '',
        PII_HASH_KEY: baseEnv.PII_HASH_KEY ?? '',
        STREAM_TOPIC_PREFIX: baseEnv.STREAM_TOPIC_PREFIX ?? '',
        STREAM_GROUP_ID: baseEnv.STREAM_GROUP_ID ?? '',
      };
      for (const variable of spec?.env ?? []) env[variable] = baseEnv[variable] ?? '';
      const run = ecomm([job], env);
      expect(run.status, `${job}: ${run.stderr}`).toBe(0);
    }
  });

  it('built gold in the warehouse from those runs', async () => {
    const client = new pg.Client({ connectionString: profiles.aws.settings.WAREHOUSE_URL });
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      'select cast(count(*) as integer) as n from gold.fact_orders',
    );
    await client.end();
    expect(rows[0]?.n).toBeGreaterThan(400);
  });

  it('refuses to start without its settings, naming every missing one, with exit code 2', () => {
    const run = ecomm(['extract'], {
      PATH: '/usr/bin:/bin',
      HOME: app,
      NODE_ENV: 'production',
      ECOMM_REQUIRE_SETTINGS: 'true',
      LAKE_URL: 'ftp://nowhere',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/SOURCE_URL: required here/);
    expect(run.stderr).toMatch(/WAREHOUSE_URL: required here/);
    expect(run.stderr).toMatch(/SECRETS_URL: required here/);
    expect(run.stderr).toMatch(/LAKE_URL \(got "ftp:\/\/nowhere"\)/);
    // The further sources are optional (the catalog's optionalEnv): a container without them starts.
    expect(run.stderr).not.toMatch(/(CRM|HISTORY|FX)_SOURCE_URL/);
  });
});
