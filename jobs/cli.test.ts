import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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

  it('prints help and exits 2 when no job is given', () => {
    const { code, stdout } = ecomm([]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/Usage: ecomm/);
  });
});
