/**
 * `npm run bench` (needs `npm run services:up`): does a load's cost per batch stay flat as bronze grows?
 *
 * A load deletes a batch's earlier rows before copying it in (reruns stay exactly-once). Without an index that
 * delete scans the whole bronze table, so each batch costs more than the one before and a run's loads grow
 * quadratic in the number of batches. This loads the same synthetic staged batches of `orders` into a fresh
 * database on the services' PostgreSQL, alternating: as shipped (bronze indexed by `_batch_id, _ingested_at`) and as before (no
 * index: each batch's lookup and delete scan the table), and compares the per-batch
 * load time of the first and the last tenth of the batches (ops.pipeline_runs).
 *
 * BENCH_LOAD_BATCHES (default 600) batches of BENCH_LOAD_ROWS (default 3,000) rows. Results:
 * bench/results/load.md and load.json.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext } from '../jobs/context.ts';
import { runLoad } from '../jobs/load/index.ts';
import { ensureWarehouseSchema } from '../jobs/ops/warehouse-schema.ts';
import { createTestDatabase } from '../test/pg-database.ts';
import { stageOrdersBatch } from '../test/staged-orders.ts';

const root = new URL('..', import.meta.url).pathname;
const BATCHES = Number(process.env.BENCH_LOAD_BATCHES ?? 600);
const ROWS = Number(process.env.BENCH_LOAD_ROWS ?? 3000);
const at = new Date('2026-10-01T10:00:00Z');

type Mode = 'as shipped' | 'before (no batch index)';

interface ModeResult {
  mode: Mode;
  totalSeconds: number;
  firstTenthMedianMs: number;
  lastTenthMedianMs: number;
  growth: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

async function runMode(mode: Mode): Promise<ModeResult> {
  const database = await createTestDatabase('bench_load');
  const lakeDir = mkdtempSync(join(tmpdir(), 'ecomm-load-bench-'));
  const config = loadConfig({
    WAREHOUSE_URL: database.url,
    LAKE_URL: `file://${lakeDir}`,
    LOG_LEVEL: 'warn',
  });
  const context = createJobContext(config);
  const db: SqlDatabase = await openPostgres(database.url);
  try {
    await ensureWarehouseSchema(db);
    // The job context makes sure of the schema (and so of the index) when first opened: open it before dropping.
    await context.warehouse();
    if (mode !== 'as shipped') await db.exec('drop index bronze.orders__batch_arrival');
    const lake = context.lake();
    for (let batch = 0; batch < BATCHES; batch += 1) {
      const batchId = `orders_bench_${String(batch).padStart(5, '0')}`;
      await stageOrdersBatch(lake, db, {
        batchId,
        first: batch * ROWS,
        rows: ROWS,
        at: new Date(at.getTime() + batch * 1000),
      });
    }
    const started = performance.now();
    const loaded = await runLoad(context);
    const totalSeconds = (performance.now() - started) / 1000;
    if (loaded.length !== BATCHES) throw new Error(`${mode}: loaded ${loaded.length} of ${BATCHES} batches`);
    const steps = await db.query<{ batch_id: string; duration_ms: string }>(
      "select batch_id, duration_ms from ops.pipeline_runs where job = 'load' order by batch_id",
    );
    const durations = steps.map((step) => Number(step.duration_ms));
    const tenth = Math.max(1, Math.floor(durations.length / 10));
    const firstTenthMedianMs = median(durations.slice(0, tenth));
    const lastTenthMedianMs = median(durations.slice(-tenth));
    return {
      mode,
      totalSeconds,
      firstTenthMedianMs,
      lastTenthMedianMs,
      growth: lastTenthMedianMs / Math.max(1, firstTenthMedianMs),
    };
  } finally {
    await db.close();
    await context.close();
    await database.dispose();
    rmSync(lakeDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results: ModeResult[] = [];
  // Alternated, so a change in the machine's load affects both modes alike.
  for (const mode of ['as shipped', 'before (no batch index)', 'as shipped'] as Mode[]) {
    const result = await runMode(mode);
    results.push(result);
    console.log(
      `${mode}: ${result.totalSeconds.toFixed(1)} s; per batch first tenth ${result.firstTenthMedianMs} ms, last tenth ${result.lastTenthMedianMs} ms (x${result.growth.toFixed(2)})`,
    );
  }
  const command = `BENCH_LOAD_BATCHES=${BATCHES} BENCH_LOAD_ROWS=${ROWS} node bench/load.bench.ts`;
  const rows = results.map(
    (result) =>
      `| ${result.mode} | ${result.totalSeconds.toFixed(1)} | ${result.firstTenthMedianMs} | ${result.lastTenthMedianMs} | ${result.growth.toFixed(2)} |`,
  );
  const markdown = `# Load: cost per batch as bronze grows

Run ${new Date().toISOString()} on ${cpus().length} cores, Node ${process.version}, the services' PostgreSQL. Command: \`${command}\`
(part of \`npm run bench\`).

${BATCHES} staged batches of ${ROWS.toLocaleString('en-US')} \`orders\` rows (${(BATCHES * ROWS).toLocaleString('en-US')} rows) loaded by one \`runLoad\`
into a fresh database, per mode. Per-batch load time from \`ops.pipeline_runs\` (the batch's transaction: lock, delete of
its earlier rows, COPY, ledger). Linear means the last tenth's batches cost what the first tenth's did (growth ~1).

| mode | whole load s | per batch, first tenth (median ms) | per batch, last tenth (median ms) | growth |
|---|---|---|---|---|
${rows.join('\n')}
`;
  writeFileSync(join(root, 'bench/results/load.md'), markdown);
  writeFileSync(
    join(root, 'bench/results/load.json'),
    `${JSON.stringify({ command, batches: BATCHES, rows: ROWS, results }, null, 2)}\n`,
  );
  console.log(markdown);
}

await main();
