import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { createTestDatabase, type TestDatabase } from './pg-database.ts';

const CLI = new URL('../jobs/cli.ts', import.meta.url).pathname;

interface Ecomm {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once stderr matches. */
  logged: (pattern: RegExp) => Promise<void>;
  exited: Promise<number | null>;
}

/** `ecomm <args>` as its own process, with the scheduler's view: exit code, stdout, stderr. */
function ecomm(args: string[], env: Record<string, string>, cwd: string): Ecomm {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const waiter of waiters.splice(0)) {
      if (waiter.pattern.test(stderr)) waiter.resolve();
      else waiters.push(waiter);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    logged: (pattern) =>
      pattern.test(stderr)
        ? Promise.resolve()
        : new Promise((resolve, reject) => {
            waiters.push({ pattern, resolve });
            exited.then(() => reject(new Error(`exited before logging ${pattern}: ${stderr.slice(-1500)}`)));
          }),
    exited,
  };
}

/**
 * Real processes on a PostgreSQL warehouse and source: the scheduler's view of two runs at once and of a run killed
 * with SIGKILL.
 */
describe('ecomm run holds the warehouse lease (processes, PostgreSQL)', () => {
  let warehouseDb: TestDatabase;
  let sourceDb: TestDatabase;
  let warehouse: SqlDatabase;
  let folder: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [warehouseDb, sourceDb] = await Promise.all([
      createTestDatabase('lease_wh'),
      createTestDatabase('lease_src'),
    ]);
    folder = mkdtempSync(join(tmpdir(), 'ecomm-lease-'));
    env = {
      WAREHOUSE_URL: warehouseDb.url,
      SOURCE_URL: sourceDb.url,
      LAKE_URL: `file://${folder}/lake`,
      STREAM_URL: `memory://${folder}/stream`,
      SECRETS_URL: 'env://',
      PII_HASH_KEY: 'lease-test-key',
      LOG_LEVEL: 'info',
      // A heartbeat every second; a dead holder's lease expires after 3 s.
      RUN_LEASE_SECONDS: '3',
    };
    warehouse = await openPostgres(warehouseDb.url);
  });
  afterAll(async () => {
    await warehouse?.close();
    await Promise.all([warehouseDb?.dispose(), sourceDb?.dispose()]);
    rmSync(folder, { recursive: true, force: true });
  });

  it('a second run exits 75 naming the holder; a run killed with SIGKILL is marked abandoned by the next', async () => {
    // Scale 1 keeps it busy long enough for the other processes to start while it holds the lease.
    const first = ecomm(['run', '--demo', '--scale', '1', '--as-of', '2026-10-01'], env, folder);
    await first.logged(/"job":"extract"/);
    const holder = /"runId":"([0-9a-f-]{36})"/.exec(first.stderr())?.[1];
    expect(holder).toBeDefined();

    // Another scheduled run, and a manual job (which takes the same lease), at the same time.
    const second = ecomm(['run'], env, folder);
    const load = ecomm(['load'], env, folder);
    expect(await second.exited, second.stderr()).toBe(75);
    expect(await load.exited, load.stderr()).toBe(75);
    expect(second.stderr()).toMatch(
      new RegExp(
        `ecomm: skipped: another run holds this warehouse's batch lease: run ${holder} \\(ecomm run\\), started \\S+Z, last heartbeat \\S+Z`,
      ),
    );
    expect(second.stdout()).toBe('');
    expect(load.stderr()).toContain(`run ${holder} (ecomm run)`);

    // While it works, its row says running (written before any step).
    const running = await warehouse.query(
      "select status from ops.pipeline_runs where run_id = $1 and job = 'run' and step = 'pipeline'",
      [holder as string],
    );
    expect(running).toEqual([{ status: 'running' }]);

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    // Its lease is still held until it expires: the next run waits for it (RUN_LOCK_WAIT_SECONDS), then takes over.
    const next = ecomm(['run'], { ...env, RUN_LOCK_WAIT_SECONDS: '30' }, folder);
    expect(await next.exited, next.stderr().slice(-3000)).toBe(0);
    expect(next.stdout()).toMatch(/Pipeline run \S+: OK in/);
    const rows = await warehouse.query<{ run_id: string; status: string; message: string | null }>(
      "select run_id, status, message from ops.pipeline_runs where job = 'run' and step = 'pipeline' order by started_at",
    );
    expect(rows.map((row) => [row.run_id === holder, row.status])).toEqual([
      [true, 'abandoned'],
      [false, 'succeeded'],
    ]);
    expect(rows[0]?.message).toMatch(/^abandoned: no heartbeat since \S+Z/);
    expect(next.stderr()).toContain('took over a lease whose holder stopped renewing it');
    expect(await warehouse.query('select * from ops.run_leases')).toEqual([]);
  });
});
