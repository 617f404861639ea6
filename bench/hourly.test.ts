/**
 * The hourly bench refuses clearly, before creating anything, when its settings are bad or the services it needs
 * do not answer. (The bench itself, `node bench/hourly.bench.ts`, is the proof of the rest: its results are
 * committed in bench/results/hourly.md.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../scripts/services/env.ts';

const BENCH = new URL('./hourly.bench.ts', import.meta.url).pathname;
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** The bench with only these settings: no TEST_* variable of the caller leaks in. */
function bench(env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEST_')));
  return spawnSync(process.execPath, [BENCH], {
    env: { ...clean, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** A services folder whose env.json says what the test wants. */
function servicesDir(env: Record<string, string> | null): string {
  const folder = mkdtempSync(join(tmpdir(), 'hourly-bench-test-'));
  folders.push(folder);
  if (env) writeFileSync(join(folder, 'env.json'), JSON.stringify(env));
  return folder;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('hourly bench', () => {
  it('names every bad setting, with what it expects, and exits 2', () => {
    const run = bench({
      ECOMM_SERVICES_DIR: servicesDir(null),
      BENCH_HOURLY_SCALES: '10,abc',
      BENCH_HOURLY_CHANGE_PERCENT: '0',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'BENCH_HOURLY_SCALES must be scales in (0, 1000] separated by commas, got "10,abc"',
    );
    expect(run.stderr).toContain('BENCH_HOURLY_CHANGE_PERCENT must be a percentage in (0, 10], got "0"');
  });

  it('says to start the services when they were never started', () => {
    const run = bench({ ECOMM_SERVICES_DIR: servicesDir(null) });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /env\.json not found: start the test services first with `npm run services:up`/,
    );
  });

  it('names the service that does not answer, PostgreSQL then Kafka, and how to start it', async () => {
    const port = await closedPort();
    const down = bench({
      ECOMM_SERVICES_DIR: servicesDir({
        TEST_PG_ADMIN_URL: `postgres://ecomm:ecomm@127.0.0.1:${port}/postgres`,
        TEST_PG_HOST: '127.0.0.1',
        TEST_PG_PORT: String(port),
        TEST_KAFKA_BROKERS: `127.0.0.1:${port}`,
      }),
    });
    expect(down.status).toBe(2);
    expect(down.stderr).toContain(`the services' PostgreSQL at 127.0.0.1:${port} does not answer`);
    expect(down.stderr).toContain('npm run services:up');

    const running = loadServiceEnv();
    const kafkaDown = bench({
      ECOMM_SERVICES_DIR: servicesDir({ ...running, TEST_KAFKA_BROKERS: `127.0.0.1:${port}` }),
    });
    expect(kafkaDown.status).toBe(2);
    expect(kafkaDown.stderr).toContain(`the services' Kafka at 127.0.0.1:${port} does not answer`);
    expect(kafkaDown.stderr).toContain('npm run services:up');
  });
});
