import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../', import.meta.url).pathname;
const doc = readFileSync(`${ROOT}docs/architecture.md`, 'utf8');

/** The invariants table: number, then every test it cites (a file, and the titles after › in quotes). */
function invariantRows(): { number: number; cell: string }[] {
  return [...doc.matchAll(/^\| (\d+) \| [^|]+\| (.+) \|$/gm)].map((match) => ({
    number: Number(match[1]),
    cell: match[2] as string,
  }));
}

/** Each cited test file with the titles quoted after it (titles may hold semicolons, so split on the files). */
function citations(cell: string): { file: string; titles: string[] }[] {
  const files = [...cell.matchAll(/`([^`]+\.test\.ts)`/g)];
  return files.map((match, index) => {
    const segment = cell.slice(match.index, files[index + 1]?.index ?? cell.length);
    return {
      file: match[1] as string,
      titles: [...segment.matchAll(/"([^"]+)"/g)].map((title) => title[1] as string),
    };
  });
}

describe('docs/architecture.md', () => {
  it('numbers the invariants 1 to 11, each with at least one test', () => {
    expect(invariantRows().map((row) => row.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (const row of invariantRows())
      expect(citations(row.cell).length, `invariant ${row.number}`).toBeGreaterThan(0);
  });

  it('cites tests that exist, by file and by title', () => {
    for (const row of invariantRows()) {
      for (const { file, titles } of citations(row.cell)) {
        expect(existsSync(`${ROOT}${file}`), `invariant ${row.number}: ${file}`).toBe(true);
        const text = readFileSync(`${ROOT}${file}`, 'utf8');
        for (const title of titles)
          expect(text, `invariant ${row.number}: ${file} › "${title}"`).toContain(title);
      }
    }
  });
});
