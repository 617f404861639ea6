import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jobLogger } from './logger.ts';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

describe('secrets never reach a log line or the CLI error line', () => {
  it('a logged URL, error and connection string are written redacted', () => {
    const lines: string[] = [];
    const log = jobLogger('info', { write: (line: string) => lines.push(line) });
    const cause = new Error('connect to postgres://etl:hun@ter/2@db.internal/dw failed');
    log.error(
      {
        err: cause,
        url: 'postgres://etl@db.internal/dw?sslmode=require&password=hunter2',
        connection: 'AccountName=acct;AccountKey=Eby8vdM02x==;EndpointSuffix=core.windows.net',
      },
      'warehouse unreachable at postgres://etl:hunter2@db.internal/dw',
    );
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? '';
    for (const secret of ['hunter2', 'hun@ter', 'ter/2', 'Eby8vdM02x']) expect(line).not.toContain(secret);
    const logged = JSON.parse(line) as {
      msg: string;
      url: string;
      connection: string;
      err: { message: string };
    };
    expect(logged.msg).toBe('warehouse unreachable at postgres://etl:***@db.internal/dw');
    expect(logged.url).toBe('postgres://etl@db.internal/dw?sslmode=require&password=***');
    expect(logged.connection).toBe('AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net');
    expect(logged.err.message).toBe('connect to postgres://etl:***@db.internal/dw failed');
  });

  it('ecomm prints a warehouse it cannot reach without the password, and exits 1', () => {
    const folder = mkdtempSync(join(tmpdir(), 'ecomm-redact-'));
    const run = spawnSync(
      process.execPath,
      [CLI, 'transform', '--warehouse-url', 'postgres://etl:p%40ss%2Fw0rd@127.0.0.1:1/dw?application_name=t'],
      {
        encoding: 'utf8',
        cwd: folder,
        env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug', OPENLINEAGE_URL: 'none' },
        timeout: 60_000,
      },
    );
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toContain(
      'ecomm: failed: WAREHOUSE_URL postgres://etl:***@127.0.0.1:1/dw?application_name=t: cannot connect after 4 attempts (ECONNREFUSED)',
    );
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/p%40ss|w0rd|p@ss/);
  }, 90_000);
});
