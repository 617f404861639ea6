import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { recordingQueries, warehouseEngines } from '../../test/pg-database.ts';
import { expectRedshiftAccepts, recordRedshiftSql } from '../../test/redshift-sql.ts';
import {
  type ChangedKeys,
  checkCountsSql,
  type ModelTestQuery,
  runModelTests,
  testQueries,
} from './model-tests.ts';
import { loadModels, type Model, parseModel } from './models.ts';

/**
 * A model's checks are counted together in one statement, and only a failing one runs its own query: the outcome
 * must be exactly that of running every check's own query (count, samples, details), for each kind of test, passing
 * and failing, blocking and warn, on the whole table and on an increment's changed keys.
 */

const checked = parseModel(
  'sql/silver/checked.sql',
  [
    '-- grain: one row per fixture row, some of them deliberately bad',
    '-- test: unique(id)',
    '-- test: unique(a, b)',
    '-- test: unique(amount)',
    '-- test: unique(b, status)',
    '-- test: not_null(id, status)',
    '-- test: not_null(b)',
    '-- test[warn]: not_null(a)',
    '-- test: accepted_values(status; pending, shipped)',
    '-- test: accepted_values(status; pending, shipped, lost)',
    '-- test[warn]: expression(amount >= 0)',
    '-- test: expression(amount > -100)',
    '-- test: relationships(parent_id; silver.parents.id)',
    '-- test[warn]: relationships(id; silver.parents.id)',
    '-- test[warn]: relationships(parent_id; silver.never_built.id)',
    'select 1 as id',
  ].join('\n'),
  'silver',
);
const clean = parseModel(
  'sql/silver/clean.sql',
  [
    '-- grain: one row per parent',
    '-- test: unique(id)',
    '-- test: unique(id, label)',
    '-- test: not_null(id, label)',
    '-- test: accepted_values(label; one, two, three)',
    '-- test: expression(id between 1 and 3)',
    '-- test[warn]: expression(id > 0)',
    '-- test: relationships(id; silver.parents.id)',
    'select 1 as id',
  ].join('\n'),
  'silver',
);
/** Without a unique test: no key for the samples, and a scan with no distinct count. */
const keyless = parseModel(
  'sql/silver/keyless.sql',
  [
    '-- grain: one row per fixture row',
    '-- test: not_null(status)',
    '-- test[warn]: expression(amount < 10)',
    'select 1 as id',
  ].join('\n'),
  'silver',
);

const FIXTURES = [
  'create schema if not exists silver',
  "create table silver.parents as select 1 as id, cast('one' as varchar(10)) as label union all select 2, 'two' union all select 3, 'three'",
  'create table silver.clean as select * from silver.parents',
  // id 1 twice; (a, b) = (1, 1.0) and (1, 1.00): equal numbers written differently, still duplicates.
  [
    'create table silver.checked as',
    "select 1 as id, 1 as a, cast(1.0 as numeric) as b, cast('pending' as varchar(10)) as status, 1 as parent_id, 10 as amount",
    "union all select 1, 1, cast(1.00 as numeric), 'shipped', 2, 5",
    'union all select 2, 2, cast(2 as numeric), null, 9, -1',
    "union all select 3, null, cast(3 as numeric), 'lost', null, 0",
    "union all select null, 4, cast(4 as numeric), 'pending', 3, null",
  ].join(' '),
  'create table silver.keyless as select status, amount from silver.checked',
  'create table silver.changed_keys as select 2 as k union all select 3',
  // Child 1 changed, pointing at parent 1; child 2 unchanged, pointing at 4 (never a parent); child 3 unchanged,
  // pointing at 5, a parent value the parent's increment just changed (its row gone).
  'create table silver.child as select 1 as id, 1 as parent_id union all select 2, 4 union all select 3, 5',
  'create table silver.child_keys as select 1 as k',
  'create table silver.parent_values as select 5 as k',
];

/** What one query per check gives: each check's own query, its count and samples read as runModelTests reads them. */
async function oneQueryPerCheck(db: SqlDatabase, queries: ModelTestQuery[]) {
  const outcomes = [];
  for (const query of queries) {
    const rows = await db.query(query.sql);
    const failingRows = Number(rows[0]?.failing_rows ?? 0);
    const sampleKeys = rows
      .map((row) => row.sample_key)
      .filter((key) => key !== null && key !== undefined)
      .map(String);
    const details =
      failingRows === 0
        ? null
        : `${failingRows} failing row(s)${sampleKeys.length > 0 ? `, e.g. ${sampleKeys.join('; ')}` : ''}` +
          (query.missingTarget ? ` (${query.missingTarget} does not exist)` : '');
    outcomes.push({
      id: query.id,
      severity: query.severity,
      passed: failingRows === 0,
      failingRows,
      sampleKeys,
      details,
    });
  }
  return outcomes;
}

const outcome = ({ id, severity, passed, failingRows, sampleKeys, details }: ModelTestQuery & Outcome) => ({
  id,
  severity,
  passed,
  failingRows,
  sampleKeys,
  details,
});
interface Outcome {
  passed: boolean;
  failingRows: number;
  sampleKeys: string[];
  details: string | null;
}

describe.each(warehouseEngines('model_tests'))('checks counted together on %s', (_engine, open) => {
  let db: SqlDatabase;
  let dispose: () => Promise<void>;
  const missing = new Set(['silver.never_built']);
  const models: Model[] = [checked, clean, keyless];

  beforeAll(async () => {
    ({ db, dispose } = await open());
    await db.exec(FIXTURES.join(';\n'));
  });
  afterAll(async () => {
    await dispose();
  });

  const recording = () => {
    const { db: recorder, queries: sent } = recordingQueries(db);
    return { recorder, sent };
  };

  it('gives every check the outcome of its own query: count, samples, details, severity', async () => {
    const { recorder, sent } = recording();
    const results = await runModelTests(recorder, models);
    const expected = [];
    for (const model of models)
      expected.push(...(await oneQueryPerCheck(db, testQueries(model, undefined, missing))));
    expect(results.map(outcome)).toEqual(expected);
    // Every kind both passes and fails somewhere, blocking and warn.
    expect(results.filter((result) => !result.passed).map((result) => result.test.declaration)).toEqual([
      'unique(id)',
      'unique(a, b)',
      'not_null(id, status)',
      'not_null(a)',
      'accepted_values(status; pending, shipped)',
      'expression(amount >= 0)',
      'relationships(parent_id; silver.parents.id)',
      'relationships(parent_id; silver.never_built.id)',
      'not_null(status)',
      'expression(amount < 10)',
    ]);
    expect(Object.fromEntries(results.map((result) => [result.id, result.details]))).toMatchObject({
      'silver.checked: unique(id)': '2 failing row(s), e.g. id=1',
      'silver.checked: unique(a, b)': '2 failing row(s), e.g. a=1, b=1.0',
      'silver.checked: not_null(id, status)':
        '2 failing row(s), e.g. id=2 (null: status); id=null (null: id)',
      'silver.checked: relationships(parent_id; silver.parents.id)': '1 failing row(s), e.g. id=2 → 9',
      'silver.checked: relationships(parent_id; silver.never_built.id)':
        '4 failing row(s), e.g. id=1 → 1; id=1 → 2; id=2 → 9; id=null → 3 (silver.never_built does not exist)',
      'silver.keyless: expression(amount < 10)': '1 failing row(s)',
    });
    // One query for the relationships targets, one counting statement per model, each relationships test's own
    // query, and the own query of each other check that failed (8 of them): nothing for the checks that passed.
    const targets = sent.filter((sql) => sql.includes('information_schema.tables'));
    const counting = sent.filter(
      (sql) => !sql.startsWith('with failures') && !sql.includes('information_schema'),
    );
    const own = sent.filter((sql) => sql.startsWith('with failures'));
    expect(targets).toHaveLength(1);
    expect(counting).toHaveLength(models.length);
    expect(own).toHaveLength(4 + 8);
    expect(sent).toHaveLength(1 + models.length + 4 + 8);
  });

  it("counts an increment's checks on its changed keys where they may, the others on the whole table", async () => {
    const changedKeys: ChangedKeys = new Map([
      ['silver.checked', { column: 'id', keysTable: 'silver.changed_keys' }],
    ]);
    const queries = testQueries(checked, undefined, missing, changedKeys);
    expect(
      queries.filter((query) => query.scope === 'changed keys').map((query) => query.test.declaration),
    ).toEqual([
      'unique(id)',
      'unique(amount)',
      'not_null(id, status)',
      'not_null(b)',
      'accepted_values(status; pending, shipped)',
      'accepted_values(status; pending, shipped, lost)',
      'expression(amount > -100)',
    ]);
    const { recorder, sent } = recording();
    const results = await runModelTests(recorder, [checked], { changedKeys });
    expect(results.map(outcome)).toEqual(await oneQueryPerCheck(db, queries));
    // Keys 2 and 3 hold no duplicate id and no null id: those checks pass there, as they would not on every row.
    expect(results.find((result) => result.test.declaration === 'unique(id)')?.passed).toBe(true);
    expect(results.find((result) => result.test.declaration === 'not_null(id, status)')?.failingRows).toBe(1);
    const counting = sent.filter(
      (sql) => !sql.startsWith('with failures') && !sql.includes('information_schema'),
    );
    expect(counting).toHaveLength(1);
    expect(counting[0]).toContain('silver.changed_keys');
  });

  it('checks a one-column unique test on another column than the key by the values of the changed rows', async () => {
    const lines = parseModel(
      'sql/silver/lines.sql',
      ['-- grain: one row per line', '-- test: unique(line_id)', 'select 1 as order_id, 1 as line_id'].join(
        '\n',
      ),
      'silver',
    );
    // Order 2 was recomputed and now holds line 10, which unchanged order 1 also holds: a duplicate the increment
    // made. Lines 30 of orders 3 and 4 (both unchanged) were duplicated before, so the last build did not pass them.
    await db.exec('drop table if exists silver.lines');
    await db.exec(
      'create table silver.lines as select 1 as order_id, 10 as line_id union all select 1, 11 ' +
        'union all select 2, 10 union all select 2, 20 union all select 3, 30 union all select 4, 30',
    );
    await db.exec('drop table if exists silver.lines_keys');
    await db.exec('create table silver.lines_keys as select 2 as k');
    const changedKeys: ChangedKeys = new Map([
      ['silver.lines', { column: 'order_id', keysTable: 'silver.lines_keys' }],
    ]);
    const [changed] = await runModelTests(db, [lines], { changedKeys });
    expect(changed).toMatchObject({ scope: 'changed keys', passed: false, failingRows: 2 });
    expect(changed?.sampleKeys).toEqual(['line_id=10']);
    const [whole] = await runModelTests(db, [lines]);
    expect(whole).toMatchObject({ passed: false, failingRows: 4 });
    // Without the duplicate the increment made, the rows sharing the changed rows' values pass.
    await db.exec('delete from silver.lines where order_id = 1');
    const [clean] = await runModelTests(db, [lines], { changedKeys });
    expect(clean).toMatchObject({ scope: 'changed keys', passed: true });
  });

  it("checks a relationships test of an increment on its changed keys and on the rows pointing at a value its parent's increment changed", async () => {
    const child = parseModel(
      'sql/silver/child.sql',
      [
        '-- grain: one row per child',
        '-- test: unique(id)',
        '-- test: relationships(parent_id; silver.parents.id)',
        '-- test[warn]: relationships(id; silver.parents.id)',
        'select id, id as parent_id from silver.parents',
      ].join('\n'),
      'silver',
    );
    const childChanged = { column: 'id', keysTable: 'silver.child_keys' };
    const parentChanged = {
      column: 'id',
      keysTable: 'silver.changed_keys',
      values: new Map([['id', 'silver.parent_values']]),
    };
    const both: ChangedKeys = new Map([
      ['silver.child', childChanged],
      ['silver.parents', parentChanged],
    ]);
    const failing = async (changedKeys: ChangedKeys) => {
      const results = await runModelTests(db, [child], { changedKeys });
      return results
        .filter((result) => result.test.kind === 'relationships')
        .map((result) => [result.test.declaration, result.scope ?? 'whole table', result.sampleKeys]);
    };
    // The parent applied in this build: the changed child and the child pointing at the changed value (3 -> 5); the
    // orphan of an unchanged child pointing at an unchanged value (2 -> 4) is one its last publication could not
    // have passed. The warn test counts every failing row, old ones too.
    expect(await failing(both)).toEqual([
      ['relationships(parent_id; silver.parents.id)', 'changed keys', ['id=3 → 5']],
      ['relationships(id; silver.parents.id)', 'whole table', []],
    ]);
    // The parent not applied here (rebuilt whole, or not an increment): the whole table.
    expect(await failing(new Map([['silver.child', childChanged]]))).toEqual([
      ['relationships(parent_id; silver.parents.id)', 'whole table', ['id=2 → 4', 'id=3 → 5']],
      ['relationships(id; silver.parents.id)', 'whole table', []],
    ]);
    // A parent the model does not read: a publication of it the model missed would not be seen, so the whole table.
    const notRead = { ...child, dependsOn: [] };
    const [restricted] = testQueries(notRead, undefined, new Set(), both).filter(
      (query) => query.kind === 'relationships',
    );
    expect(restricted?.scope).toBeUndefined();
  });

  it('counts 0 for every check of a clean table, one column per check', async () => {
    const count = checkCountsSql(testQueries(clean).flatMap((query) => (query.count ? [query.count] : [])));
    const [row] = await db.query(count);
    expect(Object.values(row ?? {}).map(Number)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('the counting statement on Redshift', () => {
  const models = loadModels();
  const next = (table: string) => (table.startsWith('bronze.') ? table : `${table}__next`);

  /** A recorder whose every count is 1, so each check's own query is sent too; `existing` answers the targets query. */
  const recorder = (existing: boolean) =>
    recordRedshiftSql((sql) => {
      if (sql.includes('information_schema.tables'))
        return existing
          ? models.flatMap((model) => [
              { table_schema: model.layer, table_name: model.name.split('.')[1] },
              { table_schema: model.layer, table_name: `${model.name.split('.')[1]}__next` },
            ])
          : [];
      if (sql.startsWith('with failures')) return [{ failing_rows: 1, sample_key: 'id=1' }];
      return [Object.fromEntries(Array.from({ length: 40 }, (_, index) => [`f${index}`, 1]))];
    });

  it("parses as Redshift and uses nothing Redshift rejects: every model's statement, as published, on __next, on changed keys", async () => {
    // Each incremental model with a changed-values table of every column a relationships test points at in it.
    const pointedAt = models.flatMap((model) =>
      model.tests.flatMap((test) =>
        test.kind === 'relationships' ? [[test.toModel, test.toColumn] as const] : [],
      ),
    );
    const changedKeys: ChangedKeys = new Map(
      models
        .filter((model) => model.incremental)
        .map((model) => [
          model.name,
          {
            column: model.incremental?.recomputeKey as string,
            keysTable: 'ecomm_checked_keys_x',
            values: new Map(
              pointedAt
                .filter(([table]) => table === model.name)
                .map(([, column]) => [column, 'ecomm_changed_x']),
            ),
          },
        ]),
    );
    for (const existing of [true, false]) {
      const { db, sent } = recorder(existing);
      await runModelTests(db, models);
      await runModelTests(db, models, { tableOf: next });
      await runModelTests(db, models, { changedKeys });
      const counting = sent.filter(
        (sql) => !sql.startsWith('with failures') && !sql.includes('information_schema'),
      );
      // One counting statement per model and run, several relations cross joined where a model needs them.
      expect(counting).toHaveLength(3 * models.length);
      expect(counting.some((sql) => sql.includes(' cross join '))).toBe(true);
      expect(counting.some((sql) => sql.includes('count(distinct '))).toBe(true);
      expectRedshiftAccepts(sent, '2026-10-01 00:00:00');
    }
  });
});
