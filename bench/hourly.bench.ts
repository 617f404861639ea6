/**
 * `npm run bench` (part 5, needs `npm run services:up`): the hourly cycle on the services' PostgreSQL (source and
 * warehouse in fresh databases of their own), Kafka and a local lake, per scale in BENCH_HOURLY_SCALES:
 *
 * 1. `ecomm generate --scale <s>` seeds the source and the topics; then a full cycle from an empty warehouse.
 * 2. BENCH_HOURLY_CHANGE_PERCENT (1) % of the orders advance one status step with updated_at = now (the generator's
 *    change model, applySourceChanges) and their order_status_changed events are published (orderStatusEvents);
 *    then the cycle again: the hourly incremental run.
 *
 * Each cycle runs twice over the same input, in two pipelines that share the source and the topics but each have
 * their own warehouse, lake and consumer group: one `ecomm run` process (the end-to-end wall time and its own step
 * times), and the run's DAG (RUN_STEPS) as one `ecomm <job>` process per step under /usr/bin/time -v (wall time,
 * rows and peak RSS per step). Rows and per-model timings come from ops.pipeline_runs and ops.dq_findings. After each
 * cycle the two warehouses' bronze and silver row counts are compared: the same input must give the same rows.
 * Target: the incremental `ecomm run` takes <= 10% of the full run's wall time.
 *
 * Only the CLI and the generator's public functions are called, so the bench measures whatever the run does.
 * Writes bench/results/hourly.json and bench/results/hourly.md; drops its databases, topics and folders at the end
 * (also on Ctrl-C).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { RUN_STEPS, type RunStepSpec } from '../jobs/catalog.ts';
import { applySourceChanges, orderStatusEvents, publishEvents, todayUtc } from '../jobs/generate/index.ts';
import type { ServiceEnv } from '../scripts/services/env.ts';
import {
  checkServices,
  cleanUpOnSignals,
  createBenchTopics,
  disposeAll,
  ecomm,
  freshDatabase,
  machineFacts,
  onCleanup,
  parseGenerated,
  pendingBatches,
  REPO_ROOT,
  rowsOf,
  UsageError,
} from './harness.ts';

const SEED = 42;
const CLIENT_ID = 'hourly-bench';
const TARGET_RATIO = 0.1;

// ---------------------------------------------------------------------------------------------------------------
// Settings

interface BenchSettings {
  scales: number[];
  changePercent: number;
}

/** The bench's own variables, each bad value named with what is expected. */
function readBenchSettings(env: Record<string, string | undefined>): BenchSettings {
  const problems: string[] = [];
  const scalesText = env.BENCH_HOURLY_SCALES?.trim() || '10';
  const scales = scalesText.split(',').map((part) => Number(part.trim()));
  if (scales.some((scale) => !Number.isFinite(scale) || scale <= 0 || scale > 1000))
    problems.push(`BENCH_HOURLY_SCALES must be scales in (0, 1000] separated by commas, got "${scalesText}"`);
  const percentText = env.BENCH_HOURLY_CHANGE_PERCENT?.trim() || '1';
  const changePercent = Number(percentText);
  if (!Number.isFinite(changePercent) || changePercent <= 0 || changePercent > 10)
    problems.push(`BENCH_HOURLY_CHANGE_PERCENT must be a percentage in (0, 10], got "${percentText}"`);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return { scales, changePercent };
}

// ---------------------------------------------------------------------------------------------------------------
// The two pipelines over one source and one set of topics

interface Pipeline {
  /** `run`: one `ecomm run` process; `steps`: one process per step of the DAG. */
  name: 'run' | 'steps';
  env: Record<string, string>;
  warehouse: SqlDatabase;
}

interface Bench {
  sourceUrl: string;
  prefix: string;
  brokers: string;
  run: Pipeline;
  steps: Pipeline;
}

async function openBench(services: ServiceEnv, scale: number): Promise<Bench> {
  const tag = `hourly_s${String(scale).replace(/\W/g, '_')}`;
  const prefix = `hourly-${randomBytes(3).toString('hex')}.`;
  const brokers = services.TEST_KAFKA_BROKERS;
  const source = await freshDatabase(`${tag}_src`);
  const folder = mkdtempSync(join(tmpdir(), 'ecomm-hourly-'));
  onCleanup(async () => rmSync(folder, { recursive: true, force: true }));
  await createBenchTopics(brokers, prefix, CLIENT_ID);
  const pipeline = async (name: Pipeline['name']): Promise<Pipeline> => {
    const warehouse = await freshDatabase(`${tag}_${name}_wh`);
    const env = {
      SOURCE_URL: source.url,
      WAREHOUSE_URL: warehouse.url,
      LAKE_URL: `file://${folder}/${name}-lake`,
      STREAM_URL: `kafka://${brokers}`,
      STREAM_TOPIC_PREFIX: prefix,
      STREAM_GROUP_ID: `${prefix}${name}`,
      SECRETS_URL: 'env://',
      PII_HASH_KEY: 'hourly-bench-key',
      LOG_LEVEL: 'warn',
    };
    const db = await openPostgres(warehouse.url);
    onCleanup(() => db.close());
    return { name, env, warehouse: db };
  };
  return {
    sourceUrl: source.url,
    prefix,
    brokers,
    run: await pipeline('run'),
    steps: await pipeline('steps'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// One cycle (full or incremental) in both pipelines

/** The CLI command of each step of `ecomm run`'s DAG: a step added to RUN_STEPS without one does not compile. */
const STEP_COMMANDS: Record<RunStepSpec['step'], string[]> = {
  extract: ['extract'],
  'stream-ingest': ['stream-ingest'],
  validate: ['validate'],
  load: ['load'],
  reconcile: ['reconcile'],
  'quality bronze': ['quality', '--layer', 'bronze'],
  transform: ['transform', '--layer', 'all'],
};

interface StepFigures {
  step: string;
  /** The step's time inside the one `ecomm run` process (its summary), when it printed one. */
  inRunSeconds: number | null;
  /** The step as its own `ecomm <job>` process, start-up included. */
  processSeconds: number;
  rows: number;
  peakRssMiB: number;
}

interface ModelTiming {
  model: string;
  seconds: number;
  rows: number | null;
}

interface CycleFigures {
  run: { wallSeconds: number; cpuSeconds: number; peakRssMiB: number; reportedSeconds: number | null };
  steps: StepFigures[];
  stepsWallSeconds: number;
  /** Slowest models of the step pipeline's transform, from ops.pipeline_runs. */
  models: ModelTiming[];
  /** The longest model time per layer: the layer's build while models share one duration. */
  layers: ModelTiming[];
  /** False while transform records one duration per layer (every model of a layer shares it). */
  perModelTimings: boolean;
  /** The machine's 1-minute load average before and after the cycle: the services and other work share it. */
  loadAverage: [before: number, after: number];
  /** Bronze and silver tables whose row counts differ between the two pipelines (same input: should be none). */
  disagreements: { table: string; run: number; steps: number }[];
  tablesCompared: number;
}

async function cycle(bench: Bench): Promise<CycleFigures> {
  const loadBefore = loadavg()[0] as number;
  const run = await ecomm('ecomm run', ['run'], bench.run.env);
  const inRun = parseRunSteps(run.stdout);
  const steps: StepFigures[] = [];
  const stepRun = async (step: string, args: string[]) => {
    const child = await ecomm(step, args, bench.steps.env);
    steps.push({
      step,
      inRunSeconds: inRun.steps.get(step) ?? null,
      processSeconds: child.wallSeconds,
      rows: await rowsOf(bench.steps.warehouse, args[0] as string, child),
      peakRssMiB: child.peakRssMiB,
    });
  };
  for (const { step } of RUN_STEPS) {
    if (step === 'quality bronze' && (await pendingBatches(bench.steps.warehouse)) > 0) {
      // What `ecomm run` does after reconcile re-extracted late rows: they reach bronze before the checks.
      await stepRun('validate repairs', STEP_COMMANDS.validate);
      await stepRun('load repairs', STEP_COMMANDS.load);
    }
    await stepRun(step, STEP_COMMANDS[step]);
  }
  const models = await modelTimings(bench.steps.warehouse);
  return {
    run: {
      wallSeconds: run.wallSeconds,
      cpuSeconds: run.cpuSeconds,
      peakRssMiB: run.peakRssMiB,
      reportedSeconds: inRun.totalSeconds,
    },
    steps,
    stepsWallSeconds: steps.reduce((sum, step) => sum + step.processSeconds, 0),
    ...models,
    loadAverage: [loadBefore, loadavg()[0] as number],
    ...(await compareTables(bench.run.warehouse, bench.steps.warehouse)),
  };
}

/**
 * Both pipelines read the same source and topics, so their bronze and silver tables must hold the same number of
 * rows: a difference means one of them lost or doubled data, and its timings are not comparable.
 */
async function compareTables(
  run: SqlDatabase,
  steps: SqlDatabase,
): Promise<Pick<CycleFigures, 'disagreements' | 'tablesCompared'>> {
  const [inRun, inSteps] = await Promise.all([tableRows(run), tableRows(steps)]);
  const tables = [...new Set([...inRun.keys(), ...inSteps.keys()])].sort();
  return {
    disagreements: tables
      .map((table) => ({ table, run: inRun.get(table) ?? -1, steps: inSteps.get(table) ?? -1 }))
      .filter((counts) => counts.run !== counts.steps),
    tablesCompared: tables.length,
  };
}

async function tableRows(db: SqlDatabase): Promise<Map<string, number>> {
  const tables = await db.query<{ name: string }>(
    `select table_schema || '.' || table_name as name from information_schema.tables
     where table_schema in ('bronze', 'silver') and table_type = 'BASE TABLE' and table_name not like '%\\_\\_%'
     order by 1`,
  );
  const counts = new Map<string, number>();
  for (const { name } of tables) {
    const [row] = await db.query<{ n: number }>(`select cast(count(*) as bigint) as n from ${name}`);
    counts.set(name, Number(row?.n ?? 0));
  }
  return counts;
}

/** `ecomm run`'s summary: "Pipeline run <id>: OK in 12.3 s" and "steps: extract 1.2s, stream-ingest 0.4s, …". */
function parseRunSteps(stdout: string): { totalSeconds: number | null; steps: Map<string, number> } {
  const total = /Pipeline run \S+: .*? in ([\d.]+) s/.exec(stdout);
  const line = /^\s*steps: (.*)$/m.exec(stdout);
  const steps = new Map<string, number>();
  for (const part of line?.[1]?.split(', ') ?? []) {
    const match = /^(.+) ([\d.]+)s$/.exec(part.trim());
    if (match) steps.set(match[1] as string, Number(match[2]));
  }
  return { totalSeconds: total ? Number(total[1]) : null, steps };
}

/**
 * The slowest models of the step pipeline's last transform. Per-model figures only mean something once transform
 * records each model's own start and end; until then every model of a layer carries the layer's duration.
 */
async function modelTimings(
  db: SqlDatabase,
): Promise<{ models: ModelTiming[]; layers: ModelTiming[]; perModelTimings: boolean }> {
  const rows = await db.query<{
    step: string;
    duration_ms: number;
    rows_out: number | null;
    started_at: Date;
  }>(
    `select step, cast(duration_ms as integer) as duration_ms, cast(rows_out as integer) as rows_out, started_at
     from ops.pipeline_runs
     where job = 'transform' and status = 'succeeded' and step like '%.%'
       and run_id = (select run_id from ops.pipeline_runs where job = 'transform' order by started_at desc limit 1)
     order by duration_ms desc, step`,
  );
  const timing = (model: string, ms: number, rowsOut: number | null): ModelTiming => ({
    model,
    seconds: ms / 1000,
    rows: rowsOut === null ? null : Number(rowsOut),
  });
  const layers = new Map<string, ModelTiming>();
  for (const row of rows) {
    const layer = row.step.split('.')[0] as string;
    const seen = layers.get(layer);
    if (!seen || seen.seconds < Number(row.duration_ms) / 1000)
      layers.set(layer, timing(layer, Number(row.duration_ms), null));
  }
  const starts = new Set(rows.map((row) => new Date(row.started_at).getTime()));
  return {
    models: rows.slice(0, 8).map((row) => timing(row.step, Number(row.duration_ms), row.rows_out)),
    layers: [...layers.values()],
    perModelTimings: starts.size > layers.size,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The change between the two cycles

interface ChangeFigures {
  orders: number;
  events: number;
  seconds: number;
  at: string;
}

async function changeOrders(bench: Bench, percent: number): Promise<ChangeFigures> {
  const begin = performance.now();
  const source = await openPostgres(bench.sourceUrl);
  const stream = withTopicPrefix(openKafkaStream(`kafka://${bench.brokers}`), bench.prefix);
  try {
    const [count] = await source.query<{ n: number }>(
      'select cast(count(*) as integer) as n from public.orders',
    );
    const orders = Math.max(1, Math.round(((count?.n ?? 0) * percent) / 100));
    // Whole seconds, like every generated timestamp: the events' occurred_at then equals the rows' updated_at.
    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    const changed = await applySourceChanges(source, { seed: SEED, at, orders });
    const events = await orderStatusEvents(source, { seed: SEED, at, orderIds: changed.orders });
    await publishEvents(stream, events);
    return {
      orders: changed.orders.length,
      events: events.length,
      seconds: (performance.now() - begin) / 1000,
      at: at.toISOString(),
    };
  } finally {
    await source.close();
    await stream.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One scale

interface ScaleFigures {
  scale: number;
  sourceRows: Record<string, number>;
  seed: { seconds: number; peakRssMiB: number };
  full: CycleFigures;
  change: ChangeFigures;
  incremental: CycleFigures;
  /** Incremental `ecomm run` wall time over the full run's. */
  ratio: number;
  /** The same for the sum of the per-step processes. */
  stepsRatio: number;
  targetMet: boolean;
}

async function benchScale(services: ServiceEnv, scale: number, changePercent: number): Promise<ScaleFigures> {
  const bench = await openBench(services, scale);
  try {
    const out = (line: string) => process.stdout.write(`[scale ${scale}] ${line}\n`);
    const asOf = todayUtc(new Date()).toISOString().slice(0, 10);
    const seed = await ecomm(
      'generate',
      ['generate', '--seed', String(SEED), '--scale', String(scale), '--as-of', asOf],
      bench.run.env,
    );
    const sourceRows = parseGenerated(seed.stdout);
    out(`seeded in ${seed.wallSeconds.toFixed(1)} s: ${JSON.stringify(sourceRows)}`);
    const full = await cycle(bench);
    out(
      `full: ecomm run ${full.run.wallSeconds.toFixed(1)} s; steps as processes ${full.stepsWallSeconds.toFixed(1)} s`,
    );
    const change = await changeOrders(bench, changePercent);
    out(
      `changed ${change.orders} orders, published ${change.events} events in ${change.seconds.toFixed(1)} s`,
    );
    const incremental = await cycle(bench);
    const ratio = incremental.run.wallSeconds / full.run.wallSeconds;
    out(
      `incremental: ecomm run ${incremental.run.wallSeconds.toFixed(1)} s (${(ratio * 100).toFixed(0)}% of full); ` +
        `steps as processes ${incremental.stepsWallSeconds.toFixed(1)} s`,
    );
    return {
      scale,
      sourceRows,
      seed: { seconds: seed.wallSeconds, peakRssMiB: seed.peakRssMiB },
      full,
      change,
      incremental,
      ratio,
      stepsRatio: incremental.stepsWallSeconds / full.stepsWallSeconds,
      targetMet: ratio <= TARGET_RATIO,
    };
  } finally {
    // This scale's databases, topics and folder go before the next scale starts.
    await disposeAll();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

const n = (value: number) => Math.round(value).toLocaleString('en-US');
const s = (value: number | null) => (value === null ? '-' : value.toFixed(1));

function agreement(figures: CycleFigures, name: string): string {
  if (figures.disagreements.length === 0)
    return `- After the ${name} cycle both pipelines hold the same rows in all ${figures.tablesCompared} bronze and silver tables`;
  return `- **After the ${name} cycle the two pipelines disagree** (same input; one lost or doubled rows, so compare their timings with care): ${figures.disagreements
    .map((d) => `${d.table} ${n(d.run)} (one \`ecomm run\`) vs ${n(d.steps)} (a process per step)`)
    .join(', ')}`;
}

/** The steps that take most of a run, by their time inside `ecomm run`, with their share of it. */
function heaviest(figures: CycleFigures): string {
  const total = figures.run.reportedSeconds ?? figures.run.wallSeconds;
  return (
    figures.steps
      .filter((step) => step.inRunSeconds !== null)
      .sort((a, b) => (b.inRunSeconds ?? 0) - (a.inRunSeconds ?? 0))
      .slice(0, 3)
      .map(
        (step) =>
          `${step.step} ${s(step.inRunSeconds)} s (${(((step.inRunSeconds ?? 0) / total) * 100).toFixed(0)}%)`,
      )
      .join(', ') || 'not printed by `ecomm run`'
  );
}

function scaleSection(result: ScaleFigures): string[] {
  const { full, incremental } = result;
  const byStep = new Map(incremental.steps.map((step) => [step.step, step]));
  const stepRows = full.steps.map((step) => {
    const next = byStep.get(step.step);
    return `| ${step.step} | ${s(step.inRunSeconds)} | ${s(step.processSeconds)} | ${n(step.rows)} | ${n(step.peakRssMiB)} | ${s(next?.inRunSeconds ?? null)} | ${s(next?.processSeconds ?? null)} | ${next ? n(next.rows) : '-'} | ${next ? n(next.peakRssMiB) : '-'} |`;
  });
  const extra = incremental.steps
    .filter((step) => !full.steps.some((other) => other.step === step.step))
    .map(
      (step) =>
        `| ${step.step} | - | - | - | - | ${s(step.inRunSeconds)} | ${s(step.processSeconds)} | ${n(step.rows)} | ${n(step.peakRssMiB)} |`,
    );
  const layerTimes = (cycleFigures: CycleFigures) =>
    cycleFigures.layers.map((layer) => `${layer.model} ${layer.seconds.toFixed(1)} s`).join(', ') || '-';
  const models = (cycleFigures: CycleFigures) =>
    cycleFigures.models.map((model) => `${model.model} ${model.seconds.toFixed(1)} s`).join(', ') || '-';
  return [
    `## Scale ${result.scale}`,
    '',
    `Source: ${Object.entries(result.sourceRows)
      .map(([source, count]) => `${source} ${n(count)}`)
      .join(
        ', ',
      )}. Seeded by \`ecomm generate --scale ${result.scale}\` in ${s(result.seed.seconds)} s (peak ${n(result.seed.peakRssMiB)} MiB).`,
    `Change: ${n(result.change.orders)} orders advanced one status step with updated_at = now, and ${n(result.change.events)} order_status_changed events published (${s(result.change.seconds)} s).`,
    '',
    `- \`ecomm run\`, one process: full **${s(full.run.wallSeconds)} s** (peak ${n(full.run.peakRssMiB)} MiB), incremental **${s(incremental.run.wallSeconds)} s** (peak ${n(incremental.run.peakRssMiB)} MiB): ratio **${(result.ratio * 100).toFixed(1)}%** (target <= ${TARGET_RATIO * 100}%: ${result.targetMet ? 'met' : 'NOT met'})`,
    `- CPU of the \`ecomm run\` process itself (the database server's is not counted): full ${s(full.run.cpuSeconds)} s, incremental ${s(incremental.run.cpuSeconds)} s; machine load average (1 min) before/after: full ${full.loadAverage.map((value) => value.toFixed(1)).join('/')}, incremental ${incremental.loadAverage.map((value) => value.toFixed(1)).join('/')} on ${cpus().length} cores`,
    `- Where the incremental run's time goes (its own step times): ${heaviest(incremental)}`,
    agreement(full, 'full'),
    agreement(incremental, 'incremental'),
    `- The DAG as one process per step: full ${s(full.stepsWallSeconds)} s, incremental ${s(incremental.stepsWallSeconds)} s: ratio ${(result.stepsRatio * 100).toFixed(1)}%`,
    '',
    '| step | full: in `ecomm run` s | full: own process s | full rows | full peak RSS MiB | incremental: in `ecomm run` s | incremental: own process s | incremental rows | incremental peak RSS MiB |',
    '|---|---|---|---|---|---|---|---|---|',
    ...stepRows,
    ...extra,
    `| **whole run** | ${s(full.run.reportedSeconds)} | ${s(full.run.wallSeconds)} | | ${n(full.run.peakRssMiB)} | ${s(incremental.run.reportedSeconds)} | ${s(incremental.run.wallSeconds)} | | ${n(incremental.run.peakRssMiB)} |`,
    '',
    full.perModelTimings
      ? `Slowest models (transform, own process): full ${models(full)}; incremental ${models(incremental)}.`
      : `Per-model timings: not recorded yet: transform writes one duration per layer to ops.pipeline_runs, shared by its models (full: ${layerTimes(full)}; incremental: ${layerTimes(incremental)}); the slowest models appear here once transform records each model's own time.`,
    '',
  ];
}

function writeReport(settings: BenchSettings, results: ScaleFigures[]): void {
  const machine = machineFacts();
  const command = `BENCH_HOURLY_SCALES=${settings.scales.join(',')} BENCH_HOURLY_CHANGE_PERCENT=${settings.changePercent} node bench/hourly.bench.ts`;
  const lines = [
    '# Hourly cycle benchmark (PostgreSQL source and warehouse, Kafka, local lake)',
    '',
    `Run ${new Date().toISOString()} on ${machine}, with the test services of \`npm run services:up\``,
    `on the same machine (PostgreSQL 15, Kafka 4.3). Command: \`${command}\` (part of \`npm run bench\`).`,
    '',
    'Each scale: `ecomm generate` into a fresh source database and fresh topics, a full cycle from an empty warehouse,',
    `then ${settings.changePercent}% of the orders changed in the source (with their events) and the cycle again.`,
    'A cycle runs twice over the same input: one `ecomm run` process (end-to-end wall time; "in `ecomm run`" is its',
    'own step time), and the DAG as one `ecomm <job>` process per step under `/usr/bin/time -v` (wall time with',
    'process start-up, rows, peak RSS). Rows: extract and stream-ingest = rows and events written to raw;',
    'validate = records checked; load = rows into bronze; reconcile = source keys compared; quality bronze = checks',
    'run; transform = rows written by the models.',
    '',
    `Target: the incremental \`ecomm run\` takes <= ${TARGET_RATIO * 100}% of the full run's wall time.`,
    '',
    '| scale | orders | events | full `ecomm run` s | incremental `ecomm run` s | ratio | target |',
    '|---|---|---|---|---|---|---|',
    ...results.map(
      (result) =>
        `| ${result.scale} | ${n(result.sourceRows.orders ?? 0)} | ${n((result.sourceRows.clickstream ?? 0) + (result.sourceRows['order-events'] ?? 0))} | ${s(result.full.run.wallSeconds)} | ${s(result.incremental.run.wallSeconds)} | ${(result.ratio * 100).toFixed(1)}% | ${result.targetMet ? 'met' : 'NOT met'} |`,
    ),
    '',
    ...results.flatMap(scaleSection),
  ];
  mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(REPO_ROOT, 'bench/results/hourly.json'),
    `${JSON.stringify({ machine, command, changePercent: settings.changePercent, targetRatio: TARGET_RATIO, results }, null, 2)}\n`,
  );
  writeFileSync(join(REPO_ROOT, 'bench/results/hourly.md'), lines.join('\n'));
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  cleanUpOnSignals('hourly');
  try {
    const settings = readBenchSettings(process.env);
    const services = await checkServices(CLIENT_ID);
    const results: ScaleFigures[] = [];
    for (const scale of settings.scales)
      results.push(await benchScale(services, scale, settings.changePercent));
    writeReport(settings, results);
    return 0;
  } catch (error) {
    process.stderr.write(`hourly bench: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  } finally {
    await disposeAll();
  }
}

if (import.meta.main) process.exit(await main());
