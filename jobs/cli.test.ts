import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOB_CATALOG } from './catalog.ts';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

function ecomm(args: string[], env: Record<string, string> = {}) {
  const folder = mkdtempSync(join(tmpdir(), 'cli-'));
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    cwd: folder,
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A TCP port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Starts a service job, waits for the line that says where it listens, stops it with SIGTERM. */
async function serviceStartLine(args: string[], env: Record<string, string>, line: RegExp) {
  const folder = mkdtempSync(join(tmpdir(), 'cli-service-'));
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? '', OPENLINEAGE_URL: 'none', ...env },
  });
  let stdout = '';
  let stderr = '';
  let stopping = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    // Once: a second SIGTERM means "stop now" (exit 143).
    if (!stopping && line.test(stdout)) {
      stopping = true;
      child.kill('SIGTERM');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, started: line.exec(stdout)?.[0] ?? null, stdout, stderr };
}

describe('ecomm CLI', () => {
  it('lists every job of the catalog with its one-line summary', () => {
    const { code, stdout } = ecomm(['--help']);
    expect(code).toBe(0);
    for (const job of JOB_CATALOG)
      expect(stdout).toMatch(new RegExp(`\\n\\s+${job.name}\\b.*${job.summary.slice(0, 20)}`));
  });

  it('rejects an unknown job with exit code 2', () => {
    const { code, stderr } = ecomm(['extrakt']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown command 'extrakt'/);
  });

  it('rejects an unknown flag and a bad flag value with exit code 2', () => {
    const unknown = ecomm(['extract', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);
    const badScale = ecomm(['generate', '--scale', 'lots']);
    expect(badScale.code).toBe(2);
    expect(badScale.stderr).toMatch(/--scale.*expected a number in \(0, 1000\], got "lots"/);
    const badDate = ecomm(['generate', '--as-of', '2026-02-30']);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toMatch(/expected a date YYYY-MM-DD, got "2026-02-30"/);
  });

  it('names a bad transform --select or --exclude model, with its near matches, with exit code 2', () => {
    const unknown = ecomm(['transform', '--select', 'silver.ordrs']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /--select <models>.*unknown model "silver\.ordrs"; did you mean silver\.orders\b/,
    );
    const malformed = ecomm([
      'transform',
      '--select',
      'silver.orders+',
      '--exclude',
      'fact_orders,bronze.orders',
    ]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/--exclude <models>.*bad model selector "bronze\.orders"/);
    const nothingLeft = ecomm(['transform', '--select', 'silver.orders', '--exclude', 'orders']);
    expect(nothingLeft.code).toBe(2);
    expect(nothingLeft.stderr).toMatch(/the selection leaves no model to build/);
    const otherLayer = ecomm(['transform', '--layer', 'gold', '--select', 'silver.orders']);
    expect(otherLayer.code).toBe(2);
    expect(otherLayer.stderr).toMatch(/the selection has no model in gold/);
  });

  it('names the setting of a bad URL, from the environment or a flag, with exit code 2', () => {
    const fromEnv = ecomm(['extract'], { LAKE_URL: 'ftp://files/lake' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(
      /LAKE_URL \(got "ftp:\/\/files\/lake"\): must be a URL starting with file:\/\//,
    );
    const fromFlag = ecomm(['--warehouse-url', 'oracle://db', 'load']);
    expect(fromFlag.code).toBe(2);
    expect(fromFlag.stderr).toMatch(/WAREHOUSE_URL/);
  });

  it('explains an empty source instead of failing on a missing relation, with exit code 1', () => {
    const { code, stderr } = ecomm(['extract']);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /source tables missing in SOURCE_URL pglite:\/\/\.\/data\/source: customers, products/,
    );
    expect(stderr).toMatch(/ecomm generate/);
  });

  it('names an unknown quarantine batch, and a missing --batch, with exit code 2', () => {
    const unknown = ecomm(['quarantine', 'replay', '--batch', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/quarantine replay: no batch nope in the ledger/);
    const missing = ecomm(['quarantine', 'replay']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--batch <id>' not specified/);
  });

  it('names an unknown batch for batches retry and skip, and a missing --batch or --reason, with exit code 2', () => {
    const unknown = ecomm(['batches', 'retry', '--batch', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/batches retry: no batch nope in the ledger \(ops\.batches\)/);
    const noReason = ecomm(['batches', 'skip', '--batch', 'nope']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/required option '--reason <text>' not specified/);
    const badStatus = ecomm(['batches', 'list', '--status', 'broken']);
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(/Allowed choices are failed, skipped, pending, loaded, all/);
  });

  it('names a bad shutdown grace or service port like any bad setting, with exit code 2', () => {
    const grace = ecomm(['extract'], { ECOMM_SHUTDOWN_GRACE_SECONDS: 'soon' });
    expect(grace.code).toBe(2);
    expect(grace.stderr).toMatch(/invalid configuration:\n {2}- ECOMM_SHUTDOWN_GRACE_SECONDS \(got "soon"\)/);
    const health = ecomm(['stream-ingest', '--follow'], { ECOMM_HEALTH_PORT: 'eighty' });
    expect(health.code).toBe(2);
    expect(health.stderr).toMatch(/ECOMM_HEALTH_PORT \(got "eighty"\)/);
    const monitor = ecomm(['monitor'], { MONITOR_PORT: '70000', MONITOR_HOST: ' ' });
    expect(monitor.code).toBe(2);
    expect(monitor.stderr).toMatch(/MONITOR_PORT \(got "70000"\)/);
  });

  it('prints the stack of a failure at --log-level debug, from the flag as from LOG_LEVEL, and not by default', () => {
    const stackLine = /\n\s+at .+:\d+:\d+\)?\n/;
    const quiet = ecomm(['extract']);
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).not.toMatch(stackLine);
    const flagged = ecomm(['--log-level', 'debug', 'extract']);
    expect(flagged.code).toBe(1);
    expect(flagged.stderr).toMatch(/ecomm: failed: source tables missing/);
    expect(flagged.stderr).toMatch(stackLine);
    const fromEnvironment = ecomm(['extract'], { LOG_LEVEL: 'trace' });
    expect(fromEnvironment.stderr).toMatch(stackLine);
  });

  it('serves the stream service health on ECOMM_HEALTH_PORT and the monitor on MONITOR_PORT, flags first', async () => {
    const healthPort = await freePort();
    const stream = await serviceStartLine(
      ['stream-ingest', '--follow'],
      // Every backend embedded: the demo flag lets the service take the built-in PII key.
      { ECOMM_HEALTH_PORT: String(healthPort), ECOMM_DEMO: '1' },
      /health on http:\/\/[^\s]+:(\d+)\/healthz/,
    );
    expect(stream.started, stream.stderr).toContain(`:${healthPort}/healthz`);
    expect(stream.code, stream.stderr).toBe(0);
    const [monitorPort, flaggedPort] = [await freePort(), await freePort()];
    const monitor = await serviceStartLine(
      ['monitor'],
      { MONITOR_PORT: String(monitorPort) },
      /read-only on http:\/\/\S+/,
    );
    expect(monitor.started, monitor.stderr).toBe(`read-only on http://127.0.0.1:${monitorPort}`);
    expect(monitor.code, monitor.stderr).toBe(0);
    const flagged = await serviceStartLine(
      ['monitor', '--port', String(flaggedPort)],
      { MONITOR_PORT: String(monitorPort) },
      /read-only on http:\/\/\S+/,
    );
    expect(flagged.started, flagged.stderr).toBe(`read-only on http://127.0.0.1:${flaggedPort}`);
  });

  it('transform --full-refresh builds the incremental models whole; the next transform applies what changed', () => {
    const folder = mkdtempSync(join(tmpdir(), 'cli-transform-'));
    const transform = (...flags: string[]) =>
      spawnSync(process.execPath, [CLI, 'transform', ...flags], {
        encoding: 'utf8',
        cwd: folder,
        env: { PATH: process.env.PATH ?? '', PII_HASH_KEY: 'cli-test-key', OPENLINEAGE_URL: 'none' },
        timeout: 120_000,
      });
    const full = transform('--full-refresh');
    expect(full.status, full.stderr).toBe(0);
    expect(full.stdout).toMatch(/built silver\.clickstream_events +0 rows \(full: full refresh asked\)/);
    expect(full.stdout).toMatch(/built gold\.fact_sessions +0 rows \(full: full refresh asked\)/);
    const next = transform();
    expect(next.status, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/built silver\.orders +0 rows \(incremental: 0 keys\)/);
    const quality = ecomm(['quality', '--full-refresh']);
    expect(quality.code).toBe(2);
    expect(quality.stderr).toMatch(/unknown option '--full-refresh'/);
  }, 180_000);

  it('prints help and exits 2 when no job is given', () => {
    const { code, stdout } = ecomm([]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/Usage: ecomm/);
  });
});

describe('ecomm run --demo (npm start)', () => {
  it('prints rows per layer, top quarantine reasons, checks, the last day KPIs from gold, and where data lives', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'demo-'));
    const run = spawnSync(
      process.execPath,
      [CLI, 'run', '--demo', '--scale', '0.2', '--as-of', '2026-10-01'],
      {
        encoding: 'utf8',
        cwd: folder,
        env: { PATH: process.env.PATH ?? '', ECOMM_DEMO: '1' }, // as `npm start` sets it
        timeout: 120_000,
      },
    );
    expect(run.status, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/Pipeline run [0-9a-f-]{36}: OK in/);
    expect(out).toMatch(/Rows per source and layer/);
    for (const source of [
      'customers',
      'products',
      'orders',
      'order_items',
      'fx_rates',
      'clickstream',
      'order-events',
    ]) {
      expect(out).toMatch(
        new RegExp(`\\n  ${source}\\s+[\\d,]+\\s+[\\d,]+\\s+[\\d,]+\\s+[\\d,]+\\s+[\\d,]+\\n`),
      );
    }
    expect(out).toMatch(
      /Quarantined this run: \d+ rows; top reasons:\n\s+\d+ {2}clickstream: malformed JSON\n/,
    );
    expect(out).toMatch(/Quality checks: \d+ passed, \d+ failed \(0 blocking\)/);
    expect(out).toMatch(/Where the data lives\n {2}lake {7}file:\/\/\.\/data\/lake/);

    const { openPglite } = await import('../adapters/warehouse/pglite.ts');
    const warehouse = await openPglite(`pglite://${folder}/data/warehouse`);
    const [last] = await warehouse.query<{ order_date: string; order_count: number; revenue_usd: string }>(
      `select cast(order_date as varchar) as order_date, cast(order_count as integer) as order_count,
         cast(revenue_usd as varchar) as revenue_usd from gold.agg_daily_sales order by order_date desc limit 1`,
    );
    await warehouse.close();
    const revenue = Number(last?.revenue_usd).toLocaleString('en-US', {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    expect(out).toContain(`Headline KPIs for ${last?.order_date} (last day with sales, USD)`);
    expect(out).toMatch(
      new RegExp(
        `revenue ${revenue.replaceAll('.', '\\.')} {3}orders ${last?.order_count} {3}AOV [\\d,.]+ {3}new customers \\d+`,
      ),
    );
  });
});
