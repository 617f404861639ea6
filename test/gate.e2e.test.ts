import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { buildModels, ModelBuildError } from '../jobs/models/build.ts';
import { downstreamOf, loadModels, SQL_ROOT, upstreamOf } from '../jobs/models/models.ts';
import { selectModels } from '../jobs/models/selection.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { printPipelineSummary } from '../jobs/run/summary.ts';
import { runTransform, run as transformJob } from '../jobs/transform/index.ts';
import {
  type EmbeddedPlatform,
  goldHashes,
  openEmbeddedPlatform,
  openServerPlatform,
  seedPlatform,
  tableHash,
} from './harness.ts';

/**
 * The gate before publish, on seeded data, on PGlite and on real PostgreSQL: a layer is built into `__next`, its
 * blocking checks run there, and what passed is swapped in. A failing blocking check holds back its model and what
 * is downstream of it (their published tables stay byte for byte), the rest of both layers is published, and no
 * `__next` table is left behind.
 */

const FX_CHECK = 'gold.fact_orders: not_null(fx_rate_to_usd, net_amount_usd, shipping_amount_usd)';
const STATUS_CHECK = 'silver.orders: accepted_values(status; pending, shipped, delivered, cancelled)';
const PG_PII_HASH_KEY = 'gate-test-key';

/** A PostgreSQL warehouse (source in PGlite); not all embedded, so the PII key comes from env://, as in the cloud. */
async function openPostgresPlatform(): Promise<EmbeddedPlatform> {
  process.env.PII_HASH_KEY = PG_PII_HASH_KEY;
  const platform = await openServerPlatform('gate', { source: 'pglite' });
  return {
    ...platform,
    async close() {
      await platform.dispose();
      delete process.env.PII_HASH_KEY;
    },
  };
}

async function schemaHashes(db: SqlDatabase, schema: string): Promise<Record<string, string>> {
  const tables = await db.query<{ table_name: string }>(
    'select cast(table_name as varchar(128)) as table_name from information_schema.tables where table_schema = $1 order by 1',
    [schema],
  );
  const hashes: Record<string, string> = {};
  for (const { table_name } of tables) hashes[table_name] = await tableHash(db, `${schema}.${table_name}`);
  return hashes;
}

async function nextTables(db: SqlDatabase): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `select cast(table_schema || '.' || table_name as varchar(256)) as name from information_schema.tables
     where table_name like '%\\_\\_next' order by 1`,
  );
  return rows.map((row) => row.name);
}

const MODELS = loadModels();

/** A model and what it holds back when its blocking check fails (build.ts holdBack, worked out on the files). */
function heldBy(model: string): string[] {
  return [model, ...downstreamOf(MODELS, [model], upstreamOf)].sort();
}

async function runRows(db: SqlDatabase, runId: string): Promise<Record<string, string>> {
  const rows = await db.query<{ step: string; status: string }>(
    "select step, status from ops.pipeline_runs where run_id = $1 and job = 'transform' order by step",
    [runId],
  );
  return Object.fromEntries(rows.map((row) => [row.step, row.status]));
}

const engines: [string, () => Promise<EmbeddedPlatform>][] = [
  ['PGlite', openEmbeddedPlatform],
  ['PostgreSQL', openPostgresPlatform],
];

describe.each(engines)('gate before publish on %s', (_engine, open) => {
  let platform: EmbeddedPlatform;
  let db: SqlDatabase;
  let freshGold: Record<string, string>;
  let firstRunId: string;

  beforeAll(async () => {
    platform = await open();
    db = platform.warehouse;
    await seedPlatform(platform);
    const context = platform.context();
    const result = await runPipeline(context);
    expect(result.blockedBy).toEqual([]);
    expect(result.blocked).toEqual([]);
    firstRunId = context.runId;
    freshGold = await goldHashes(db);
  });

  it('records each model with the span of its own build, each after what it reads, not the layer’s', async () => {
    const rows = await db.query<{ step: string; started_at: Date; finished_at: Date; duration_ms: number }>(
      `select step, started_at, finished_at, cast(duration_ms as integer) as duration_ms from ops.pipeline_runs
       where run_id = $1 and job = 'transform' order by started_at, finished_at`,
      [firstRunId],
    );
    expect(rows.map((row) => row.step).sort()).toEqual(MODELS.map((model) => model.name).sort());
    for (const layer of ['silver', 'gold']) {
      const ofLayer = rows.filter((row) => row.step.startsWith(`${layer}.`));
      expect(new Set(ofLayer.map((row) => new Date(row.started_at).getTime())).size, layer).toBeGreaterThan(
        ofLayer.length / 2,
      );
      expect(new Set(ofLayer.map((row) => row.duration_ms)).size, layer).toBeGreaterThan(1);
    }
    // Models build side by side (TRANSFORM_CONCURRENCY), each once the models of its layer it reads are built.
    const finishedAt = new Map(rows.map((row) => [row.step, new Date(row.finished_at).getTime()]));
    for (const row of rows) {
      const model = MODELS.find((candidate) => candidate.name === row.step);
      for (const dep of model?.dependsOn.filter((name) => finishedAt.has(name)) ?? [])
        expect(finishedAt.get(dep), `${row.step} after ${dep}`).toBeLessThanOrEqual(
          new Date(row.started_at).getTime(),
        );
    }
  });

  it('--select with + and --exclude build exactly the models they name, reading the others as published', async () => {
    const context = platform.context();
    const lines: string[] = [];
    const code = await transformJob(
      context,
      { select: ['silver.fx_rates+', 'dim_date'], exclude: ['gold.agg_daily_sales,gold.customer_segments'] },
      (line) => lines.push(line),
    );
    expect(code).toBe(0);
    const expected = selectModels(MODELS, {
      select: ['silver.fx_rates+', 'gold.dim_date'],
      exclude: ['gold.agg_daily_sales', 'gold.customer_segments'],
    });
    expect(expected).toContain('gold.fact_orders');
    expect(expected).not.toContain('silver.orders');
    const runs = await runRows(db, context.runId);
    expect(Object.keys(runs).sort()).toEqual([...expected].sort());
    expect(Object.values(runs).every((status) => status === 'succeeded')).toBe(true);
    expect(lines.map((line) => line.split(/\s+/)[1])).toEqual(expected);
    expect(await goldHashes(db)).toEqual(freshGold);

    const layerOnly = platform.context();
    expect(await transformJob(layerOnly, { layer: 'gold', select: ['silver.orders+'] }, () => {})).toBe(0);
    expect(Object.keys(await runRows(db, layerOnly.runId)).every((step) => step.startsWith('gold.'))).toBe(
      true,
    );
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('a missing FX rate blocks gold: yesterday’s gold stays byte for byte, the finding is recorded, a fixed rate publishes', async () => {
    const [rate] = await db.query<{ currency: string; order_date: string }>(
      `select currency, cast(order_date as varchar(10)) as order_date from gold.fact_orders where currency <> 'USD'
       group by currency, order_date order by count(*) desc, 1, 2 limit 1`,
    );
    if (!rate) throw new Error('the seeded data has no non-USD order');
    const ofThatRate = `upper(trim(currency)) = '${rate.currency}' and cast(trim(rate_date) as date) = cast('${rate.order_date}' as date)`;
    await db.exec('create schema if not exists gate_test');
    await db.exec(`create table gate_test.held_fx as select * from bronze.fx_rates where ${ofThatRate}`);
    await db.exec(`delete from bronze.fx_rates where ${ofThatRate}`);
    const goldBefore = await goldHashes(db);
    expect(goldBefore).toEqual(freshGold);

    const context = platform.context();
    const blocked = await runTransform(context, ['silver', 'gold']);
    expect(blocked.blockedBy).toContain(FX_CHECK);
    expect(blocked.blockedBy.every((id) => id.startsWith('gold.'))).toBe(true);
    const held = heldBy('gold.fact_orders');
    expect(blocked.blocked.map((model) => model.name).sort()).toEqual(held);
    expect(await goldHashes(db)).toEqual(goldBefore);
    expect(await nextTables(db)).toEqual([]);
    const findings = await db.query<{ table_name: string; details: string }>(
      'select table_name, layer, severity, status, details from ops.dq_findings where run_id = $1 and check_id = $2',
      [context.runId, FX_CHECK],
    );
    expect(findings).toEqual([
      expect.objectContaining({
        table_name: 'gold.fact_orders',
        layer: 'gold',
        severity: 'blocking',
        status: 'fail',
      }),
    ]);
    // The finding names what it cost.
    expect(findings[0]?.details).toContain(`held back (not published): gold.fact_orders, `);
    expect(findings[0]?.details).toContain('gold.agg_daily_sales');
    // Silver passed its gate and was published; so were the gold models the missing rate does not reach, while
    // the held-back ones are failed: the monitor's "gold built at" reads only succeeded builds.
    const runs = await runRows(db, context.runId);
    expect(runs['silver.fx_rates']).toBe('succeeded');
    expect(runs['gold.fact_orders']).toBe('failed');
    expect(
      Object.entries(runs)
        .filter(([step, status]) => step.startsWith('gold.') && status !== 'succeeded')
        .map(([step]) => step),
    ).toEqual(held);
    expect(runs['gold.dim_customers']).toBe('succeeded');
    expect(runs['gold.fact_sessions']).toBe('succeeded');
    // `ecomm transform` says what it held back and why, and exits 1.
    const lines: string[] = [];
    expect(await transformJob(platform.context(), {}, (line) => lines.push(line))).toBe(1);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^held back gold\.fact_orders +built, not published: blocked by .*not_null\(fx_rate_to_usd/,
      ),
    );
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^blocked: ${held.length} model\\(s\\) held back, last published tables kept; failing blocking checks: .*fx_rate_to_usd`,
      ),
    );
    // Published: rebuilt, or kept as published when nothing it reads changed (jobs/models/unchanged.ts).
    expect(lines).toContainEqual(
      expect.stringMatching(/^built gold\.dim_customers +\d+ rows( \(unchanged inputs: kept\))?$/),
    );

    await db.exec('insert into bronze.fx_rates select * from gate_test.held_fx');
    await db.exec('drop schema gate_test cascade');
    const fixed = await runTransform(platform.context(), ['silver', 'gold']);
    expect(fixed.blockedBy).toEqual([]);
    expect(await goldHashes(db)).toEqual(freshGold);
    expect(await nextTables(db)).toEqual([]);
  });

  it('a failing blocking silver check holds back its model and its gold downstream; the rest is published fresh', async () => {
    const held = heldBy('silver.orders');
    const silverBefore = await schemaHashes(db, 'silver');
    const goldBefore = await goldHashes(db);
    await db.exec(
      // customer_key as validation would have derived it: customer 1's, from its bronze row.
      `insert into bronze.orders (order_id, customer_id, ordered_at, status, channel, currency, shipping_amount,
         created_at, updated_at, customer_key, _batch_id, _source_file)
       select '990001', '1', '2026-09-30T10:00:00Z', 'lost', 'web', 'USD', '0', '2026-09-30T10:00:00Z',
         '2026-09-30T10:00:00Z', max(customer_key), 'gate-test', 'gate-test'
       from bronze.customers where customer_id = '1'`,
    );
    // Fresh data for models the bad order does not reach: a new customer.
    await db.exec('create schema if not exists gate_test');
    await db.exec(
      'create table gate_test.customer as select * from bronze.customers where customer_id = (select min(customer_id) from bronze.customers)',
    );
    await db.exec(
      // A key of its own (64 hex characters, like the HMAC validation derives): silver.customers' keys are unique.
      "update gate_test.customer set customer_id = '990001', customer_key = md5('990001') || md5('gate'), _batch_id = 'gate-test', updated_at = '2026-09-30T10:00:00Z'",
    );
    await db.exec('insert into bronze.customers select * from gate_test.customer');
    try {
      const context = platform.context();
      const blocked = await runTransform(context, ['silver', 'gold']);
      expect(blocked.blockedBy).toEqual([STATUS_CHECK]);
      expect(blocked.blocked.map((model) => model.name).sort()).toEqual(held);
      for (const model of blocked.blocked) expect(model.blockedBy).toEqual([STATUS_CHECK]);
      expect(blocked.built.map((model) => model.name).sort()).toEqual(
        MODELS.map((model) => model.name)
          .filter((name) => !held.includes(name))
          .sort(),
      );
      // Held back: byte for byte as before.
      const silverAfter = await schemaHashes(db, 'silver');
      const goldAfter = await goldHashes(db);
      for (const name of held) {
        const [layer, table] = name.split('.') as [string, string];
        expect(layer === 'silver' ? silverAfter[table] : goldAfter[table], name).toBe(
          layer === 'silver' ? silverBefore[table] : goldBefore[table],
        );
      }
      // Published with fresh data: the new customer in silver and gold.
      expect(silverAfter.customers).not.toBe(silverBefore.customers);
      const [fresh] = await db.query<{ silver: number; gold: number }>(
        `select (select cast(count(*) as integer) from silver.customers where customer_id = 990001) as silver,
                (select cast(count(*) as integer) from gold.dim_customers where customer_id = 990001) as gold`,
      );
      expect(fresh).toEqual({ silver: 1, gold: 1 });
      expect(await nextTables(db)).toEqual([]);
      const runs = await runRows(db, context.runId);
      expect(runs['silver.orders']).toBe('failed');
      expect(runs['silver.customers']).toBe('succeeded');
      expect(runs['gold.dim_customers']).toBe('succeeded');
      for (const name of held.filter((model) => model.startsWith('gold.')))
        expect(runs[name], name).toBe('skipped');
      const [skipped] = await db.query<{ message: string }>(
        "select message from ops.pipeline_runs where run_id = $1 and step = 'gold.fact_orders'",
        [context.runId],
      );
      expect(skipped?.message).toBe(`not built: upstream blocked by ${STATUS_CHECK}`);
      const [finding] = await db.query(
        'select table_name, status from ops.dq_findings where run_id = $1 and check_id = $2',
        [context.runId, STATUS_CHECK],
      );
      expect(finding).toEqual({ table_name: 'silver.orders', status: 'fail' });
    } finally {
      await db.exec("delete from bronze.orders where _batch_id = 'gate-test'");
      await db.exec("delete from bronze.customers where _batch_id = 'gate-test'");
      await db.exec('drop schema gate_test cascade');
    }
  });

  it('a model that fails to build leaves its layer untouched, no __next behind, and names the model and file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ecomm-gate-sql-'));
    cpSync(SQL_ROOT, root, { recursive: true });
    // Late in their layers' order, so earlier models are already in __next when these fail; the silver one is an
    // incremental model, built under the stream service's locks.
    writeFileSync(
      join(root, 'gold', 'sales_analytics.sql'),
      '-- grain: one row per nothing\n-- reads gold: deliberately broken\nselect no_such_column from gold.fact_orders\n',
    );
    writeFileSync(
      join(root, 'silver', 'order_events.sql'),
      '-- grain: one row per nothing\n-- test: unique(event_id)\n-- incremental: event_id\n' +
        'select no_such_column as event_id, _batch_id from bronze.order_events\n',
    );
    const models = loadModels(root);
    const vars = {};
    try {
      for (const [layer, model, file] of [
        ['gold', 'gold.sales_analytics', 'sales_analytics.sql'],
        ['silver', 'silver.order_events', 'order_events.sql'],
      ] as const) {
        const silverBefore = await schemaHashes(db, 'silver');
        const goldBefore = await goldHashes(db);
        const error = await buildModels(db, models, { vars, layers: [layer] }).catch(
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(ModelBuildError);
        expect((error as ModelBuildError).model).toBe(model);
        expect((error as ModelBuildError).file).toContain(file);
        expect((error as Error).message).toMatch(/failed to build: column "no_such_column" does not exist/);
        expect((error as Error).message).not.toMatch(/select/i);
        expect(await schemaHashes(db, 'silver')).toEqual(silverBefore);
        expect(await goldHashes(db)).toEqual(goldBefore);
        expect(await nextTables(db)).toEqual([]);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  it('a failing bronze check holds back only the models downstream of its table; the run exits 1 and says why', async () => {
    const RECONCILE = 'bronze.fx_rates:row_count_reconciliation';
    const fxBatch =
      "(select min(batch_id) from ops.batches where source = 'fx_rates' and loaded_at is not null)";
    await db.exec(`update ops.batches set rows_loaded = rows_loaded + 1 where batch_id = ${fxBatch}`);
    try {
      const context = platform.context();
      const result = await runPipeline(context);
      expect(result.ok).toBe(false);
      expect(result.blockedBy).toEqual([RECONCILE]);
      const held = [...downstreamOf(MODELS, ['bronze.fx_rates'], upstreamOf)].sort();
      expect(held).toContain('silver.fx_rates');
      expect(held).not.toContain('silver.orders');
      expect(result.blocked.map((model) => model.name).sort()).toEqual(held);
      for (const model of result.blocked) {
        expect(model.blockedBy).toEqual([RECONCILE]);
        expect(model.build).toBeUndefined();
      }
      const runs = await runRows(db, context.runId);
      expect(runs['silver.orders']).toBe('succeeded');
      expect(runs['gold.dim_customers']).toBe('succeeded');
      expect(runs['silver.fx_rates']).toBe('skipped');
      const [pipeline] = await db.query<{ status: string; message: string }>(
        "select status, message from ops.pipeline_runs where run_id = $1 and job = 'run' and step = 'pipeline'",
        [context.runId],
      );
      expect(pipeline?.status).toBe('failed');
      const [finding] = await db.query<{ details: string }>(
        'select details from ops.dq_findings where run_id = $1 and check_id = $2',
        [context.runId, RECONCILE],
      );
      expect(finding?.details).toMatch(/; held back \(not published\): .*silver\.fx_rates/);
      expect(finding?.details).toContain('gold.fact_orders');
      const printed: string[] = [];
      await printPipelineSummary(context, result, (line) => printed.push(line));
      expect(printed.join('\n')).toMatch(
        new RegExp(
          `Pipeline run [0-9a-f-]{36}: BLOCKED \\(blocking checks failed: ${RECONCILE}; ${held.length} model\\(s\\) held back\\)`,
        ),
      );
      expect(printed).toContain(`  silver.fx_rates (not built, upstream held back): blocked by ${RECONCILE}`);
      expect(pipeline?.message).toContain(`blocked by ${RECONCILE}; held back: silver.fx_rates`);
      expect(await nextTables(db)).toEqual([]);
    } finally {
      await db.exec(`update ops.batches set rows_loaded = rows_loaded - 1 where batch_id = ${fxBatch}`);
    }
  });
});
