import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOB_CATALOG } from '../jobs/catalog.ts';
import { MAIN_THREAD_NODE_FLAGS, MALLOC_ENVIRONMENT } from '../jobs/memory-limits.ts';

const ASSEMBLE = new URL('../scripts/image/assemble.sh', import.meta.url).pathname;
const DOCKERFILE = new URL('../Dockerfile', import.meta.url).pathname;

/** The files the image assembly selects (scripts/image/assemble.sh without its npm ci), relative to /app. */
function imageFiles(): string[] {
  const app = join(mkdtempSync(join(tmpdir(), 'image-files-')), 'app');
  execFileSync('bash', [ASSEMBLE, app], {
    env: { ...process.env, ECOMM_IMAGE_FILES_ONLY: '1' },
    stdio: 'pipe',
  });
  return readdirSync(app, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(app, join(entry.parentPath, entry.name)))
    .sort();
}

describe('the job image file set', () => {
  const files = imageFiles();

  it('holds no test, test suite, fixture, test server, bench, doc or infrastructure file', () => {
    const testOnly = files.filter(
      (file) =>
        /\.test\.ts$|(^|\/)(contract|test-fixtures|test-receiver|fault-proxy)\.ts$|\.md$/.test(file) ||
        /^(test|bench|docs|infra|scripts)\//.test(file),
    );
    expect(testOnly).toEqual([]);
    expect(files.filter((file) => !/^(adapters|jobs|sql)\/|^package(-lock)?\.json$/.test(file))).toEqual([]);
  });

  it('holds what the jobs need: the CLI, every job folder, the health check, the SQL models and the lockfile', () => {
    for (const needed of [
      'jobs/cli.ts',
      'jobs/healthcheck.ts',
      'jobs/config.ts',
      'adapters/redact.ts',
      'package-lock.json',
    ])
      expect(files, needed).toContain(needed);
    for (const job of JOB_CATALOG)
      expect(
        files.some((file) => file.startsWith(`jobs/${job.name}/`)),
        `jobs/${job.name}/`,
      ).toBe(true);
    expect(files.some((file) => file.startsWith('sql/gold/'))).toBe(true);
    expect(files.some((file) => file.startsWith('sql/dialects/'))).toBe(true);
  });

  it("starts every job with the young generation's cap and the malloc setting of the stacks (jobs/memory-limits.ts)", () => {
    const dockerfile = readFileSync(DOCKERFILE, 'utf8');
    expect(dockerfile).toMatch(new RegExp(`^\\s+NODE_OPTIONS="${MAIN_THREAD_NODE_FLAGS}" \\\\$`, 'm'));
    for (const [name, value] of Object.entries(MALLOC_ENVIRONMENT))
      expect(dockerfile).toMatch(new RegExp(`^\\s+${name}=${value} \\\\$`, 'm'));
  });

  it('is installed with npm ci --omit=dev on base images pinned by digest', () => {
    expect(readFileSync(ASSEMBLE, 'utf8')).toMatch(/^npm ci --omit=dev /m);
    const bases = [...readFileSync(DOCKERFILE, 'utf8').matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(base).toMatch(/^node:24[\w.-]*@sha256:[0-9a-f]{64}$/);
  });
});
