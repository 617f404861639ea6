/**
 * A validation thread loads what checking a batch needs and no more: each thread loads its modules itself, and the
 * job's context (with every adapter behind it) cost 0.45 CPU-s per thread against ~0.2 without.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = new URL('../../', import.meta.url).pathname;

/**
 * Every repository module a module loads, following relative static imports and re-exports (not `import type`).
 * Not a dependency-cruiser `reachable` rule: with tsPreCompilationDeps (which the import-direction rules need) it
 * follows type-only imports too, which load nothing (raw-batch.ts names the stream adapter's message types).
 */
function loadedModules(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const source = readFileSync(join(REPO, path), 'utf8');
    for (const match of source.matchAll(
      /^(?:import|export)\s+(?!type\b)[^;]*?from\s+'(\.{1,2}\/[^']+\.ts)'/gms,
    ))
      visit(relative(REPO, join(REPO, dirname(path), match[1] as string)));
  };
  visit(entry);
  return seen;
}

describe('a validation thread', () => {
  it("loads the contract checks and the lake, but not the job's context, the warehouse or the stream", () => {
    const loaded = loadedModules('jobs/validate/validate-thread.ts');
    expect(loaded).toContain('jobs/validate/records.ts');
    expect(loaded).toContain('jobs/validate/raw-records.ts');
    expect(loaded).toContain('adapters/storage/index.ts');
    // The warehouse's interface module (the bulk load's error class) is no driver.
    const unwanted = [...loaded].filter((path) =>
      /^(jobs\/context\.ts|jobs\/validate\/index\.ts|adapters\/(warehouse\/(?!sql-database\.ts)|stream\/|source\/))/.test(
        path,
      ),
    );
    expect(unwanted).toEqual([]);
  });
});
