/**
 * Models built side by side (BuildOptions.concurrency, TRANSFORM_CONCURRENCY) on PGlite and PostgreSQL: the same
 * published rows as one at a time, each model after what it reads, and a model failing beside others leaves the
 * layer as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { warehouseEngines } from '../../test/pg-database.ts';
import { buildLayer, buildModels, createBronzeTables, type ModelBuildResult } from './build.ts';
import { loadModels, type Model, parseModel } from './models.ts';
import { loadBronzeFixtures } from './test-fixtures.ts';

const vars = {};

describe.each(warehouseEngines('build_lanes'))('models built side by side on %s', (_engine, open) => {
  let db: SqlDatabase;
  let dispose: () => Promise<void>;
  let models: Model[];

  beforeAll(async () => {
    ({ db, dispose } = await open());
    models = loadModels();
    await createBronzeTables(db);
    await loadBronzeFixtures(db);
  });

  afterAll(async () => {
    await dispose();
  });

  /** Every silver and gold table's rows as text, in a stable order. */
  async function snapshot(): Promise<Record<string, string[]>> {
    const tables: Record<string, string[]> = {};
    for (const model of models) {
      const result = await db.query(`select t::text as row_text from ${model.name} t order by 1`);
      tables[model.name] = result
        .map((row) => String(row.row_text))
        .filter((row) => !/_processed_at/.test(row));
    }
    return tables;
  }

  const overlapping = (results: ModelBuildResult[]) =>
    results.some((a) =>
      results.some((b) => a !== b && a.startedAt < b.startedAt && b.startedAt < a.finishedAt),
    );

  it('publishes the same rows as one model at a time, each model after what it reads', async () => {
    await buildModels(db, models, { vars, fullRefresh: true, concurrency: 1 });
    const oneAtATime = await snapshot();
    const results = await buildModels(db, models, { vars, fullRefresh: true, concurrency: 2 });
    expect(results).toHaveLength(models.length);
    const finished = new Map(results.map((result) => [result.name, result.finishedAt.getTime()]));
    for (const result of results) {
      const model = models.find((candidate) => candidate.name === result.name) as Model;
      for (const dep of model.dependsOn.filter((name) => finished.has(name)))
        expect(finished.get(dep), `${model.name} after ${dep}`).toBeLessThanOrEqual(
          result.startedAt.getTime(),
        );
    }
    // Two at once somewhere (the fixtures' models take milliseconds, so compared by start and end).
    expect(overlapping(results.filter((result) => result.layer === 'gold'))).toBe(true);
    const sideBySide = await snapshot();
    for (const model of models) {
      // Stamps of when a row was processed differ between builds; the rows are what is compared.
      const stamped = (rows: string[]) =>
        rows.map((row) => row.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00/g, 'T'));
      expect(stamped(sideBySide[model.name] ?? []), model.name).toEqual(
        stamped(oneAtATime[model.name] ?? []),
      );
    }
  });

  it('a model failing while another builds publishes neither and leaves no __next table', async () => {
    const slow = parseModel(
      'sql/gold/lanes_slow.sql',
      '-- grain: one row per run\nselect count(*) as n from generate_series(1, 300000) as g(i)',
      'gold',
    );
    const broken = parseModel(
      'sql/gold/lanes_broken.sql',
      '-- grain: one row per nothing\nselect no_such_column from silver.orders',
      'gold',
    );
    await expect(buildLayer(db, [slow, broken], 'gold', { vars, concurrency: 2 })).rejects.toThrow(
      /model gold\.lanes_broken \(sql\/gold\/lanes_broken\.sql\) failed to build/,
    );
    const left = await db.query(
      "select table_name from information_schema.tables where table_name like 'lanes\\_%'",
    );
    expect(left).toEqual([]);
  });
});
