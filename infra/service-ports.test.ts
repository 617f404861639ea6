/**
 * A service's port is declared once, in the catalog, and the platform probes (and, for the monitor,
 * opens) that port. The program's own default must be the same number, or the platform would check a
 * port nobody listens on: run each service's `--help` in the image's environment and compare.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JOB_CATALOG } from '../jobs/catalog.ts';

const root = new URL('../', import.meta.url);

/** The `ENV` values the Dockerfile's runtime stage sets (NAME=value pairs, a value with spaces in quotes). */
function imageEnvironment(): Record<string, string> {
  const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8').replace(/\\\n/g, ' ');
  const env: Record<string, string> = {};
  for (const line of dockerfile.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, name, quoted, bare] of line.matchAll(/([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|(\S+))/g))
      env[name as string] = (quoted ?? bare) as string;
  }
  return env;
}

function helpOf(job: string, env: Record<string, string>): string {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(MONITOR_|ECOMM_)/.test(name)),
  );
  const out = execFileSync(process.execPath, ['jobs/cli.ts', job, '--help'], {
    cwd: root,
    env: { ...clean, ...env, ECOMM_REQUIRE_SETTINGS: 'false' },
    encoding: 'utf8',
  });
  return out.replace(/\s+/g, ' ');
}

describe('service ports', () => {
  it('match what each service listens on by default in the image', () => {
    const env = imageEnvironment();
    expect(env.ECOMM_HEALTH_PORT).toBeDefined();
    const services = JOB_CATALOG.filter((j) => j.kind === 'service');
    expect(services.length).toBeGreaterThan(0);
    for (const job of services) {
      expect(job.port, job.name).toBeDefined();
      // The first default after the port option (`--port <n>`, `--health-port <port>`) is its own.
      const help = helpOf(job.name, env);
      const [, listens] = /--[a-z-]*port <[^>]+>.*?\(default: (\d+)/.exec(help) ?? [];
      expect(listens, `${job.name}: ${help}`).toBeDefined();
      expect(Number(listens), job.name).toBe(job.port);
    }
  });
});
