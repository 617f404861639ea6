/**
 * The pure half of scale.bench.ts: its settings, what a measurement holds, the targets of issue 15 and how a step
 * is judged against them, and the markdown report. No I/O here, so bench/scale.test.ts checks it without services.
 */

/** A bad setting: the bench names it with what it expects and exits 2. */
export class SettingsError extends Error {}

export interface BenchSettings {
  scales: number[];
  /** Product/limit rounds per step that can be repeated. */
  rounds: number;
}

/** BENCH_SCALE_SCALES (default 100,200) and BENCH_SCALE_ROUNDS (default 2); every bad value named at once. */
export function readBenchSettings(env: Record<string, string | undefined>): BenchSettings {
  const problems: string[] = [];
  const scalesText = env.BENCH_SCALE_SCALES?.trim() || '100,200';
  const scales = scalesText.split(',').map((part) => Number(part.trim()));
  if (scales.some((scale) => !Number.isFinite(scale) || scale <= 0 || scale > 1000))
    problems.push(`BENCH_SCALE_SCALES must be scales in (0, 1000] separated by commas, got "${scalesText}"`);
  const roundsText = env.BENCH_SCALE_ROUNDS?.trim() || '2';
  const rounds = Number(roundsText);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10)
    problems.push(`BENCH_SCALE_ROUNDS must be a whole number of rounds in [1, 10], got "${roundsText}"`);
  if (problems.length > 0) throw new SettingsError(problems.join('; '));
  return { scales, rounds };
}

/** One process: the product's `ecomm <job>`, or a limit (psql, the bare parse). */
export interface Measurement {
  wallSeconds: number;
  /** User + system CPU of the process (not of the database server it drives). */
  cpuSeconds: number;
  peakRssMiB: number;
  /** Rows the step moved: as the job recorded them, or as the limit counted them (COPY tags, records parsed). */
  rows: number;
  /** The machine's 1-minute load average before and after. */
  loadAverage: [before: number, after: number];
}

export interface StepFigures {
  step: string;
  /** One per round, in order; the limit's round i ran right after the product's round i. */
  product: Measurement[];
  /** Empty when the step has no limit. */
  limit: Measurement[];
  /** What the limit ran, exactly. */
  limitMethod: string | null;
  /** transform: per round, the models' build times the job recorded (CTAS and row count), summed. */
  modelBuildSeconds?: number[];
}

export interface ScaleFigures {
  scale: number;
  rounds: number;
  sourceRows: Record<string, number>;
  seed: { seconds: number; peakRssMiB: number };
  /** Source to gold: one `ecomm run` process on an empty warehouse. */
  run: Measurement;
  steps: StepFigures[];
  /** Batches held back (failed) in the step pipeline's warehouse at the end: should be none. */
  failedBatches: number;
}

export interface StepTarget {
  /** Least product throughput as a share of the limit's (limit wall / product wall). */
  minRatio?: number;
  /** Most extra time over the limit (product wall / limit wall - 1). */
  maxOverhead?: number;
  /** Least records per CPU-second (user + system) of the product's process. */
  minRowsPerCpuSecond?: number;
  /** Least product rows per CPU-second as a share of the limit's. */
  minCpuRatio?: number;
}

/** Issue 15's targets: reported, not asserted. */
export const TARGETS = {
  peakRssMiB: 512,
  sourceToGoldSeconds: 60,
  steps: {
    extract: { minRatio: 0.7 },
    validate: { minRowsPerCpuSecond: 500_000, minCpuRatio: 0.8 },
    load: { minRatio: 0.8 },
    transform: { maxOverhead: 0.1 },
  } as Record<string, StepTarget>,
};

export interface StepEvaluation {
  step: string;
  /** Medians over the rounds. */
  productSeconds: number;
  limitSeconds: number | null;
  /** Product throughput as a share of the limit's: limit wall / product wall (1: as fast as the limit). */
  ratio: number | null;
  /** The same per CPU-second of the two processes: limit CPU / product CPU. */
  cpuRatio: number | null;
  /** Product wall over the limit's, minus one (transform's overhead). */
  overhead: number | null;
  rows: number;
  limitRows: number | null;
  rowsPerSecond: number;
  rowsPerCpuSecond: number;
  /** The highest of the product's rounds. */
  peakRssMiB: number;
  target: string;
  /** Each target missed, as "what was measured vs what is wanted"; empty when every target is met. */
  misses: string[];
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const x = (value: number) => `${value.toFixed(2)}x`;
const thousands = (value: number) => `${Math.round(value / 1000).toLocaleString('en-US')}k`;

/** A step's medians, ratios and targets met or missed. */
export function evaluateStep(figures: StepFigures, targets = TARGETS): StepEvaluation {
  const productSeconds = median(figures.product.map((m) => m.wallSeconds));
  const productCpu = median(figures.product.map((m) => m.cpuSeconds));
  const hasLimit = figures.limit.length > 0;
  const limitSeconds = hasLimit ? median(figures.limit.map((m) => m.wallSeconds)) : null;
  const limitCpu = hasLimit ? median(figures.limit.map((m) => m.cpuSeconds)) : null;
  const rows = figures.product[0]?.rows ?? 0;
  const evaluation: StepEvaluation = {
    step: figures.step,
    productSeconds,
    limitSeconds,
    ratio: limitSeconds === null ? null : limitSeconds / productSeconds,
    cpuRatio: limitCpu === null ? null : limitCpu / productCpu,
    overhead: limitSeconds === null ? null : productSeconds / limitSeconds - 1,
    rows,
    limitRows: hasLimit ? (figures.limit[0]?.rows ?? 0) : null,
    rowsPerSecond: rows / productSeconds,
    rowsPerCpuSecond: rows / productCpu,
    peakRssMiB: Math.max(...figures.product.map((m) => m.peakRssMiB)),
    target: '',
    misses: [],
  };
  const wanted: string[] = [];
  const target = targets.steps[figures.step] ?? {};
  const { ratio, cpuRatio, overhead } = evaluation;
  if (target.minRatio !== undefined) {
    wanted.push(`>= ${x(target.minRatio)} limit`);
    if (ratio === null || !(ratio >= target.minRatio))
      evaluation.misses.push(`ratio ${ratio === null ? 'not measured' : x(ratio)} < ${x(target.minRatio)}`);
  }
  if (target.minRowsPerCpuSecond !== undefined) {
    wanted.push(`>= ${thousands(target.minRowsPerCpuSecond)} rows/CPU-s`);
    if (!(evaluation.rowsPerCpuSecond >= target.minRowsPerCpuSecond))
      evaluation.misses.push(
        `${thousands(evaluation.rowsPerCpuSecond)} rows/CPU-s < ${thousands(target.minRowsPerCpuSecond)}`,
      );
  }
  if (target.minCpuRatio !== undefined) {
    wanted.push(`>= ${x(target.minCpuRatio)} limit per CPU-s`);
    if (cpuRatio === null || !(cpuRatio >= target.minCpuRatio))
      evaluation.misses.push(
        `per CPU-s ${cpuRatio === null ? 'not measured' : x(cpuRatio)} < ${x(target.minCpuRatio)}`,
      );
  }
  if (target.maxOverhead !== undefined) {
    wanted.push(`<= ${percent(target.maxOverhead)} over limit`);
    if (overhead === null || !(overhead <= target.maxOverhead))
      evaluation.misses.push(
        `${overhead === null ? 'not measured' : percent(overhead)} over > ${percent(target.maxOverhead)}`,
      );
  }
  wanted.push(`RSS <= ${targets.peakRssMiB} MiB`);
  if (!(evaluation.peakRssMiB <= targets.peakRssMiB))
    evaluation.misses.push(`RSS ${Math.round(evaluation.peakRssMiB)} > ${targets.peakRssMiB} MiB`);
  evaluation.target = wanted.join(', ');
  return evaluation;
}

/** The rows of a psql session's command tags (`COPY 123`, `SELECT 45` for CREATE TABLE AS), summed. */
export function parseCommandTags(stdout: string, tag: 'COPY' | 'SELECT'): number {
  let rows = 0;
  for (const match of stdout.matchAll(new RegExp(`^${tag} (\\d+)$`, 'gm'))) rows += Number(match[1]);
  return rows;
}

/** The DAG as one process per step: the first product round of every step, source to gold. */
export function stepsSourceToGoldSeconds(result: ScaleFigures): number {
  return result.steps.reduce((sum, step) => sum + (step.product[0]?.wallSeconds ?? 0), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Report

export interface Report {
  at: string;
  machine: string;
  command: string;
  /** The machine's 1-minute load average when the bench started and ended. */
  loadAverage: [number, number];
  targets: typeof TARGETS;
  results: ScaleFigures[];
}

const n = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-');
const s = (value: number | null) => (value === null || !Number.isFinite(value) ? '-' : value.toFixed(1));
function percent(value: number): string {
  return `${value >= 0 ? '+' : ''}${(value * 100).toFixed(0)}%`;
}

function ratioCell(evaluation: StepEvaluation): string {
  if (evaluation.ratio === null) return '-';
  if (evaluation.step === 'transform' && evaluation.overhead !== null)
    return `${x(evaluation.ratio)} (${percent(evaluation.overhead)} time)`;
  if (evaluation.step === 'validate' && evaluation.cpuRatio !== null)
    return `${x(evaluation.ratio)} (per CPU-s ${x(evaluation.cpuRatio)})`;
  return x(evaluation.ratio);
}

function stepRow(evaluation: StepEvaluation): string {
  const met = evaluation.misses.length === 0 ? 'yes' : `**NO**: ${evaluation.misses.join('; ')}`;
  return `| ${evaluation.step} | ${s(evaluation.productSeconds)} | ${s(evaluation.limitSeconds)} | ${ratioCell(evaluation)} | ${n(evaluation.rows)} | ${n(evaluation.rowsPerSecond)} | ${n(evaluation.rowsPerCpuSecond)} | ${n(evaluation.peakRssMiB)} | ${evaluation.target} | ${met} |`;
}

function roundsLine(step: StepFigures): string {
  const rounds = step.product.map((product, index) => {
    const limit = step.limit[index];
    return limit ? `${s(product.wallSeconds)}/${s(limit.wallSeconds)}` : s(product.wallSeconds);
  });
  return `${step.step} ${rounds.join(', ')}`;
}

function loadRange(result: ScaleFigures): string {
  const all = [result.run, ...result.steps.flatMap((step) => [...step.product, ...step.limit])];
  const values = all.flatMap((m) => m.loadAverage);
  return `${Math.min(...values).toFixed(1)} to ${Math.max(...values).toFixed(1)}`;
}

function scaleSection(result: ScaleFigures, targets: typeof TARGETS): string[] {
  const evaluations = result.steps.map((step) => evaluateStep(step, targets));
  const runMet = result.run.wallSeconds <= targets.sourceToGoldSeconds;
  const runRssMet = result.run.peakRssMiB <= targets.peakRssMiB;
  const transform = result.steps.find((step) => step.step === 'transform');
  const transformEvaluation = evaluations.find((evaluation) => evaluation.step === 'transform');
  const validateEvaluation = evaluations.find((evaluation) => evaluation.step === 'validate');
  const notes: string[] = [];
  for (const evaluation of evaluations) {
    if (evaluation.limitRows !== null && evaluation.limitRows !== evaluation.rows)
      notes.push(
        `- **${evaluation.step}: the limit counted ${n(evaluation.limitRows)} rows, the job recorded ${n(evaluation.rows)}**: compare with care`,
      );
  }
  for (const step of result.steps) {
    const differing = step.product.filter((m) => m.rows !== step.product[0]?.rows);
    if (differing.length > 0)
      notes.push(
        `- **${step.step}: the rounds moved different rows** (${step.product.map((m) => n(m.rows)).join(', ')})`,
      );
  }
  if (result.failedBatches > 0)
    notes.push(`- **${result.failedBatches} batch(es) held back (failed) in the step pipeline's warehouse**`);
  const modelSeconds = transform?.modelBuildSeconds ?? [];
  return [
    `## Scale ${result.scale}`,
    '',
    `Source: ${Object.entries(result.sourceRows)
      .map(([source, count]) => `${source} ${n(count)}`)
      .join(
        ', ',
      )}. Seeded by \`ecomm generate --scale ${result.scale}\` in ${s(result.seed.seconds)} s (peak ${n(result.seed.peakRssMiB)} MiB).`,
    '',
    `- Source to gold, one \`ecomm run\` process on an empty warehouse: **${s(result.run.wallSeconds)} s** (goal <= ${targets.sourceToGoldSeconds} s: ${runMet ? 'met' : '**NOT met**'}), peak ${n(result.run.peakRssMiB)} MiB (${runRssMet ? 'within' : '**over**'} ${targets.peakRssMiB} MiB), CPU of the process ${s(result.run.cpuSeconds)} s, machine load average (1 min) ${result.run.loadAverage.map((value) => value.toFixed(1)).join(' before, ')} after`,
    `- Source to gold as one process per step (the first round of each step below, process start-up included): ${s(stepsSourceToGoldSeconds(result))} s`,
    `- Machine load average (1 min) during this scale's measurements: ${loadRange(result)} (per measurement in scale.json)`,
    '',
    '| step | product wall s | limit wall s | ratio | rows | rows/s | rows/CPU-s | peak RSS MiB | target | met? |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...evaluations.map(stepRow),
    `| **ecomm run** (source to gold) | ${s(result.run.wallSeconds)} | - | - | | | | ${n(result.run.peakRssMiB)} | <= ${targets.sourceToGoldSeconds} s, RSS <= ${targets.peakRssMiB} MiB | ${runMet && runRssMet ? 'yes' : '**NO**'} |`,
    '',
    `Wall seconds per round (product/limit, ${result.rounds} round(s)): ${result.steps.map(roundsLine).join('; ')}.`,
    ...(validateEvaluation?.cpuRatio
      ? [
          '',
          `Validate: the job checked ${n(validateEvaluation.rowsPerCpuSecond)} records per CPU-second of its process (all its threads); the bare parse of the same raw objects alone reads ${n(validateEvaluation.rowsPerCpuSecond / validateEvaluation.cpuRatio)} per CPU-second.`,
        ]
      : []),
    ...(modelSeconds.length > 0 && transformEvaluation
      ? [
          '',
          `Transform: the job recorded ${modelSeconds.map((value) => s(value)).join(', ')} s of model builds (CTAS, indexes and row count, summed over the models: up to TRANSFORM_CONCURRENCY of them build side by side, so the sum can pass the wall time) per round, against ${s(median(transform?.limit.map((m) => m.wallSeconds) ?? []))} s for the same SQL through psql, one model at a time; besides the builds, its ${s(transformEvaluation.productSeconds)} s hold the layers' checks, the swaps, the ops and lineage records and process start-up.`,
        ]
      : []),
    ...(notes.length > 0 ? ['', ...notes] : []),
    '',
  ];
}

export function renderReport(report: Report): string {
  const { targets } = report;
  const methods = new Map<string, string>();
  for (const step of report.results.flatMap((result) => result.steps))
    if (step.limitMethod) methods.set(step.step, step.limitMethod);
  const lines = [
    '# Batch throughput at scale (issue 15): each step against its limit',
    '',
    `Run ${report.at} on ${report.machine}, with the test services of \`npm run services:up\` on the same machine`,
    `(PostgreSQL 15, Kafka). Command: \`${report.command}\` (part of \`npm run bench\`). Machine load average (1 min)`,
    `at the start and the end: ${report.loadAverage.map((value) => value.toFixed(1)).join(' and ')} (per measurement in scale.json).`,
    '',
    'Each scale: `ecomm generate` into a fresh source database and fresh topics; one `ecomm run` from an empty warehouse',
    "(source to gold); then the run's DAG on a second empty warehouse, one `ecomm <job>` process per step under",
    '`/usr/bin/time -v` (wall time with process start-up, CPU user + system, peak RSS), each step with a limit run',
    'alternately with it (product, limit, product, limit, ...) on the same rows. Between rounds the bench puts the',
    'warehouse back where the step found it (extract: watermarks deleted; validate: batches marked not validated;',
    'load: the tables load writes truncated and batches marked not loaded; transform: `--full-refresh` rebuilds every',
    "model whole), so every round does the first round's work. stream-ingest, reconcile and quality bronze run once,",
    'without a limit. Rows: extract = rows written to raw, validate = records checked, load = rows into bronze,',
    'transform = rows written by the models (as the jobs recorded them in ops.pipeline_runs); limits count their own.',
    "Ratio: the product's throughput as a share of its limit's (limit wall / product wall; 1.00x = as fast as the",
    'limit); times are medians over the rounds, peak RSS the highest round. rows/CPU-s: rows per CPU-second of the',
    "product's process (not the database server's).",
    '',
    `Targets (reported, not asserted): extract >= ${x(targets.steps.extract?.minRatio ?? Number.NaN)} its limit, load >= ${x(targets.steps.load?.minRatio ?? Number.NaN)},`,
    `validate >= ${thousands(targets.steps.validate?.minRowsPerCpuSecond ?? Number.NaN)} rows per CPU-second and >= ${x(targets.steps.validate?.minCpuRatio ?? Number.NaN)} the bare parse's rows per CPU-second,`,
    `transform <= ${percent(targets.steps.transform?.maxOverhead ?? Number.NaN)} time over its SQL through psql, every job <= ${targets.peakRssMiB} MiB peak RSS, source to gold <= ${targets.sourceToGoldSeconds} s.`,
    '',
    '| scale | orders | order lines | events | source to gold (`ecomm run`) s | goal | one process per step s |',
    '|---|---|---|---|---|---|---|',
    ...report.results.map(
      (result) =>
        `| ${result.scale} | ${n(result.sourceRows.orders ?? Number.NaN)} | ${n(result.sourceRows.order_items ?? Number.NaN)} | ${n((result.sourceRows.clickstream ?? 0) + (result.sourceRows['order-events'] ?? 0))} | ${s(result.run.wallSeconds)} | ${result.run.wallSeconds <= targets.sourceToGoldSeconds ? 'met' : '**NOT met**'} | ${s(stepsSourceToGoldSeconds(result))} |`,
    ),
    '',
    ...report.results.flatMap((result) => scaleSection(result, targets)),
    '## The limits, exactly',
    '',
    ...[...methods].map(([step, method]) => `- ${step}: ${method}.`),
    '',
  ];
  return lines.join('\n');
}
