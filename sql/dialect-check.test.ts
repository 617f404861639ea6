/**
 * Every SQL file in sql/ must run on both warehouse engines (sql/README.md, "Portability rules"):
 * - PostgreSQL: parsed by libpg-query, PostgreSQL's own parser compiled to wasm (its grammar is PostgreSQL 18's, a
 *   superset of the 15 we target: it proves syntax, not availability in 15).
 * - Redshift: parsed by node-sql-parser's Redshift grammar, then its syntax tree is searched for the constructs
 *   Redshift rejects (test/redshift-sql.ts). That grammar is lenient (it accepts ON CONFLICT and DISTINCT ON), so the
 *   tree check is what catches PostgreSQL-only SQL; jobs/transform/portability.test.ts adds text rules (clock
 *   functions, frames).
 * Each file is checked as the jobs run it: macros expanded per dialect, a model as `create table … as <select>`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parsePostgresSql } from 'libpg-query';
import { describe, expect, it } from 'vitest';
import type { SqlDialect } from '../adapters/warehouse/sql-database.ts';
import { renderModelSql } from '../jobs/models/build.ts';
import { checkCountsSql, testQueries } from '../jobs/models/model-tests.ts';
import { loadBronzeTables, loadModels, SQL_ROOT } from '../jobs/models/models.ts';
import { redshiftParser, redshiftProblems } from '../test/redshift-sql.ts';
import { expandMacros } from './dialects/macros.ts';

const VARS = {};

/** Throws PostgreSQL's syntax error; returns the number of statements. */
async function parsePostgres(sql: string): Promise<number> {
  return (await parsePostgresSql(sql)).stmts?.length ?? 0;
}

/**
 * The grammar lacks CREATE TABLE AS (Redshift has it): models are parsed wrapped when it learns CTAS, as their SELECT
 * until then.
 */
const REDSHIFT_GRAMMAR_HAS_CTAS = (() => {
  try {
    redshiftParser.astify('create table t as select 1 as a', { database: 'redshift' });
    return true;
  } catch {
    return false;
  }
})();

interface SqlUnit {
  /** The file, plus the check query for a model's declared tests. */
  name: string;
  /** What runs on each engine; undefined means the file never runs there (the OLTP source schema). */
  render: (dialect: SqlDialect) => string | undefined;
  /** A model whose build wraps the SELECT in CREATE TABLE AS (see jobs/models/build.ts). */
  buildsTable?: string;
}

function sqlUnits(): SqlUnit[] {
  const units: SqlUnit[] = [];
  for (const table of loadBronzeTables()) {
    units.push({ name: table.file, render: (dialect) => expandMacros(table.sql, dialect, VARS) });
  }
  const ops = join(SQL_ROOT, 'ops');
  for (const file of readdirSync(ops).filter((name) => name.endsWith('.sql'))) {
    const text = readFileSync(join(ops, file), 'utf8');
    units.push({ name: `sql/ops/${file}`, render: (dialect) => expandMacros(text, dialect, VARS) });
  }
  for (const model of loadModels()) {
    const next = `${model.name}__next`;
    units.push({
      name: model.file,
      buildsTable: next,
      render: (dialect) => renderModelSql(model, dialect, VARS),
    });
    for (const query of testQueries(model))
      units.push({ name: `${model.file} ${query.id}`, render: () => query.sql });
    // The one statement counting the model's checks (jobs/models/model-tests.ts runModelTests).
    const counted = testQueries(model).flatMap((query) => (query.count ? [query.count] : []));
    if (counted.length > 0)
      units.push({ name: `${model.file} checks counted together`, render: () => checkCountsSql(counted) });
  }
  const source = readFileSync(join(SQL_ROOT, 'source', 'schema.sql'), 'utf8');
  units.push({
    name: 'sql/source/schema.sql',
    render: (dialect) => (dialect === 'postgres' ? source : undefined),
  });
  return units;
}

const units = sqlUnits();
const asTable = (unit: SqlUnit, select: string) =>
  unit.buildsTable ? `create table ${unit.buildsTable} as\n${select}` : select;

describe('SQL dialect check: PostgreSQL', () => {
  it.each(units.map((unit) => [unit.name, unit] as const))('%s parses as PostgreSQL', async (_name, unit) => {
    const sql = unit.render('postgres') as string;
    expect(await parsePostgres(asTable(unit, sql))).toBeGreaterThan(0);
  });

  it('fails on SQL PostgreSQL cannot parse, so the check can fail', async () => {
    await expect(parsePostgres('create tabel bronze.x (a varchar(10))')).rejects.toThrow(
      /syntax error at or near/,
    );
  });
});

describe('SQL dialect check: Redshift', () => {
  const onRedshift = units.filter((unit) => unit.render('redshift') !== undefined);
  it.each(onRedshift.map((unit) => [unit.name, unit] as const))(
    '%s parses as Redshift and uses nothing Redshift rejects',
    (_name, unit) => {
      const sql = unit.render('redshift') as string;
      expect(redshiftProblems(REDSHIFT_GRAMMAR_HAS_CTAS ? asTable(unit, sql) : sql)).toEqual([]);
    },
  );

  it('flags ON CONFLICT and DISTINCT ON, which PostgreSQL accepts and Redshift rejects', async () => {
    const upsert = "insert into ops.watermarks (source) values ('orders') on conflict do nothing";
    const latest =
      'select distinct on (order_id) order_id, status from silver.orders order by order_id, updated_at';
    for (const sql of [upsert, latest]) expect(await parsePostgres(sql)).toBe(1);
    expect(redshiftProblems(upsert)).toEqual(['ON CONFLICT (use MERGE)']);
    expect(redshiftProblems(latest)).toEqual(['DISTINCT ON (use row_number())']);
    expect(
      redshiftProblems('select count(*) filter (where a > 1), b::integer from t, lateral (select 1) as x'),
    ).toEqual([
      'FILTER (WHERE …) (use CASE inside the aggregate)',
      ':: casts (use cast(x as type))',
      'lateral joins',
    ]);
  });

  it('fails on SQL the Redshift grammar cannot parse, and ignores look-alikes inside strings', () => {
    expect(() => redshiftProblems('select from where')).toThrow();
    expect(
      redshiftProblems("select 'on conflict do nothing' as note, cast(a as integer) as n from t"),
    ).toEqual([]);
  });
});
