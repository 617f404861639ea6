import nodeSqlParser from 'node-sql-parser';
import { describe, expect, it } from 'vitest';
import { renderModelSql } from './build.ts';
import { changedValuesTable, feedQueries, feedsOf, restrictedInput } from './incremental.ts';
import { checkCountsSql, testQueries } from './model-tests.ts';
import { loadModels, renameTableReferences, stripCommentsAndStrings } from './models.ts';

const models = loadModels();

/** Constructs PostgreSQL accepts and Redshift does not (or runs only on the leader node). See sql/README.md. */
const NOT_PORTABLE: [RegExp, string][] = [
  [/\bon\s+conflict\b/i, 'ON CONFLICT (use MERGE)'],
  [/\bdistinct\s+on\b/i, 'DISTINCT ON (use row_number())'],
  [/\bfilter\s*\(\s*where\b/i, 'FILTER (WHERE …) (use CASE inside the aggregate)'],
  [/\bgenerate_series\b/i, 'generate_series (leader-node only on Redshift: use WITH RECURSIVE)'],
  [/::/, ':: casts (use cast(x as type))'],
  [/\bjsonb?\b|\bjson_\w+|->>?/i, 'JSON functions'],
  [/\barray\b|\[\s*\]/i, 'arrays'],
  [/\bilike\s+any\b/i, 'ILIKE ANY'],
  [/\blateral\b/i, 'lateral joins'],
  [/\bas\s+text\b/i, 'the text type (Redshift makes it varchar(256))'],
  [/\bserial\b|\bidentity\b/i, 'serial / identity'],
  [
    /\bsha256\s*\(|\bsha2\s*\(|\bdateadd\b|\bdatediff\b|\bgetdate\b|\bsysdate\b/i,
    'an engine-specific helper (use a macro)',
  ],
];

/** Anything that makes a model's output depend on when or how often it runs (gold must be reproducible). */
const NON_DETERMINISTIC =
  /\bnow\s*\(|\bcurrent_(timestamp|date|time)\b|\brandom\s*\(|\bclock_timestamp\b|\bgetdate\b|\bsysdate\b/i;

describe('model SQL portability', () => {
  it.each(models.map((model) => [model.name, model] as const))(
    '%s avoids PostgreSQL-only syntax',
    (_name, model) => {
      const code = stripCommentsAndStrings(model.sql);
      for (const [pattern, what] of NOT_PORTABLE) {
        expect(pattern.test(code), `${model.file} uses ${what}`).toBe(false);
      }
      expect(NON_DETERMINISTIC.test(code), `${model.file} depends on the clock or randomness`).toBe(false);
    },
  );

  it('every aggregate window with an ORDER BY states its frame (Redshift requires it)', () => {
    for (const model of models) {
      const code = stripCommentsAndStrings(model.sql);
      for (const match of code.matchAll(
        /\b(sum|max|min|count|avg|first_value|last_value)\s*\([^()]*\)\s*over\s*\(([^()]*)\)/gi,
      )) {
        const window = match[2] as string;
        if (/order\s+by/i.test(window)) expect(window, model.file).toMatch(/\brows\s+between\b/i);
      }
    }
  });

  it("renders to SQL that node-sql-parser's Redshift grammar parses (models and their check queries)", () => {
    const parser = new nodeSqlParser.Parser();
    for (const model of models) {
      // The parser's Redshift grammar lacks the timestamptz type name, which Redshift itself accepts.
      const select = renderModelSql(model, 'redshift', {}).replaceAll('as timestamptz', 'as timestamp');
      expect(() => parser.astify(select, { database: 'redshift' }), model.file).not.toThrow();
      // As published, as the gate runs them (on __next), and with every relationships target missing.
      const next = (table: string) => `${table}__next`;
      const everyTarget = new Set(models.map((other) => other.name));
      // And as an in-place increment's checks read them: on its recomputed keys' rows only.
      const changedKeys = new Map([
        [model.name, { column: model.incremental?.recomputeKey ?? 'id', keysTable: 'ecomm_checked_keys_x' }],
      ]);
      const queries = [
        ...testQueries(model),
        ...testQueries(model, next),
        ...testQueries(model, undefined, everyTarget),
        ...testQueries(model, undefined, undefined, changedKeys),
      ];
      for (const query of queries) {
        expect(() => parser.astify(query.sql, { database: 'redshift' }), query.id).not.toThrow();
      }
      // The one statement counting the model's checks, as published and as an increment's checks read them.
      for (const set of [testQueries(model), testQueries(model, undefined, undefined, changedKeys)]) {
        const sql = checkCountsSql(set.flatMap((query) => (query.count ? [query.count] : [])));
        expect(() => parser.astify(sql, { database: 'redshift' }), `${model.file}: ${sql}`).not.toThrow();
      }
    }
  });

  it('renders the incremental builds to Redshift SQL: change feeds, keys, restricted inputs, delete + insert', () => {
    const parser = new nodeSqlParser.Parser();
    const parse = (sql: string, what: string) =>
      expect(
        () => parser.astify(sql.replaceAll('as timestamptz', 'as timestamp'), { database: 'redshift' }),
        what,
      ).not.toThrow();
    const incremental = models.filter((model) => model.incremental);
    expect(incremental.map((model) => model.name)).toEqual(
      expect.arrayContaining([
        'silver.clickstream_events',
        'silver.orders',
        'gold.fact_sessions',
        'gold.sales_analytics',
      ]),
    );
    for (const model of incremental) {
      const key = model.incremental?.recomputeKey as string;
      const renames = new Map<string, string>();
      for (const [index, feed] of feedsOf(model, 'redshift').entries()) {
        const queries = feedQueries(feed);
        if (!feed.upstream) parse(queries.profile, `${model.file}: rows per batch of ${feed.table}`);
        const since = { after: '2026-10-02 00:00:00.123456+00', cutoff: new Date('2026-10-01T00:00:00Z') };
        parse(queries.keysChanged({ ...since, lateBatches: [] }), `${model.file}: keys from ${feed.table}`);
        parse(queries.keysChanged({ ...since, lateBatches: ['b-1', 'b-2'] }), `${model.file}: late keys`);
        parse(
          queries.keysChanged({ ...since, lateBatches: ['b-1'], newBatches: ['b-3', 'b-4'] }),
          `${model.file}: keys of new batches`,
        );
        parse(
          queries.keysChanged({ ...since, lateBatches: [], newBatches: [] }),
          `${model.file}: no new batch`,
        );
        if (feed.restricts) {
          parse(
            restrictedInput(feed.restricts, 'ecomm_delta_keys'),
            `${model.file}: ${feed.table} restricted`,
          );
          renames.set(feed.restricts.table, `ecomm_delta_input_${index}`);
        }
      }
      const delta = renameTableReferences(model.sql, (table) => renames.get(table));
      parse(renderModelSql({ ...model, sql: delta }, 'redshift', {}), `${model.file}: delta rows`);
      parse(
        `delete from ${model.name} where ${key} in (select k from ecomm_delta_keys)`,
        `${model.file}: delete`,
      );
      parse(`insert into ${model.name} select * from ecomm_delta_rows`, `${model.file}: insert`);
      parse(
        `select k from ecomm_delta_keys union select ${key} as k from ecomm_delta_rows`,
        `${model.file}: checked keys`,
      );
      parse(
        `select distinct _batch_id as batch_id from bronze.orders where _batch_id in ('b-1')`,
        'batches gone',
      );
      // The rows an increment recomputes, kept before the delete; the values of a reader's recompute key in the
      // rows that left or arrived (compared on the columns the readers name), and the table's columns read for that.
      const values = changedValuesTable(model.name, 'order_date');
      parse(
        `select * from ${model.name} where ${key} in (select k from ecomm_delta_keys)`,
        `${model.file}: recomputed rows before the delete`,
      );
      parse(
        'select distinct order_date as k from (select order_id, order_date from ecomm_delta_old ' +
          'except select order_id, order_date from ecomm_delta_rows) left_rows',
        `${model.file}: changed values of the rows that left`,
      );
      parse(
        `insert into ${values} select distinct order_date from (select * from ecomm_delta_rows ` +
          'except select * from ecomm_delta_old) arrived_rows',
        `${model.file}: changed values of the rows that arrived`,
      );
      parse(
        `select cast(column_name as varchar(128)) as column_name from information_schema.columns
         where table_schema = 'gold' and table_name = 'fact_orders' order by ordinal_position`,
        "a table's columns",
      );
    }
  });
});
