/**
 * Turns the tests declared in model headers (`-- test: …`) into check queries. Every query returns at least one
 * row: `failing_rows` (bigint, repeated on each row) and `sample_key` (up to 5 distinct, null when none), so a
 * caller reads the count from the first row and the samples from all rows.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { Model, ModelLayer, ModelTest, ModelTestKind, TestSeverity } from './models.ts';

export interface ModelTestQuery {
  /** `<model>: <declaration>`, e.g. `gold.fact_orders: unique(order_id)`: stable across runs. */
  id: string;
  /** The table checked, `<layer>.<name>`. */
  model: string;
  layer: ModelLayer;
  file: string;
  kind: ModelTestKind;
  test: ModelTest;
  severity: TestSeverity;
  sql: string;
  /** A relationships test's target table that does not exist: every non-null value counts as unmatched. */
  missingTarget?: string;
  /**
   * `changed keys`: the check read only the rows of the keys an increment just recomputed (ChangedKeys); absent: the
   * whole table.
   */
  scope?: 'changed keys';
  /**
   * How the check is counted with the model's other checks in one statement (checkCountsSql): an aggregate, 0
   * exactly when the check passes, over a relation (see countOf). Absent for relationships, whose own query (count
   * and samples at once) is its only one.
   */
  count?: CheckCount;
}

/** An aggregate over a relation (a table, or a parenthesised select with its alias). */
export interface CheckCount {
  rows: string;
  aggregate: string;
}

/**
 * What an increment applied in place just changed (jobs/models/incremental.ts applyIncrement): `column` is the
 * model's recompute key, `keysTable` a table of the keys recomputed (column k), `values` per column kept for the
 * models downstream a table of its values in the rows deleted or written (changedValuesTable, column k).
 */
export interface ChangedKeysOf {
  column: string;
  keysTable: string;
  values?: ReadonlyMap<string, string>;
}

/** Per model applied in place in this build, what its increment changed. */
export type ChangedKeys = ReadonlyMap<string, ChangedKeysOf>;

/**
 * The physical table to read for a published name: the gate checks a layer's `__next` tables before they are
 * swapped in, while ids and findings keep the published names (the monitor, watchdog and incidents key on them).
 */
export type TableResolver = (table: string) => string;

const published: TableResolver = (table) => table;

export interface ModelTestResult extends ModelTestQuery {
  failingRows: number;
  sampleKeys: string[];
  passed: boolean;
  /** One line for findings and alerts: `2 failing rows, e.g. id=1; id=3` (null when passed). */
  details: string | null;
}

const SAMPLE_LIMIT = 5;
/** Width of a sample value in text form: enough for ids and timestamps, bounded for wide text. */
const SAMPLE_WIDTH = 256;

/**
 * One check query per declared test of the model, reading the tables `tableOf` names (default: published).
 * `missing` lists tables (as `tableOf` names them) known not to exist: a relationships test pointing at one
 * reads no parent at all.
 */
export function testQueries(
  model: Model,
  tableOf: TableResolver = published,
  missing: ReadonlySet<string> = new Set(),
  changedKeys: ChangedKeys = new Map(),
): ModelTestQuery[] {
  const keyColumns = modelKeyColumns(model);
  const changed = changedKeys.get(model.name);
  const table = tableOf(model.name);
  // Aliased by the caller: relationships reads it as `child`, the other checks as `changed_rows`.
  const changedRows = (of: ChangedKeysOf) =>
    `(select * from ${table} where ${of.column} in (select k from ${of.keysTable}))`;
  // Two lookups, not one `or` (which reads the whole table): the rows of the changed keys, then the other rows
  // pointing at a changed parent value.
  const changedOrPointing = (of: ChangedKeysOf, column: string, values: string) =>
    `(select * from ${table} where ${of.column} in (select k from ${of.keysTable}) union all ` +
    `select * from ${table} pointing where ${column} in (select k from ${values}) and not exists ` +
    `(select 1 from ${of.keysTable} recomputed where recomputed.k = pointing.${of.column}))`;
  return model.tests.map((test) => {
    const about = {
      id: `${model.name}: ${test.declaration}`,
      model: model.name,
      layer: model.layer,
      file: model.file,
      kind: test.kind,
      test,
      severity: test.severity,
    };
    if (test.kind === 'relationships') {
      const parent = tableOf(test.toModel);
      if (missing.has(parent))
        return {
          ...about,
          sql: testSql(table, test, keyColumns, null),
          missingTarget: test.toModel,
        };
      const parentValues = changed ? changedParentValues(model, test, changedKeys) : null;
      if (changed && parentValues !== null) {
        const rows = changedOrPointing(changed, test.column, parentValues);
        return { ...about, sql: testSql(rows, test, keyColumns, parent), scope: 'changed keys' as const };
      }
      return { ...about, sql: testSql(table, test, keyColumns, parent) };
    }
    const sharedColumn = changed ? checksChangedValuesOnly(test, changed.column) : null;
    if (changed && sharedColumn !== null) {
      const rows =
        `(select * from ${table} where ${sharedColumn} in ` +
        `(select ${sharedColumn} from ${changedRows(changed)} changed_rows)) sharing_rows`;
      return {
        ...about,
        sql: testSql(rows, test, keyColumns, null),
        scope: 'changed keys' as const,
        ...countOf(rows, test),
      };
    }
    if (changed && checksChangedKeysOnly(test, changed.column)) {
      const rows = `${changedRows(changed)} changed_rows`;
      return {
        ...about,
        sql: testSql(rows, test, keyColumns, null),
        scope: 'changed keys' as const,
        ...countOf(rows, test),
      };
    }
    return {
      ...about,
      sql: testSql(table, test, keyColumns, null),
      ...countOf(table, test),
    };
  });
}

/** The condition a failing row of a row-local test meets; null for unique and relationships (not row-local). */
function failsWhen(test: ModelTest): string | null {
  switch (test.kind) {
    case 'not_null':
      return test.columns.map((column) => `${column} is null`).join(' or ');
    case 'accepted_values': {
      const values = test.values.map((value) => `'${value.replaceAll("'", "''")}'`).join(', ');
      return `${test.column} is not null and ${textOf(test.column)} not in (${values})`;
    }
    case 'expression':
      // A null result passes, as in dbt's expression_is_true: nulls are not_null's job.
      return `not (${test.expression})`;
    default:
      return null;
  }
}

/**
 * How checkCountsSql counts the test, 0 exactly when it passes: a row-local test (not_null, accepted_values,
 * expression) sums the rows meeting its failing condition; a one-column unique takes the non-null values less the
 * distinct ones, in the same scan (a sort of the key: cheaper than the grouping its own query does, and no second
 * pass); a unique over several columns counts the duplicated combinations of its own grouping (no text key built
 * from the columns: values equal but written differently, 1.0 and 1.00, would look distinct).
 */
function countOf(rows: string, test: ModelTest): Pick<ModelTestQuery, 'count'> {
  switch (test.kind) {
    case 'relationships':
      return {};
    case 'unique': {
      const [column, ...more] = test.columns;
      if (column !== undefined && more.length === 0)
        return { count: { rows, aggregate: `count(${column}) - count(distinct ${column})` } };
      const columns = test.columns.join(', ');
      const duplicated =
        `(select ${columns} from ${rows} where ${notNull(test.columns)} ` +
        `group by ${columns} having count(*) > 1) duplicated`;
      return { count: { rows: duplicated, aggregate: 'count(*)' } };
    }
    default:
      return { count: { rows, aggregate: `sum(case when ${failsWhen(test)} then 1 else 0 end)` } };
  }
}

/**
 * One statement counting a model's checks (column `f<i>` for the i-th of `counts`, a bigint, 0 when that check
 * passes): the aggregates over the same relation in one scan (a table's not_null, accepted_values, expression and
 * one-column unique tests cost one pass instead of one each), the scans of different relations (a unique over
 * several columns, the whole table beside an increment's changed rows) cross joined into one row. Valid on
 * PostgreSQL and Redshift alike.
 */
export function checkCountsSql(counts: CheckCount[]): string {
  const scans = new Map<string, string[]>();
  for (const [index, count] of counts.entries())
    scans.set(count.rows, [
      ...(scans.get(count.rows) ?? []),
      `cast(coalesce(${count.aggregate}, 0) as bigint) as f${index}`,
    ]);
  const selects = [...scans].map(([rows, columns]) => `select ${columns.join(', ')} from ${rows}`);
  if (selects.length === 1) return selects[0] as string;
  return `select * from ${selects.map((select, index) => `(${select}) counted_${index}`).join(' cross join ')}`;
}

/**
 * For a blocking relationships test of a model applied in place, whose parent is one of its inputs and was applied
 * in place in this same build: the table of the parent's changed values of the column pointed at. Then only the
 * recomputed keys' rows and the rows pointing at one of those values are checked, and the check still fails exactly
 * when the whole table's would: the other rows passed it at the model's last publication, against the parent as it
 * was then (a parent publication the model did not see builds it whole: incremental.ts), and a parent row can only
 * have left in this build's increment, which named its value. Null otherwise: the whole table is checked.
 */
function changedParentValues(model: Model, test: ModelTest, changedKeys: ChangedKeys): string | null {
  if (test.kind !== 'relationships' || !inputRelationships(model).includes(test)) return null;
  return changedKeys.get(test.toModel)?.values?.get(test.toColumn) ?? null;
}

type RelationshipsTest = Extract<ModelTest, { kind: 'relationships' }>;

/** A model's blocking relationships checks whose parent it reads: an increment may recheck them by changed value. */
export function inputRelationships(model: Model): RelationshipsTest[] {
  return model.tests.filter(
    (test): test is RelationshipsTest =>
      test.kind === 'relationships' && test.severity === 'blocking' && model.dependsOn.includes(test.toModel),
  );
}

/**
 * Whether a test of a model whose increment was applied in place can read only the recomputed keys' rows, and
 * still fail exactly when the whole table would: the rows of the other keys are those the last published build
 * passed, unchanged, under the same tests (a changed test set changes the model's hash and builds it whole). True
 * for a blocking test that is row-local (not_null, accepted_values, expression) or a unique test whose columns
 * include the key (duplicates share the key, so they are all changed or all unchanged); a one-column unique test on
 * another column reads the rows sharing a changed row's value (checksChangedValuesOnly). A relationships test (its
 * parent may have changed: see changedParentValues) and a warn test (its finding counts every failing row, old ones
 * too) read the whole table.
 */
export function checksChangedKeysOnly(test: ModelTest, keyColumn: string): boolean {
  if (test.severity !== 'blocking') return false;
  switch (test.kind) {
    case 'not_null':
    case 'accepted_values':
    case 'expression':
      return true;
    case 'unique':
      return test.columns.includes(keyColumn);
    case 'relationships':
      return false;
  }
}

/**
 * The column of a blocking one-column unique test of an increment applied in place whose key (`keyColumn`) it does
 * not include, such as order lines unique on order_item_id but recomputed by order_id: the rows holding a value
 * found in the recomputed keys' rows are checked, and the check still fails exactly when the whole table's would.
 * A duplicate among the other rows alone was there at the last published build, which passed; an increment only
 * adds rows of its recomputed keys, so every new duplicate holds one of their values. Null for any other test.
 */
export function checksChangedValuesOnly(test: ModelTest, keyColumn: string): string | null {
  if (test.severity !== 'blocking' || test.kind !== 'unique' || test.columns.length !== 1) return null;
  const [column] = test.columns as [string];
  return column === keyColumn ? null : column;
}

/**
 * Runs every test of the models. A model's tests but relationships are first counted together in one statement
 * (checkCountsSql: one scan of the table for its row-local and one-column unique tests); only those that fail run
 * their own query, for the exact count and the samples. A relationships test runs its own query, count and samples
 * at once (it often fails as a warning, and would otherwise be read twice). A model in `changedKeys` has the tests
 * checksChangedKeysOnly allows run on its recomputed keys' rows only, and those checksChangedValuesOnly names on the
 * rows sharing their values.
 */
export async function runModelTests(
  db: SqlDatabase,
  models: Model[],
  options: { tableOf?: TableResolver; changedKeys?: ChangedKeys } = {},
): Promise<ModelTestResult[]> {
  const missing = await missingTargets(db, models, options.tableOf ?? published);
  const results: ModelTestResult[] = [];
  for (const model of models) {
    const queries = testQueries(model, options.tableOf, missing, options.changedKeys);
    const counted = await countChecksTogether(db, queries, model.file);
    for (const query of queries)
      results.push(
        counted.get(query) === 0 ? passedResult(query) : await runTestQuery(db, query, model.file),
      );
  }
  return results;
}

/**
 * The model's checks' counts from one statement (checkCountsSql), 0 for those that pass. A statement that fails (an
 * expression that errors on some row) fails the check naming every test it counted: inside the gate's transaction
 * a failed statement leaves nothing else runnable, so there is no running them one by one.
 */
async function countChecksTogether(
  db: SqlDatabase,
  queries: ModelTestQuery[],
  file: string,
): Promise<Map<ModelTestQuery, number>> {
  const group = queries.filter((query) => query.count !== undefined);
  const counts = new Map<ModelTestQuery, number>();
  if (group.length === 0) return counts;
  let row: Record<string, unknown> | undefined;
  try {
    [row] = await db.query(checkCountsSql(group.map((query) => query.count as CheckCount)));
  } catch (error) {
    const ids = group.map((query) => query.id).join(', ');
    throw new Error(`${ids} (${file}): check query failed: ${(error as Error).message}`);
  }
  if (!row) return counts;
  for (const [index, query] of group.entries()) counts.set(query, Number(row[`f${index}`] ?? 0));
  return counts;
}

function passedResult(query: ModelTestQuery): ModelTestResult {
  return { ...query, failingRows: 0, sampleKeys: [], passed: true, details: null };
}

async function runTestQuery(db: SqlDatabase, query: ModelTestQuery, file: string): Promise<ModelTestResult> {
  let rows: Record<string, unknown>[];
  try {
    rows = await db.query(query.sql);
  } catch (error) {
    throw new Error(`${query.id} (${file}): check query failed: ${(error as Error).message}`);
  }
  const failingRows = Number(rows[0]?.failing_rows ?? 0);
  const sampleKeys = rows.map((row) => row.sample_key).filter((key) => key !== null && key !== undefined);
  const samples = sampleKeys.map(String);
  const details =
    failingRows === 0
      ? null
      : `${failingRows} failing row(s)${samples.length > 0 ? `, e.g. ${samples.join('; ')}` : ''}` +
        (query.missingTarget ? ` (${query.missingTarget} does not exist)` : '');
  return { ...query, failingRows, sampleKeys: samples, passed: failingRows === 0, details };
}

/**
 * The relationships targets that do not exist: a model never built and not in this build (`only` on a warehouse
 * the stream service alone has filled). Their tests then fail on every non-null value, as declared, instead of
 * erroring: a warn test warns, a blocking one blocks. One query for all of them.
 */
async function missingTargets(
  db: SqlDatabase,
  models: Model[],
  tableOf: TableResolver,
): Promise<Set<string>> {
  const targets = [...new Set(models.flatMap((model) => relationshipParents(model).map(tableOf)))];
  if (targets.length === 0) return new Set();
  const names = targets.map((target) => target.split('.'));
  const found = await db.query<{ table_schema: unknown; table_name: unknown }>(
    'select table_schema, table_name from information_schema.tables where ' +
      names
        .map((_, index) => `(table_schema = $${2 * index + 1} and table_name = $${2 * index + 2})`)
        .join(' or '),
    names.flatMap(([schema, table]) => [schema ?? '', table ?? '']),
  );
  const existing = new Set(found.map((row) => `${String(row.table_schema)}.${String(row.table_name)}`));
  return new Set(targets.filter((target) => !existing.has(target)));
}

/** The model's key for samples: the columns of its first unique test, if it declares one. */
export function modelKeyColumns(model: Model): string[] {
  const unique = model.tests.find((test) => test.kind === 'unique');
  return unique?.kind === 'unique' ? unique.columns : [];
}

/** `parent` is the relationships target to read, null when it does not exist. */
function testSql(table: string, test: ModelTest, keyColumns: string[], parent: string | null): string {
  const keySample = sampleExpression(keyColumns);
  switch (test.kind) {
    case 'not_null': {
      // Name the null columns in the sample, so a multi-column test says which one failed.
      const nullList = concat(
        test.columns.map((column) => `case when ${column} is null then '${column} ' else '' end`),
      );
      const sample =
        keyColumns.length > 0
          ? `${keySample} || ' (null: ' || trim(${nullList}) || ')'`
          : `trim(${nullList})`;
      return wrap(`select ${sample} as sample_key, 1 as row_count from ${table} where ${failsWhen(test)}`);
    }
    case 'unique':
      return wrap(
        `select ${sampleExpression(test.columns)} as sample_key, count(*) as row_count from ${table} ` +
          `where ${notNull(test.columns)} ` +
          `group by ${test.columns.join(', ')} having count(*) > 1`,
      );
    case 'accepted_values': {
      const sample = `${keyColumns.length > 0 ? `${keySample} || ': ' || ` : ''}${textOf(test.column)}`;
      return wrap(`select ${sample} as sample_key, 1 as row_count from ${table} where ${failsWhen(test)}`);
    }
    case 'relationships': {
      const childKey = keyColumns.length > 0 ? `${keySample} || ' → ' || ` : '';
      const select = `select ${childKey}${textOf(`child.${test.column}`)} as sample_key, 1 as row_count from ${table} child`;
      if (parent === null) return wrap(`${select} where child.${test.column} is not null`);
      // An anti-join on the parent as it is: no distinct copy of its keys to build first.
      return wrap(
        `${select} where child.${test.column} is not null and not exists ` +
          `(select 1 from ${parent} parent where parent.${test.toColumn} = child.${test.column})`,
      );
    }
    case 'expression':
      return wrap(
        `select ${keyColumns.length > 0 ? keySample : 'cast(null as varchar(256))'} as sample_key, 1 as row_count ` +
          `from ${table} where ${failsWhen(test)}`,
      );
  }
}

function notNull(columns: string[]): string {
  return columns.map((column) => `${column} is not null`).join(' and ');
}

function wrap(failures: string): string {
  return [
    `with failures as (${failures}),`,
    'counted as (select coalesce(sum(row_count), 0) as failing_rows from failures),',
    `samples as (select distinct sample_key from failures where sample_key is not null order by sample_key limit ${SAMPLE_LIMIT})`,
    'select cast(counted.failing_rows as bigint) as failing_rows, samples.sample_key',
    'from counted left join samples on 1 = 1',
    'order by samples.sample_key',
  ].join('\n');
}

function sampleExpression(columns: string[]): string {
  if (columns.length === 0) return 'cast(null as varchar(256))';
  return concat(
    columns.map((column) => `'${column}=' || coalesce(${textOf(column)}, 'null')`),
    " || ', ' || ",
  );
}

function textOf(expression: string): string {
  return `cast(${expression} as varchar(${SAMPLE_WIDTH}))`;
}

function concat(parts: string[], separator = ' || '): string {
  return parts.join(separator);
}

/** The tables a model's checks read besides the model: its relationships' parents. */
export function relationshipParents(model: Model): string[] {
  return model.tests.flatMap((test) => (test.kind === 'relationships' ? [test.toModel] : []));
}
