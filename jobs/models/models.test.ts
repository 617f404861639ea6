import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  findReferences,
  loadModels,
  type Model,
  namedWords,
  orderModels,
  parseModel,
  parseTestLine,
} from './models.ts';

const roots: string[] = [];

/** A throwaway sql/ folder: files maps `layer/name.sql` to its text; one bronze table is always present. */
function sqlRootWith(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'models-test-'));
  roots.push(root);
  const all = {
    'bronze/orders.sql':
      '-- grain: one row per extracted order version\ncreate table if not exists bronze.orders (order_id varchar(65535));',
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function model(name: string, dependsOn: string[]): Model {
  const [layer] = name.split('.') as ['silver' | 'gold'];
  return {
    name,
    layer,
    file: `sql/${name.replace('.', '/')}.sql`,
    grain: 'one row per x',
    tests: [],
    dependsOn,
    sql: '',
  };
}

describe('loadModels on the repository', () => {
  const models = loadModels();
  const names = models.map((entry) => entry.name);

  it('finds every silver and gold model with a grain and at least one blocking test', () => {
    expect(names).toEqual(
      expect.arrayContaining([
        'silver.customers',
        'silver.customer_versions',
        'silver.products',
        'silver.product_versions',
        'silver.orders',
        'silver.order_items',
        'silver.fx_rates',
        'silver.clickstream_events',
        'silver.order_events',
        'silver.crm_contacts',
        'silver.crm_contact_versions',
        'silver.crm_companies',
        'silver.crm_contact_companies',
        'silver.sales_history',
        'gold.fact_orders',
        'gold.fact_order_line_items',
        'gold.dim_customers',
        'gold.dim_products',
        'gold.dim_date',
        'gold.fact_sessions',
        'gold.fact_cart_events',
        'gold.sales_analytics',
        'gold.agg_daily_sales',
        'gold.agg_sales_kpi',
        'gold.agg_product_kpi',
        'gold.agg_customer_kpi',
        'gold.customer_segments',
        'gold.product_performance',
        'gold.session_order_products',
        'gold.session_products',
        'gold.order_conversions',
        'gold.marketing_attribution',
        'gold.agg_daily_sales_history',
      ]),
    );
    for (const entry of models) {
      expect(entry.grain).toMatch(/^one row per /);
      expect(entry.tests.some((test) => test.severity === 'blocking')).toBe(true);
    }
  });

  it('orders every model after the models it reads', () => {
    for (const [index, entry] of models.entries()) {
      for (const dep of entry.dependsOn.filter((name) => !name.startsWith('bronze.'))) {
        expect(names.indexOf(dep), `${entry.name} reads ${dep}`).toBeLessThan(index);
      }
    }
    expect(names.indexOf('silver.orders')).toBeLessThan(names.indexOf('gold.fact_orders'));
    expect(names.indexOf('gold.fact_orders')).toBeLessThan(names.indexOf('gold.agg_daily_sales'));
    expect(names.indexOf('gold.dim_customers')).toBeLessThan(names.indexOf('gold.sales_analytics'));
  });

  it('derives dependencies from the body: silver reads bronze, gold reads silver (and gold only when it says why)', () => {
    const byName = new Map(models.map((entry) => [entry.name, entry]));
    expect(byName.get('silver.orders')?.dependsOn).toEqual(['bronze.orders', 'silver.deleted_keys']);
    expect(byName.get('gold.fact_orders')?.dependsOn).toEqual([
      'silver.fx_rates',
      'silver.order_items',
      'silver.orders',
    ]);
    for (const entry of models.filter((candidate) =>
      candidate.dependsOn.some((dep) => dep.startsWith('gold.')),
    )) {
      expect(entry.readsOwnLayer, entry.name).toBeTruthy();
    }
  });
});

describe('orderModels', () => {
  it('breaks ties alphabetically and is stable whatever the input order', () => {
    const models = [
      model('gold.b', ['silver.z']),
      model('silver.z', ['bronze.orders']),
      model('gold.a', ['silver.z']),
      model('silver.y', []),
    ];
    const expected = ['silver.y', 'silver.z', 'gold.a', 'gold.b'];
    expect(orderModels(models).map((entry) => entry.name)).toEqual(expected);
    expect(orderModels([...models].reverse()).map((entry) => entry.name)).toEqual(expected);
  });

  it('names the models and files of a cycle', () => {
    const models = [model('gold.a', ['gold.b']), model('gold.b', ['gold.c']), model('gold.c', ['gold.a'])];
    expect(() => orderModels(models)).toThrow(
      /dependency cycle: gold\.a → gold\.b → gold\.c → gold\.a \(files: sql\/gold\/a\.sql, sql\/gold\/b\.sql, sql\/gold\/c\.sql\)/,
    );
  });
});

describe('loadModels errors', () => {
  it('reports a cycle with the files involved', () => {
    const root = sqlRootWith({
      'gold/a.sql': '-- grain: one row per a\n-- reads gold: test\nselect * from gold.b',
      'gold/b.sql': '-- grain: one row per b\n-- reads gold: test\nselect * from gold.a',
    });
    expect(() => loadModels(root)).toThrow(/dependency cycle: gold\.a → gold\.b → gold\.a .*a\.sql.*b\.sql/);
  });

  it('reports a keyed_via naming a table the model does not read', () => {
    const gold = (name: string, from: string, incremental = '') =>
      `-- grain: one row per ${name}\n-- reads gold: test\n-- test: unique(k)\n${incremental}select k, c from ${from}`;
    const root = sqlRootWith({
      'gold/sessions.sql': gold('session', 'bronze.orders', ''),
      'gold/orders.sql': gold('order', 'bronze.orders', ''),
      'gold/attribution.sql': gold(
        'order',
        'gold.orders',
        '-- incremental: unique_key=k recompute_key=c keyed_via=gold.sessions.s:gold.orders\n',
      ),
    });
    expect(() => loadModels(root)).toThrow(
      /attribution\.sql: keyed_via gold\.sessions\.s:gold\.orders needs gold\.sessions among the gold inputs it reads/,
    );
  });

  it('reports a missing grain with the file name', () => {
    const root = sqlRootWith({
      'silver/orders.sql': '-- test: unique(order_id)\nselect * from bronze.orders',
    });
    expect(() => loadModels(root)).toThrow(/silver\/orders\.sql: the first line must state the grain/);
  });

  it('reports references to unknown tables and reads that skip or climb layers', () => {
    const root = sqlRootWith({
      'silver/orders.sql': '-- grain: one row per order\nselect * from bronze.order',
      'gold/fact.sql': '-- grain: one row per order\nselect * from bronze.orders',
      'gold/agg.sql': '-- grain: one row per day\nselect * from gold.fact',
    });
    expect(() => loadModels(root)).toThrow(/silver\/orders\.sql: reads bronze\.order, which is neither/);
    expect(() => loadModels(root)).toThrow(
      /gold\/fact\.sql: reads bronze\.orders, but gold models read only silver/,
    );
    expect(() => loadModels(root)).toThrow(
      /gold\/agg\.sql: reads gold\.fact from its own layer without a "-- reads gold/,
    );
  });

  it('reports a relationships test pointing at an unknown table', () => {
    const root = sqlRootWith({
      'silver/orders.sql':
        '-- grain: one row per order\n-- test: relationships(customer_id; silver.customers.customer_id)\nselect * from bronze.orders',
    });
    expect(() => loadModels(root)).toThrow(/points at unknown table silver\.customers/);
  });
});

describe('parseModel', () => {
  it('splits the header from the body and ignores references in comments and strings', () => {
    const parsed = parseModel(
      'sql/gold/x.sql',
      "-- grain: one row per x\n-- test[warn]: expression(a > 0)\n-- note: free comment\nselect 'silver.fake' as s /* gold.fake */ -- gold.other\nfrom silver.orders",
      'gold',
    );
    expect(parsed).toMatchObject({ name: 'gold.x', grain: 'one row per x', dependsOn: ['silver.orders'] });
    expect(parsed.tests).toEqual([
      { kind: 'expression', severity: 'warn', declaration: 'expression(a > 0)', expression: 'a > 0' },
    ]);
  });

  it('rejects a "-- reads" line for another layer', () => {
    expect(() =>
      parseModel('sql/gold/x.sql', '-- grain: one row per x\n-- reads silver: why\nselect 1', 'gold'),
    ).toThrow(/must be "-- reads gold: <why>"/);
  });
});

describe('parseTestLine', () => {
  it('parses every test kind', () => {
    expect(parseTestLine('-- test: not_null(order_id, customer_id)', 'f')).toMatchObject({
      kind: 'not_null',
      severity: 'blocking',
      columns: ['order_id', 'customer_id'],
    });
    expect(parseTestLine('-- test: unique(rate_date, currency)', 'f')).toMatchObject({
      kind: 'unique',
      columns: ['rate_date', 'currency'],
    });
    expect(parseTestLine("-- test: accepted_values(status; pending, 'shipped')", 'f')).toMatchObject({
      kind: 'accepted_values',
      column: 'status',
      values: ['pending', 'shipped'],
    });
    expect(
      parseTestLine('-- test[warn]: relationships(customer_id; silver.customers.customer_id)', 'f'),
    ).toMatchObject({
      kind: 'relationships',
      severity: 'warn',
      column: 'customer_id',
      toModel: 'silver.customers',
      toColumn: 'customer_id',
    });
    expect(parseTestLine('-- test: expression(coalesce(a, 0) >= b)', 'f')).toMatchObject({
      kind: 'expression',
      expression: 'coalesce(a, 0) >= b',
    });
  });

  it.each([
    ['-- test: unique order_id', /expected "-- test: kind\(args\)"/],
    ['-- test: uniq(order_id)', /unknown test kind "uniq"/],
    ['-- test: not_null(order id)', /comma-separated list of column names/],
    ['-- test: accepted_values(status)', /accepted_values\(column; value/],
    ['-- test: relationships(customer_id; customers.customer_id)', /layer\.model\.column/],
    ['-- test[info]: unique(a)', /expected "-- test: kind\(args\)"/],
    ['-- tests: unique(a)', /expected "-- test: kind\(args\)"/],
  ])('rejects %s with the file name', (line, why) => {
    expect(() => parseTestLine(line, 'sql/silver/x.sql')).toThrow(/^sql\/silver\/x\.sql: bad test/);
    expect(() => parseTestLine(line, 'sql/silver/x.sql')).toThrow(why);
  });
});

describe('findReferences', () => {
  it('finds schema-qualified tables once each, case-insensitively', () => {
    expect(
      findReferences('select * from Silver.Orders o join silver.orders p on 1=1 join gold.dim_date d on 1=1'),
    ).toEqual(['gold.dim_date', 'silver.orders']);
  });
});

describe('namedWords (which columns of its input a model can depend on)', () => {
  it('lists the words of the code, not of comments or strings, and lets count(*), union all and named set operations by', () => {
    const words = namedWords(
      [
        '-- reads status in a comment only',
        "with lines as (select * from gold.sales_analytics where category <> 'status')",
        'select order_date, count(*) as n from lines group by order_date',
        'union all select order_date, 0 from lines',
        'union select Order_Date, 1 from lines',
      ].join('\n'),
    );
    expect(words).not.toBeNull();
    expect(words?.has('order_date')).toBe(true);
    expect(words?.has('category')).toBe(true);
    expect(words?.has('status')).toBe(false);
  });

  it('gives up (null) where a result depends on columns the SQL does not name', () => {
    for (const sql of [
      'select a from x natural join y',
      'select distinct * from x',
      'select count(distinct t.*) from x t',
      'select * from x except select * from y',
      'select a from x union select * from y',
      'select a, b from gold.x as renamed(a, b)',
    ])
      expect(namedWords(sql), sql).toBeNull();
  });
});
