/**
 * `node bench/monitor.bench.ts`: how fast the monitor renders its pages over a realistic warehouse. Builds the
 * embedded pipeline at BENCH_SCALE (default 5; a list such as `5,20` runs each) on a fresh folder, adds BENCH_HISTORY_RUNS (default 100) earlier runs
 * to the ops tables (copies of the real run, an hour apart: the run history, freshness and quality trend then read a
 * few days of operation, not one run), reopens the warehouse as `ecomm monitor` would, and requests every page
 * BENCH_REQUESTS times (default 50; the overview, the main page, is the one with a budget: p95 under 300 ms of
 * server time). Server time is the monitor's own `Server-Timing: total`, from request to response; wall time adds
 * the local HTTP round trip. Writes bench/results/monitor.json and bench/results/monitor.md.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { openPglite } from '../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext } from '../jobs/context.ts';
import { startMonitor } from '../jobs/monitor/server.ts';
import { runPipeline } from '../jobs/run/index.ts';

/** One scale, or several (`BENCH_SCALE=5,20`), each on its own fresh folder. */
const scales = (process.env.BENCH_SCALE ?? '5').split(',').map(Number);
const historyRuns = Number(process.env.BENCH_HISTORY_RUNS ?? '100');
const requests = Number(process.env.BENCH_REQUESTS ?? '50');
const BUDGET_MS = 300;
const PAGES = ['/', '/runs', '/quality', '/quarantine', '/lineage', '/api/overview'];
const root = new URL('..', import.meta.url).pathname;

interface PageTiming {
  path: string;
  requests: number;
  bytes: number;
  serverMs: { p50: number; p95: number; max: number };
  dbMs: { p50: number; p95: number };
  wallMs: { p50: number; p95: number; max: number };
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
}

function serverTiming(header: string | null, name: string): number {
  const match = new RegExp(`${name};dur=([\\d.]+)`).exec(header ?? '');
  return match ? Number(match[1]) : Number.NaN;
}

/** Earlier runs, as copies of the real one shifted back an hour each: what a few days of hourly runs leave behind. */
async function addHistory(db: SqlDatabase, runId: string, runs: number): Promise<void> {
  for (let hoursAgo = 1; hoursAgo <= runs; hoursAgo += 1) {
    const copy = randomUUID();
    const shift = `${hoursAgo} hours`;
    await db.query(
      `insert into ops.pipeline_runs (run_id, job, step, batch_id, status, started_at, finished_at, duration_ms,
         rows_in, rows_out, rows_quarantined, message)
       select $1, job, step, batch_id, status, started_at - cast($2 as interval), finished_at - cast($2 as interval),
         duration_ms, rows_in, rows_out, rows_quarantined, message
       from ops.pipeline_runs where run_id = $3`,
      [copy, shift, runId],
    );
    await db.query(
      `insert into ops.dq_findings (run_id, check_id, layer, table_name, check_type, severity, status, failing_rows,
         details, checked_at)
       select $1, check_id, layer, table_name, check_type, severity, status, failing_rows, details,
         checked_at - cast($2 as interval)
       from ops.dq_findings where run_id = $3`,
      [copy, shift, runId],
    );
  }
}

async function tableCounts(db: SqlDatabase): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of [
    'ops.pipeline_runs',
    'ops.dq_findings',
    'ops.batches',
    'ops.quarantine_rows',
    'gold.agg_product_kpi',
  ]) {
    const [row] = await db.query<{ n: number }>(`select cast(count(*) as integer) as n from ${table}`);
    counts[table] = row?.n ?? 0;
  }
  return counts;
}

interface ScaleResult {
  scale: number;
  pipelineSeconds: number;
  warehouseRows: Record<string, number>;
  pages: PageTiming[];
  mainPageP95Ms: number;
  pass: boolean;
}

async function measure(path: string, url: string): Promise<PageTiming> {
  for (let warm = 0; warm < 5; warm += 1) await (await fetch(`${url}${path}`)).arrayBuffer();
  const server: number[] = [];
  const db: number[] = [];
  const wall: number[] = [];
  let bytes = 0;
  for (let index = 0; index < requests; index += 1) {
    const started = performance.now();
    const response = await fetch(`${url}${path}`);
    const body = await response.arrayBuffer();
    wall.push(performance.now() - started);
    if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
    bytes = body.byteLength;
    const header = response.headers.get('server-timing');
    server.push(serverTiming(header, 'total'));
    db.push(serverTiming(header, 'db'));
  }
  return {
    path,
    requests,
    bytes,
    serverMs: { p50: percentile(server, 0.5), p95: percentile(server, 0.95), max: Math.max(...server) },
    dbMs: { p50: percentile(db, 0.5), p95: percentile(db, 0.95) },
    wallMs: { p50: percentile(wall, 0.5), p95: percentile(wall, 0.95), max: Math.max(...wall) },
  };
}

async function benchScale(scale: number): Promise<ScaleResult> {
  const folder = mkdtempSync(join(tmpdir(), `ecomm-monitor-bench-${scale}-`));
  try {
    const config = loadConfig({
      LAKE_URL: `file://${folder}/lake`,
      STREAM_URL: 'memory://',
      WAREHOUSE_URL: `pglite://${folder}/warehouse`,
      SOURCE_URL: `pglite://${folder}/source`,
      LOG_LEVEL: 'silent',
      ECOMM_DEMO: '1',
    });
    const context = createJobContext(config);
    const pipelineStarted = performance.now();
    const result = await runPipeline(context, {
      generateIfEmpty: { seed: 42, scale, asOf: new Date('2026-10-01T00:00:00Z') },
    });
    const pipelineSeconds = (performance.now() - pipelineStarted) / 1000;
    if (!result.ok) throw new Error(`pipeline blocked by ${result.blockedBy.join(', ')}`);
    await addHistory(await context.warehouse(), context.runId, historyRuns);
    await context.close();
    process.stdout.write(
      `scale ${scale}: pipeline ${pipelineSeconds.toFixed(1)} s; +${historyRuns} runs of history\n`,
    );

    // As `ecomm monitor` runs: a fresh handle on the warehouse folder, nothing else open.
    const warehouse = await openPglite(`pglite://${folder}/warehouse`);
    const warehouseRows = await tableCounts(warehouse);
    const monitor = await startMonitor({ warehouse, port: 0 });
    const pages: PageTiming[] = [];
    try {
      for (const path of PAGES) {
        const timing = await measure(path, monitor.url);
        pages.push(timing);
        process.stdout.write(
          `  ${path.padEnd(14)} server p50 ${timing.serverMs.p50.toFixed(1)} ms, p95 ${timing.serverMs.p95.toFixed(1)} ms; wall p95 ${timing.wallMs.p95.toFixed(1)} ms; ${(timing.bytes / 1024).toFixed(0)} KiB\n`,
        );
      }
    } finally {
      await monitor.close();
      await warehouse.close();
    }
    const mainPageP95Ms = pages.find((timing) => timing.path === '/')?.serverMs.p95 ?? Number.NaN;
    return { scale, pipelineSeconds, warehouseRows, pages, mainPageP95Ms, pass: mainPageP95Ms < BUDGET_MS };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const results: ScaleResult[] = [];
for (const scale of scales) results.push(await benchScale(scale));

const pass = results.every((result) => result.pass);
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const runAt = new Date().toISOString();
const report = {
  runAt,
  machine,
  historyRuns,
  requestsPerPage: requests,
  budget: { page: '/', metric: 'server p95', ms: BUDGET_MS, pass },
  scales: results,
};
const f = (value: number) => value.toFixed(1);
const markdown = [
  '# Monitor benchmark: server render time per page (embedded PGlite warehouse)',
  '',
  `Run ${runAt} on ${machine}. Command: \`BENCH_SCALE=${scales.join(',')} node bench/monitor.bench.ts\` (BENCH_HISTORY_RUNS=${historyRuns}, BENCH_REQUESTS=${requests}).`,
  '',
  `- Budget: the main page (\`/\`) under ${BUDGET_MS} ms of server time at p95: **${pass ? 'met' : 'MISSED'}** (${results.map((result) => `scale ${result.scale}: p95 ${f(result.mainPageP95Ms)} ms`).join('; ')}).`,
  '- Warehouse: the pipeline at each scale plus earlier runs copied into the ops tables (a few days of hourly runs).',
  '- Server = `Server-Timing: total` (request received to response written: queries + HTML); db = time in the warehouse; wall = the client round trip on localhost. Sequential requests after 5 warm-ups each.',
  '',
  ...results.flatMap((result) => [
    `## Scale ${result.scale}`,
    '',
    `Pipeline ${f(result.pipelineSeconds)} s. Rows: ${Object.entries(result.warehouseRows)
      .map(([table, n]) => `${table} ${n.toLocaleString('en-US')}`)
      .join(', ')}.`,
    '',
    '| page | server p50 ms | server p95 ms | server max ms | db p50 ms | db p95 ms | wall p95 ms | size KiB |',
    '|---|---|---|---|---|---|---|---|',
    ...result.pages.map(
      (t) =>
        `| \`${t.path}\` | ${f(t.serverMs.p50)} | ${f(t.serverMs.p95)} | ${f(t.serverMs.max)} | ${f(t.dbMs.p50)} | ${f(t.dbMs.p95)} | ${f(t.wallMs.p95)} | ${(t.bytes / 1024).toFixed(0)} |`,
    ),
    '',
  ]),
  'PGlite runs every query on one WASM thread; on PostgreSQL or Redshift the overview runs its sections on',
  'parallel connections, so these figures are an upper bound for the same data.',
  '',
].join('\n');
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/monitor.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(root, 'bench/results/monitor.md'), markdown);
process.stdout.write(
  `main page server p95 under ${BUDGET_MS} ms at every scale: ${pass ? 'met' : 'MISSED'}\n`,
);
if (!pass) process.exitCode = 1;
