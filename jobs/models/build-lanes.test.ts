/**
 * Models built side by side (BuildOptions.concurrency, TRANSFORM_CONCURRENCY) on PGlite and PostgreSQL: the same
 * published rows as one at a time, each model after what it reads, and a model failing beside others leaves the
 * layer as it was.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { recordingQueries, tracingStatements, warehouseEngines } from '../../test/pg-database.ts';
import { buildLayer, buildModels, createBronzeTables, type ModelBuildResult } from './build.ts';
import { loadModels, type Model, parseModel } from './models.ts';
import { loadBronzeFixtures } from './test-fixtures.ts';

const vars = {};

describe.each(warehouseEngines('build_lanes'))('models built side by side on %s', (engine, open) => {
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

  /** The models the stream service also writes: built inside the publishing transaction. */
  const insideNames = new Set(['silver.clickstream_events', 'silver.order_events']);

  const overlapping = (results: ModelBuildResult[]) =>
    results.some((a) =>
      results.some((b) => a !== b && a.startedAt < b.startedAt && b.startedAt < a.finishedAt),
    );

  it("counts a whole build's rows off its CREATE TABLE AS, without a count query", async () => {
    const { db: recording, queries: queried } = recordingQueries(db);
    const results = await buildModels(recording, models, { vars, fullRefresh: true, concurrency: 2 });
    expect(queried.filter((sql) => /count\(\*\) as row_count from \S+__next/.test(sql))).toEqual([]);
    for (const result of results) {
      const [counted] = await db.query<{ n: number }>(
        `select cast(count(*) as integer) as n from ${result.name}`,
      );
      expect(result.rows, result.name).toBe(counted?.n);
    }
    expect(results.some((result) => result.rows > 0)).toBe(true);
  });

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
    // The silver event tables (built in the publishing transaction) start with silver's other models on
    // PostgreSQL, and after them on PGlite (one connection, which the transaction holds).
    const silver = results.filter((result) => result.layer === 'silver');
    const inside = silver.filter((result) => insideNames.has(result.name));
    const lastOutsideEnd = Math.max(
      ...silver
        .filter((result) => !insideNames.has(result.name))
        .map((result) => result.finishedAt.getTime()),
    );
    const firstInsideStart = Math.min(...inside.map((result) => result.startedAt.getTime()));
    expect(inside.map((result) => result.name).sort()).toEqual([...insideNames].sort());
    if (engine === 'PostgreSQL') expect(firstInsideStart).toBeLessThan(lastOutsideEnd);
    else expect(firstInsideStart).toBeGreaterThanOrEqual(lastOutsideEnd);
    // Built with autovacuum off (a rename would wait for it), published with it back on.
    const unvacuumed = await db.query(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('silver', 'gold') and c.reloptions is not null`,
    );
    expect(unvacuumed).toEqual([]);
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

  /** A stream-written silver model (built in the publishing transaction) over a bronze event table. */
  const eventModel = (name: string, bronze: string, pause: string) =>
    parseModel(
      `sql/silver/${name}.sql`,
      `-- grain: one row per event\n-- test: unique(event_id)\n-- incremental: unique_key=event_id lookback=1 hour\n` +
        `select distinct trim(e.event_id) as event_id, ${pause} as pause, current_timestamp as _processed_at from ${bronze} e`,
      'silver',
    );
  const otherModel = parseModel(
    'sql/silver/lanes_other.sql',
    '-- grain: one row per run\nselect 1 as n',
    'silver',
  );
  /** A second's sleep, then `value`; a division by the sleep's empty text fails only after it. */
  const afterSleep = (value: 'one' | 'division by zero') =>
    value === 'one'
      ? '1 + 0 * length(cast((select pg_sleep(1)) as text))'
      : '1 / length(cast((select pg_sleep(1)) as text))';

  afterEach(async () => {
    for (const table of ['silver.lanes_a_slow', 'silver.lanes_b_quick', 'silver.lanes_other'])
      await db.exec(`drop table if exists ${table}`);
  });

  it('an idle lane builds an event table the transaction has not reached, once it holds the stream locks', async () => {
    const slow = eventModel('lanes_a_slow', 'bronze.clickstream_events', afterSleep('one'));
    const quick = eventModel('lanes_b_quick', 'bronze.order_events', '1');
    const { db: traced, statements } = tracingStatements(db);
    const { built } = await buildLayer(traced, [slow, quick, otherModel], 'silver', {
      vars,
      fullRefresh: true,
      concurrency: 2,
    });
    expect(built.map((result) => result.name).sort()).toEqual([
      'silver.lanes_a_slow',
      'silver.lanes_b_quick',
      'silver.lanes_other',
    ]);
    const create = (table: string) =>
      statements.find((statement) => statement.sql.startsWith(`create table ${table}__next`));
    const slowBuild = create('silver.lanes_a_slow');
    const quickBuild = create('silver.lanes_b_quick');
    const lastLock = Math.max(
      ...statements
        .filter((statement) => statement.sql.startsWith('lock '))
        .map((statement) => statement.end),
    );
    expect(slowBuild?.inTransaction).toBe(true);
    if (engine === 'PostgreSQL') {
      // Another connection, beside the transaction's own build, after the locks that keep its inputs as they were.
      expect(quickBuild?.inTransaction).toBe(false);
      expect(quickBuild?.start).toBeGreaterThanOrEqual(lastLock);
      expect(quickBuild?.start).toBeLessThan(slowBuild?.end ?? 0);
    } else {
      expect(quickBuild?.inTransaction).toBe(true);
      expect(quickBuild?.start).toBeGreaterThanOrEqual(slowBuild?.end ?? 0);
    }
    for (const [table, bronze] of [
      ['silver.lanes_a_slow', 'bronze.clickstream_events'],
      ['silver.lanes_b_quick', 'bronze.order_events'],
    ]) {
      const [counts] = await db.query<{ published: number; expected: number }>(
        `select (select cast(count(*) as integer) from ${table}) as published,
                (select cast(count(distinct trim(event_id)) as integer) from ${bronze}) as expected`,
      );
      expect(counts?.published, table).toBe(counts?.expected);
      expect(counts?.published, table).toBeGreaterThan(0);
    }
  });

  it('an event table a lane built is dropped when the transaction fails', async () => {
    const published = eventModel('lanes_b_quick', 'bronze.order_events', '1');
    await buildLayer(db, [published, otherModel], 'silver', { vars, fullRefresh: true });
    const [before] = await db.query<{ n: number }>(
      'select cast(count(*) as integer) as n from silver.lanes_b_quick',
    );
    const failing = eventModel('lanes_a_slow', 'bronze.clickstream_events', afterSleep('division by zero'));
    const quick = eventModel('lanes_b_quick', 'bronze.order_events', '2');
    const { db: traced, statements } = tracingStatements(db);
    await expect(
      buildLayer(traced, [failing, quick, otherModel], 'silver', { vars, fullRefresh: true, concurrency: 2 }),
    ).rejects.toThrow(/model silver\.lanes_a_slow .* failed to build/);
    if (engine === 'PostgreSQL')
      expect(
        statements.some(
          (statement) =>
            statement.sql.startsWith('create table silver.lanes_b_quick__next') && !statement.inTransaction,
        ),
      ).toBe(true);
    const left = await db.query(
      "select table_name from information_schema.tables where table_name like 'lanes\\_%\\_\\_next'",
    );
    expect(left).toEqual([]);
    // The published table is the one built before, not the lane's.
    const [after] = await db.query<{ n: number; pause: number }>(
      'select cast(count(*) as integer) as n, cast(max(pause) as integer) as pause from silver.lanes_b_quick',
    );
    expect(after).toEqual({ n: before?.n, pause: 1 });
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

  it('a silver model failing while the event tables build in the publishing transaction publishes none of them', async () => {
    const silver = models.filter((model) => model.layer === 'silver');
    const stamps = () =>
      db.query(
        'select cast(max(_processed_at) as varchar(40)) as events, (select cast(max(_processed_at) as varchar(40)) from silver.orders) as orders from silver.clickstream_events',
      );
    const before = await stamps();
    // Fails at its last row: on PostgreSQL the event tables' transaction is building by then.
    const failing = parseModel(
      'sql/silver/lanes_failing.sql',
      '-- grain: one row per number\nselect 1 / (g.i - 200000) as n from generate_series(1, 200000) as g(i)',
      'silver',
    );
    await expect(
      buildLayer(db, [...silver, failing], 'silver', { vars, fullRefresh: true, concurrency: 2 }),
    ).rejects.toThrow(/model silver\.lanes_failing \(sql\/silver\/lanes_failing\.sql\) failed to build/);
    const left = await db.query(
      "select table_schema, table_name from information_schema.tables where table_name like '%\\_\\_next' or table_name like 'lanes\\_%'",
    );
    expect(left).toEqual([]);
    // Neither the event tables (rebuilt in the rolled-back transaction) nor silver's other models were swapped in.
    expect(await stamps()).toEqual(before);
  });
});
