import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = new URL('../jobs/cli.ts', import.meta.url).pathname;

function listFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('stopping a job with SIGTERM', () => {
  it('finishes the batch in hand, exits 143, leaves no half-written object, and the next run completes', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'sigterm-'));
    const env = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ECOMM_DEMO: '1' };
    const child = spawn(process.execPath, [CLI, 'run', '--demo', '--scale', '0.3', '--as-of', '2026-10-01'], {
      cwd: folder,
      env,
    });
    let stderr = '';
    const exited = new Promise<{ code: number | null; ms: number }>((resolve) => {
      let signalledAt = 0;
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // Stop it in the middle of validation: some batches validated, others not.
        if (signalledAt === 0 && stderr.includes('"job":"validate"')) {
          signalledAt = performance.now();
          child.kill('SIGTERM');
        }
      });
      child.on('exit', (code) => resolve({ code, ms: performance.now() - signalledAt }));
    });
    const { code, ms } = await exited;
    expect(code, stderr.slice(-2000)).toBe(143);
    expect(stderr).toMatch(/SIGTERM: finishing the unit of work in hand/);
    expect(stderr).toMatch(/stopped on request \(SIGTERM\)/);
    expect(ms).toBeLessThan(10_000);
    expect(listFiles(join(folder, 'data/lake')).filter((file) => file.endsWith('.partial'))).toEqual([]);

    const rerun = spawnSync(process.execPath, [CLI, 'run'], {
      cwd: folder,
      env: { PATH: env.PATH, ECOMM_DEMO: '1' },
      encoding: 'utf8',
    });
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/: OK in/);
    expect(rerun.stdout).toMatch(/Quality checks: \d+ passed, \d+ failed \(0 blocking\)/);
  });
});
