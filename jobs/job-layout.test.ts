/**
 * The layout of jobs/: every job of the catalog is a folder named as the CLI names it, whose entry (index.ts)
 * exports `run`; a job uses another only through that entry; the rooms that are not jobs (contracts, lake, lineage,
 * models, ops, alerts, and config, context, catalog) use no job, so any job can use them without a cycle.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOB_CATALOG } from './catalog.ts';

const JOBS_ROOT = new URL('./', import.meta.url).pathname;
const JOB_FOLDERS = new Set<string>(JOB_CATALOG.map((job) => job.name));
/**
 * The image's entry points, the only modules outside the jobs that use them: the CLI wires every job's entry, and
 * the HEALTHCHECK reads where the stream service wrote its port (health.ts alone: it runs every 30 s, and the
 * service's entry would load the whole service).
 */
const ENTRY_POINTS: Record<string, string[]> = {
  'cli.ts': [],
  'commands.ts': [],
  'healthcheck.ts': ['stream-ingest/service/health.ts'],
};

function runtimeModules(): string[] {
  return readdirSync(JOBS_ROOT, { recursive: true, encoding: 'utf8' })
    .filter(
      (path) => path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('test-fixtures.ts'),
    )
    .sort();
}

/** The jobs/-relative paths a module imports (static and dynamic imports, re-exports, worker URLs). */
function importsOf(path: string): string[] {
  const source = readFileSync(join(JOBS_ROOT, path), 'utf8');
  const specifiers = [...source.matchAll(/(?:from|import\(?|new URL\()\s*'(\.{1,2}\/[^']+)'/g)].map(
    (match) => match[1] as string,
  );
  return specifiers.map((specifier) => relative(JOBS_ROOT, join(JOBS_ROOT, dirname(path), specifier)));
}

/** The job a jobs/-relative path belongs to, if any. */
function jobOf(path: string): string | undefined {
  const [folder, ...rest] = path.split('/');
  return rest.length > 0 && folder && JOB_FOLDERS.has(folder) ? folder : undefined;
}

describe('jobs/ layout', () => {
  it("has a folder per catalog job, named as the CLI names it, whose index.ts exports the job's run", async () => {
    for (const job of JOB_CATALOG) {
      const entry = join(JOBS_ROOT, job.name, 'index.ts');
      expect(existsSync(entry), entry).toBe(true);
      const module = (await import(entry)) as { run?: unknown };
      expect(typeof module.run, `${job.name}/index.ts run`).toBe('function');
    }
  });

  it('lets a job use another only through its entry, and no shared room use a job', () => {
    const violations: string[] = [];
    for (const path of runtimeModules()) {
      const importer = jobOf(path);
      for (const target of importsOf(path)) {
        const targetJob = jobOf(target);
        if (!targetJob || targetJob === importer) continue;
        const entryPoint = ENTRY_POINTS[path];
        if (!importer && !entryPoint) violations.push(`${path} (not a job) imports ${target}`);
        else if (target !== `${targetJob}/index.ts` && !entryPoint?.includes(target))
          violations.push(`${path} imports ${target}, not the entry`);
      }
    }
    expect(violations).toEqual([]);
  });
});
