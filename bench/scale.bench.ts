/**
 * `npm run bench` (part 7, needs `npm run services:up`): batch throughput at a million orders (issue 15). Per scale
 * in BENCH_SCALE_SCALES (default 100,200), on the services' PostgreSQL (source and warehouse in fresh databases),
 * Kafka and a local lake:
 *
 * 1. `ecomm generate --scale <s>` seeds the source and the topics.
 * 2. Source to gold: one `ecomm run` process on an empty warehouse (its own lake and consumer group), against the
 *    60 s goal.
 * 3. The run's DAG (RUN_STEPS) on a second empty warehouse, one `ecomm <job>` process per step under
 *    `/usr/bin/time -v` (wall time, CPU, peak RSS), each step with a limit where the issue names one, product and
 *    limit alternating BENCH_SCALE_ROUNDS (2) times, so both see the same machine load:
 *    - extract vs `psql` `\copy (<the extract's own SELECT>) to <file>` of every source table, same rows;
 *    - validate vs a bare parse (bench/scale-parse.ts: csv-parse, or zstd + line split + JSON.parse) of the raw
 *      objects validate read, on as many threads as validate uses;
 *    - load vs `psql` `\copy <copy of the landing table> from <staged file>` of every staged object load read;
 *    - transform (`--full-refresh`: every model built whole, as in the first run) vs the models' compiled SQL
 *      (renderModelSql, as the job renders it) as CREATE TABLE AS statements through one `psql -f` session.
 *    Between rounds the bench puts the warehouse back where the step found it (watermarks deleted, batches marked
 *    not validated or not loaded, the tables load writes truncated): each product round does the first round's work.
 *    stream-ingest, reconcile and quality bronze run once (no limit; their RSS is still checked).
 *
 * Targets (reported, not asserted): extract >= 0.7x its limit's throughput, load >= 0.8x, validate >= 500k rows per
 * CPU-second and >= 0.8x the bare parse's rows per CPU-second, transform <= 10% over its SQL, every job <= 512 MiB
 * peak RSS, source to gold <= 60 s. Writes bench/results/scale.json and bench/results/scale.md; drops its databases,
 * topics and folders at the end (also on Ctrl-C).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { RUN_STEPS, type RunStepSpec } from '../jobs/catalog.ts';
import { contractFor } from '../jobs/contracts/data-contracts.ts';
import { SOURCE_TABLES } from '../jobs/contracts/source-tables.ts';
import { sourceSelect, timestampLiteral } from '../jobs/extract/index.ts';
import { todayUtc } from '../jobs/generate/index.ts';
import { renderModelSql } from '../jobs/models/build.ts';
import { loadModels, MODEL_LAYERS, renameTableReferences } from '../jobs/models/models.ts';
import { stagingColumns } from '../jobs/validate/index.ts';
import { THREADS_MIN_ROWS, threadCount } from '../jobs/validate/threads.ts';
import type { ServiceEnv } from '../scripts/services/env.ts';
import {
  checkServices,
  cleanUpOnSignals,
  createBenchTopics,
  disposeAll,
  ecomm,
  freshDatabase,
  loadAverageNow,
  machineFacts,
  onCleanup,
  type ProcessRun,
  parseGenerated,
  pendingBatches,
  REPO_ROOT,
  rowsOf,
  timedProcess,
  UsageError,
} from './harness.ts';
import {
  type BenchSettings,
  evaluateStep,
  type Measurement,
  parseCommandTags,
  readBenchSettings,
  renderReport,
  type ScaleFigures,
  SettingsError,
  type StepFigures,
  stepsSourceToGoldSeconds,
  TARGETS,
} from './scale-report.ts';

const SEED = 42;
const CLIENT_ID = 'scale-bench';
const BARE_PARSE = join(REPO_ROOT, 'bench/scale-parse.ts');
/** Where the limits write: a schema of the steps warehouse the product never reads. */
const LIMIT_SCHEMA = 'bench_limit';

/** The CLI command of each step of `ecomm run`'s DAG: a step added to RUN_STEPS without one does not compile. */
const STEP_COMMANDS: Record<RunStepSpec['step'], string[]> = {
  extract: ['extract'],
  'stream-ingest': ['stream-ingest'],
  validate: ['validate'],
  load: ['load'],
  reconcile: ['reconcile'],
  'quality bronze': ['quality', '--layer', 'bronze'],
  // Every model whole in every round, as the first run on an empty warehouse builds them.
  transform: ['transform', '--layer', 'all', '--full-refresh'],
};

// ---------------------------------------------------------------------------------------------------------------
// The step pipeline: one warehouse, one lake, measured step by step

interface StepsBench {
  env: Record<string, string>;
  sourceUrl: string;
  warehouseUrl: string;
  db: SqlDatabase;
  /** The lake's folder (LAKE_URL file://): raw, staging and quarantine objects are files under it. */
  lake: string;
  /** A scratch folder for the limits' files. */
  scratch: string;
}

const measured = async (run: () => Promise<ProcessRun>, rows: (child: ProcessRun) => Promise<number>) => {
  const before = loadAverageNow();
  const child = await run();
  const figures: Measurement = {
    wallSeconds: child.wallSeconds,
    cpuSeconds: child.cpuSeconds,
    peakRssMiB: child.peakRssMiB,
    rows: await rows(child),
    loadAverage: [before, loadAverageNow()],
  };
  return { child, figures };
};

/** One product round: `ecomm <step>` in its own process, rows from what the job recorded. */
async function product(bench: StepsBench, step: string, args: string[]): Promise<Measurement> {
  const job = args[0] as string;
  return (
    await measured(
      () => ecomm(step, args, bench.env),
      (child) => rowsOf(bench.db, job, child),
    )
  ).figures;
}

/** A SQL script through one psql session (no psqlrc, stop at the first error); rows from its command tags. */
async function psql(
  bench: StepsBench,
  label: string,
  script: string,
  tag: 'COPY' | 'SELECT',
  url: string = bench.warehouseUrl,
) {
  const file = join(bench.scratch, `${label.replace(/\W+/g, '-')}.sql`);
  writeFileSync(file, script);
  return (
    await measured(
      () => timedProcess(label, 'psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', file], {}),
      async (child) => parseCommandTags(child.stdout, tag),
    )
  ).figures;
}

/** Product and limit alternating, `rounds` times; `reset` puts the warehouse back before each later product round. */
async function alternate(
  rounds: number,
  reset: () => Promise<unknown>,
  productRound: () => Promise<Measurement>,
  limitRound: () => Promise<Measurement>,
): Promise<Pick<StepFigures, 'product' | 'limit'>> {
  const figures: Pick<StepFigures, 'product' | 'limit'> = { product: [], limit: [] };
  for (let round = 1; round <= rounds; round += 1) {
    if (round > 1) await reset();
    figures.product.push(await productRound());
    figures.limit.push(await limitRound());
  }
  return figures;
}

/**
 * extract vs `\copy (<sourceSelect of the same window>) to <file> csv header` per source table, in one psql
 * session: the same SELECT (columns, window, order) the job streams from `COPY ... TO STDOUT`, to files on the same
 * disk. The window's upper bound is the watermark the job's first round set (its initial window: every row up to
 * the newest updated_at). Reset: the watermarks deleted, so the next extract is an initial one again (same batch ids,
 * same objects overwritten).
 */
async function extractStep(bench: StepsBench, rounds: number): Promise<StepFigures> {
  const limitScript = async () => {
    const marks = await bench.db.query<{ source: string; watermark_at: string }>(
      'select source, cast(watermark_at as varchar) as watermark_at from ops.watermarks',
    );
    const upTo = new Map(marks.map((mark) => [mark.source, mark.watermark_at]));
    const folder = join(bench.scratch, 'extract');
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder, { recursive: true });
    return SOURCE_TABLES.filter((table) => upTo.has(table.name))
      .map((table) => {
        const select = sourceSelect(
          table,
          `updated_at <= ${timestampLiteral(upTo.get(table.name) as string)}`,
        );
        return `\\copy (${select}) to '${join(folder, `${table.name}.csv`)}' with (format csv, header true)\n`;
      })
      .join('');
  };
  return {
    step: 'extract',
    ...(await alternate(
      rounds,
      () => bench.db.exec('delete from ops.watermarks'),
      () => product(bench, 'extract', STEP_COMMANDS.extract),
      async () => psql(bench, 'extract limit', await limitScript(), 'COPY', bench.sourceUrl),
    )),
    limitMethod:
      "psql `\\copy (<the extract's SELECT: contract columns, initial window, updated_at + key order>) to '<file>' with (format csv, header true)`, one per source table, one psql session",
  };
}

/**
 * validate vs a bare parse of the raw objects the batches it validated point at (bench/scale-parse.ts), on the
 * threads validate gives itself (threads.ts: VALIDATE_WORKERS or the cores, at most 4, and none below 50,000 rows).
 * Reset: every batch of the batch jobs marked not validated (as `ecomm batches retry` of a failed validation does).
 */
async function validateStep(bench: StepsBench, rounds: number): Promise<StepFigures> {
  const limitRound = async () => {
    const batches = await bench.db.query<{ raw_key: string; rows_raw: number }>(
      `select raw_key, cast(rows_raw as bigint) as rows_raw from ops.batches
       where source_kind <> 'stream' and validated_at is not null order by extracted_at, batch_id`,
    );
    const rows = batches.reduce((sum, batch) => sum + Number(batch.rows_raw), 0);
    const setting = bench.env.VALIDATE_WORKERS ? Number(bench.env.VALIDATE_WORKERS) : undefined;
    const threads = rows < THREADS_MIN_ROWS ? 1 : Math.max(1, threadCount(setting, batches.length));
    const list = join(bench.scratch, 'raw-files.json');
    writeFileSync(list, JSON.stringify(batches.map((batch) => join(bench.lake, batch.raw_key))));
    return (
      await measured(
        () => timedProcess('bare parse', process.execPath, [BARE_PARSE, String(threads), list], {}),
        async (child) => (JSON.parse(child.stdout) as { rows: number }).rows,
      )
    ).figures;
  };
  return {
    step: 'validate',
    ...(await alternate(
      rounds,
      () =>
        bench.db.exec(
          `update ops.batches set validated_at = null, staged_key = null, quarantine_key = null, rows_staged = null,
             rows_quarantined = null, rows_rescued = null, rows_loaded = null, loaded_at = null
           where source_kind <> 'stream' and failed_at is null and skipped_at is null`,
        ),
      () => product(bench, 'validate', STEP_COMMANDS.validate),
      limitRound,
    )),
    limitMethod:
      'bare parse of the same raw objects in one node process (bench/scale-parse.ts): csv-parse with the options validate uses; zstd-decompressed NDJSON split into lines, each envelope and the event inside it JSON.parse-d; as many worker threads as validate starts',
  };
}

/**
 * load vs `\copy <empty copy of the table load COPYs into> (<staging columns>) from '<staged file>' csv header`
 * per staged object, in one psql session. The copies are `create table ... (like <landing> including all)`: same
 * columns, defaults (_ingested_at) and `_batch_id, _ingested_at` index. A source with personal data lands in `pii.<table>` and
 * load then copies it to bronze without the clear columns: that second write is product work the limit does not
 * do. Reset: the tables load writes (bronze, pii, ops.quarantine_rows) truncated and the batches marked not loaded,
 * so every round loads into empty tables, as the first load does.
 */
async function loadStep(bench: StepsBench, rounds: number): Promise<StepFigures> {
  const batches = async () =>
    (
      await bench.db.query<{ source: string; staged_key: string }>(
        `select source, staged_key from ops.batches
         where source_kind <> 'stream' and loaded_at is not null order by extracted_at, batch_id`,
      )
    ).map((batch) => {
      const contract = contractFor(batch.source);
      const bronze = `bronze.${contract.table}`;
      const landing = contract.piiColumns.length > 0 ? `pii.${contract.table}` : bronze;
      return { ...batch, contract, bronze, landing, copy: `${LIMIT_SCHEMA}.${landing.replace('.', '__')}` };
    });
  let loaded: Awaited<ReturnType<typeof batches>> = [];
  const limitRound = async () => {
    loaded = await batches();
    const copies = new Map(loaded.map((batch) => [batch.copy, batch.landing]));
    await bench.db.exec(`create schema if not exists ${LIMIT_SCHEMA}`);
    for (const [copy, landing] of copies) {
      await bench.db.exec(`create table if not exists ${copy} (like ${landing} including all)`);
      await bench.db.exec(`truncate ${copy}`);
    }
    const script = loaded
      .map(
        (batch) =>
          `\\copy ${batch.copy} (${stagingColumns(batch.contract).join(', ')}) from '${join(bench.lake, batch.staged_key)}' with (format csv, header true)\n`,
      )
      .join('');
    return psql(bench, 'load limit', script, 'COPY');
  };
  const reset = async () => {
    const tables = new Set(loaded.flatMap((batch) => [batch.bronze, batch.landing]));
    await bench.db.exec(`truncate ${[...tables, 'ops.quarantine_rows'].join(', ')}`);
    await bench.db.exec(
      `update ops.batches set rows_loaded = null, loaded_at = null
       where source_kind <> 'stream' and validated_at is not null and failed_at is null and skipped_at is null`,
    );
  };
  return {
    step: 'load',
    ...(await alternate(rounds, reset, () => product(bench, 'load', STEP_COMMANDS.load), limitRound)),
    limitMethod:
      "psql `\\copy <table like the landing table, including all> (<staging columns>) from '<staged file>' with (format csv, header true)`, one per staged object, one psql session",
  };
}

/**
 * transform vs the models' SQL through psql: every silver then every gold model, in the job's build order, rendered
 * as the job renders it (renderModelSql on the warehouse's dialect, its own layer's reads renamed), as
 * `create table bench_limit_<layer>.<model> as <select>` in one `psql -f` session reading the same bronze. The job
 * also counts each table, runs the layers' checks, records findings, runs and lineage, and swaps the tables in:
 * that is its overhead. No reset: `--full-refresh` rebuilds every model whole from the same bronze each round.
 */
async function transformStep(bench: StepsBench, rounds: number): Promise<StepFigures> {
  const models = loadModels();
  const limitName = (table: string) => (table.startsWith('bronze.') ? undefined : `${LIMIT_SCHEMA}_${table}`);
  const script = MODEL_LAYERS.flatMap((layer) => models.filter((model) => model.layer === layer))
    .map((model) => {
      const select = renderModelSql(
        { ...model, sql: renameTableReferences(model.sql, limitName) },
        bench.db.dialect,
        {},
      );
      return `create table ${limitName(model.name)} as\n${select}\n;\n`;
    })
    .join('');
  const modelSeconds: number[] = [];
  const productRound = async () => {
    const before = loadAverageNow();
    const child = await ecomm('transform', STEP_COMMANDS.transform, bench.env);
    const [built] = await bench.db.query<{ ms: number }>(
      `select cast(coalesce(sum(duration_ms), 0) as bigint) as ms from ops.pipeline_runs
       where job = 'transform' and status = 'succeeded' and step like '%.%' and started_at >= $1 and started_at <= $2`,
      [child.startedAt, child.finishedAt],
    );
    modelSeconds.push(Number(built?.ms ?? 0) / 1000);
    return {
      wallSeconds: child.wallSeconds,
      cpuSeconds: child.cpuSeconds,
      peakRssMiB: child.peakRssMiB,
      rows: await rowsOf(bench.db, 'transform', child),
      loadAverage: [before, loadAverageNow()] as [number, number],
    };
  };
  const limitRound = async () => {
    for (const layer of MODEL_LAYERS)
      await bench.db.exec(
        `drop schema if exists ${LIMIT_SCHEMA}_${layer} cascade; create schema ${LIMIT_SCHEMA}_${layer}`,
      );
    return psql(bench, 'transform limit', script, 'SELECT');
  };
  return {
    step: 'transform',
    ...(await alternate(rounds, async () => {}, productRound, limitRound)),
    limitMethod:
      "the models' SQL as the job renders it (renderModelSql), `create table bench_limit_<layer>.<model> as <select>` for every silver then gold model in build order, one `psql -f` session on the same bronze",
    modelBuildSeconds: modelSeconds,
  };
}

/** A step with no limit, run once. */
async function onceStep(bench: StepsBench, step: string, args: string[]): Promise<StepFigures> {
  return { step, product: [await product(bench, step, args)], limit: [], limitMethod: null };
}

// ---------------------------------------------------------------------------------------------------------------
// One scale

async function benchScale(services: ServiceEnv, scale: number, rounds: number): Promise<ScaleFigures> {
  const out = (line: string) => process.stdout.write(`[scale ${scale}] ${line}\n`);
  const tag = `scale_s${String(scale).replace(/\W/g, '_')}`;
  const prefix = `scale-${randomBytes(3).toString('hex')}.`;
  const brokers = services.TEST_KAFKA_BROKERS;
  try {
    const source = await freshDatabase(`${tag}_src`);
    const folder = mkdtempSync(join(tmpdir(), 'ecomm-scale-'));
    onCleanup(async () => rmSync(folder, { recursive: true, force: true }));
    await createBenchTopics(brokers, prefix, CLIENT_ID);
    const envOf = (name: string, warehouseUrl: string) => ({
      SOURCE_URL: source.url,
      WAREHOUSE_URL: warehouseUrl,
      LAKE_URL: `file://${folder}/${name}-lake`,
      STREAM_URL: `kafka://${brokers}`,
      STREAM_TOPIC_PREFIX: prefix,
      STREAM_GROUP_ID: `${prefix}${name}`,
      SECRETS_URL: 'env://',
      PII_HASH_KEY: 'scale-bench-key',
      LOG_LEVEL: 'warn',
    });

    const runWarehouse = await freshDatabase(`${tag}_run_wh`);
    const asOf = todayUtc(new Date()).toISOString().slice(0, 10);
    const seed = await ecomm(
      'generate',
      ['generate', '--seed', String(SEED), '--scale', String(scale), '--as-of', asOf],
      envOf('run', runWarehouse.url),
    );
    const sourceRows = parseGenerated(seed.stdout);
    out(`seeded in ${seed.wallSeconds.toFixed(1)} s: ${JSON.stringify(sourceRows)}`);

    const runBefore = loadAverageNow();
    const run = await ecomm('ecomm run', ['run'], envOf('run', runWarehouse.url));
    const runFigures: Measurement = {
      wallSeconds: run.wallSeconds,
      cpuSeconds: run.cpuSeconds,
      peakRssMiB: run.peakRssMiB,
      rows: 0,
      loadAverage: [runBefore, loadAverageNow()],
    };
    out(`source to gold: ecomm run ${run.wallSeconds.toFixed(1)} s, peak ${run.peakRssMiB.toFixed(0)} MiB`);
    // Its warehouse and lake are done with: dropped now, so the step pipeline does not share the disk with them.
    await runWarehouse.dispose();
    rmSync(join(folder, 'run-lake'), { recursive: true, force: true });

    const warehouse = await freshDatabase(`${tag}_steps_wh`);
    const db = await openPostgres(warehouse.url);
    onCleanup(() => db.close());
    const scratch = join(folder, 'limits');
    mkdirSync(scratch, { recursive: true });
    const bench: StepsBench = {
      env: envOf('steps', warehouse.url),
      sourceUrl: source.url,
      warehouseUrl: warehouse.url,
      db,
      lake: join(folder, 'steps-lake'),
      scratch,
    };
    const steps: StepFigures[] = [];
    const done = (figures: StepFigures) => {
      steps.push(figures);
      const walls = (list: Measurement[]) => list.map((m) => m.wallSeconds.toFixed(1)).join('/') || '-';
      out(`${figures.step}: product ${walls(figures.product)} s, limit ${walls(figures.limit)} s`);
    };
    for (const { step } of RUN_STEPS) {
      if (step === 'extract') done(await extractStep(bench, rounds));
      else if (step === 'validate') done(await validateStep(bench, rounds));
      else if (step === 'load') done(await loadStep(bench, rounds));
      else if (step === 'transform') done(await transformStep(bench, rounds));
      else {
        if (step === 'quality bronze' && (await pendingBatches(db)) > 0) {
          // What `ecomm run` does after reconcile re-extracted late rows: they reach bronze before the checks.
          done(await onceStep(bench, 'validate repairs', STEP_COMMANDS.validate));
          done(await onceStep(bench, 'load repairs', STEP_COMMANDS.load));
        }
        done(await onceStep(bench, step, STEP_COMMANDS[step]));
      }
    }
    const [failed] = await db.query<{ n: number }>(
      'select cast(count(*) as integer) as n from ops.batches where failed_at is not null',
    );
    return {
      scale,
      rounds,
      sourceRows,
      seed: { seconds: seed.wallSeconds, peakRssMiB: seed.peakRssMiB },
      run: runFigures,
      steps,
      failedBatches: Number(failed?.n ?? 0),
    };
  } finally {
    // This scale's databases, topics and folder go before the next scale starts.
    await disposeAll();
  }
}

// ---------------------------------------------------------------------------------------------------------------

function commandOf(settings: BenchSettings): string {
  return `BENCH_SCALE_SCALES=${settings.scales.join(',')} BENCH_SCALE_ROUNDS=${settings.rounds} node bench/scale.bench.ts`;
}

async function main(): Promise<number> {
  cleanUpOnSignals('scale');
  try {
    const settings = readBenchSettings(process.env);
    const services = await checkServices(CLIENT_ID);
    const results: ScaleFigures[] = [];
    const loadBefore = loadAverageNow();
    for (const scale of settings.scales) results.push(await benchScale(services, scale, settings.rounds));
    const report = {
      at: new Date().toISOString(),
      machine: machineFacts(),
      command: commandOf(settings),
      loadAverage: [loadBefore, loadAverageNow()] as [number, number],
      targets: TARGETS,
      results,
    };
    const markdown = renderReport(report);
    // The JSON also carries what the markdown derives: each step's medians, ratios and targets missed.
    const withEvaluations = {
      ...report,
      results: results.map((result) => ({
        ...result,
        stepsSourceToGoldSeconds: stepsSourceToGoldSeconds(result),
        evaluations: result.steps.map((step) => evaluateStep(step)),
      })),
    };
    mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
    writeFileSync(
      join(REPO_ROOT, 'bench/results/scale.json'),
      `${JSON.stringify(withEvaluations, null, 2)}\n`,
    );
    writeFileSync(join(REPO_ROOT, 'bench/results/scale.md'), markdown);
    process.stdout.write(markdown);
    return 0;
  } catch (error) {
    process.stderr.write(`scale bench: ${(error as Error).message}\n`);
    return error instanceof UsageError || error instanceof SettingsError ? 2 : 1;
  } finally {
    await disposeAll();
  }
}

if (import.meta.main) process.exit(await main());
