/**
 * The scale bench's pure parts: reading GNU time's and psql's output, judging a step against issue 15's targets and
 * the report it writes; and that it refuses bad settings before creating anything. (The bench itself,
 * `node bench/scale.bench.ts`, is the proof of the rest: its results are committed in bench/results/scale.md.)
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseTimeReport } from './harness.ts';
import {
  evaluateStep,
  type Measurement,
  median,
  parseCommandTags,
  readBenchSettings,
  renderReport,
  type ScaleFigures,
  type StepFigures,
  TARGETS,
} from './scale-report.ts';

const BENCH = new URL('./scale.bench.ts', import.meta.url).pathname;

const TIME_REPORT = `\tCommand being timed: "node jobs/cli.ts extract"
\tUser time (seconds): 3.41
\tSystem time (seconds): 0.52
\tPercent of CPU this job got: 61%
\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:06.43
\tMaximum resident set size (kbytes): 262144
\tExit status: 0
`;

function measurement(wallSeconds: number, overrides: Partial<Measurement> = {}): Measurement {
  return {
    wallSeconds,
    cpuSeconds: wallSeconds,
    peakRssMiB: 200,
    rows: 1_000_000,
    loadAverage: [1, 1],
    ...overrides,
  };
}

function step(
  name: string,
  product: number[],
  limit: number[],
  overrides: Partial<StepFigures> = {},
): StepFigures {
  return {
    step: name,
    product: product.map((wall) => measurement(wall)),
    limit: limit.map((wall) => measurement(wall)),
    limitMethod: limit.length > 0 ? `the ${name} limit` : null,
    ...overrides,
  };
}

describe('scale bench: reading the processes', () => {
  it('reads CPU and peak RSS from GNU time, and nothing from a process that never ran', () => {
    expect(parseTimeReport(TIME_REPORT)).toEqual({ userSeconds: 3.41, systemSeconds: 0.52, peakRssMiB: 256 });
    expect(parseTimeReport('')).toBeNull();
  });

  it("sums the rows of psql's command tags, only the tag asked for", () => {
    const stdout = 'COPY 120\nCOPY 0\nSELECT 7\nCOPY 30\n';
    expect(parseCommandTags(stdout, 'COPY')).toBe(150);
    expect(parseCommandTags(stdout, 'SELECT')).toBe(7);
    expect(parseCommandTags('', 'COPY')).toBe(0);
  });
});

describe('scale bench: settings', () => {
  it('defaults to scales 100 and 200, two rounds', () => {
    expect(readBenchSettings({})).toEqual({ scales: [100, 200], rounds: 2 });
    expect(readBenchSettings({ BENCH_SCALE_SCALES: ' 2, 0.5 ', BENCH_SCALE_ROUNDS: '3' })).toEqual({
      scales: [2, 0.5],
      rounds: 3,
    });
  });

  it('names every bad setting, with what it expects, and exits 2 before creating anything', () => {
    const run = spawnSync(process.execPath, [BENCH], {
      env: { ...process.env, BENCH_SCALE_SCALES: '100,abc', BENCH_SCALE_ROUNDS: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'BENCH_SCALE_SCALES must be scales in (0, 1000] separated by commas, got "100,abc"',
    );
    expect(run.stderr).toContain('BENCH_SCALE_ROUNDS must be a whole number of rounds in [1, 10], got "0"');
  });
});

describe('scale bench: targets', () => {
  it('takes medians over the rounds and the ratio as the limit wall over the product wall', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, 4])).toBe(2.5);
    const extract = evaluateStep(step('extract', [10, 12], [8, 8]));
    expect(extract.productSeconds).toBe(11);
    expect(extract.limitSeconds).toBe(8);
    expect(extract.ratio).toBeCloseTo(8 / 11);
    expect(extract.rowsPerSecond).toBeCloseTo(1_000_000 / 11);
    expect(extract.misses).toEqual([]);
    expect(evaluateStep(step('load', [10], [7])).misses).toEqual(['ratio 0.70x < 0.80x']);
  });

  it('holds validate to rows per CPU-second, its own and against the bare parse', () => {
    const validate = step('validate', [4], [2]);
    validate.product = [measurement(4, { cpuSeconds: 4, rows: 1_000_000 })];
    validate.limit = [measurement(2, { cpuSeconds: 1.5, rows: 1_000_000 })];
    const evaluation = evaluateStep(validate);
    expect(evaluation.rowsPerCpuSecond).toBe(250_000);
    expect(evaluation.cpuRatio).toBeCloseTo(0.375);
    expect(evaluation.misses).toEqual(['250k rows/CPU-s < 500k', 'per CPU-s 0.38x < 0.80x']);
  });

  it('holds transform to its overhead over the SQL, and every step to the RSS limit', () => {
    expect(evaluateStep(step('transform', [10.5], [10])).misses).toEqual([]);
    expect(evaluateStep(step('transform', [12], [10])).misses).toEqual(['+20% over > +10%']);
    const heavy = step('stream-ingest', [5], []);
    heavy.product = [measurement(5, { peakRssMiB: 600 })];
    const evaluation = evaluateStep(heavy);
    expect(evaluation.ratio).toBeNull();
    expect(evaluation.target).toBe(`RSS <= ${TARGETS.peakRssMiB} MiB`);
    expect(evaluation.misses).toEqual(['RSS 600 > 512 MiB']);
  });
});

describe('scale bench: report', () => {
  const result: ScaleFigures = {
    scale: 100,
    rounds: 2,
    sourceRows: {
      orders: 500_000,
      order_items: 1_189_000,
      clickstream: 2_400_000,
      'order-events': 1_360_000,
    },
    seed: { seconds: 60, peakRssMiB: 400 },
    run: measurement(75, { peakRssMiB: 480 }),
    steps: [
      step('extract', [10, 10], [8, 8]),
      step('validate', [20, 20], [10, 10]),
      step('transform', [30, 30], [25, 25], { modelBuildSeconds: [24, 24] }),
    ],
    failedBatches: 0,
  };
  const markdown = renderReport({
    at: '2026-12-06T00:00:00.000Z',
    machine: '2 cores',
    command: 'BENCH_SCALE_SCALES=100 node bench/scale.bench.ts',
    loadAverage: [1.5, 2.5],
    targets: TARGETS,
    results: [result],
  });

  it('has a row per step with its ratio, rows/s and whether it met its target', () => {
    expect(markdown).toContain('| extract | 10.0 | 8.0 | 0.80x | 1,000,000 | 100,000 | 100,000 | 200 |');
    expect(markdown).toMatch(/\| extract .*\| yes \|$/m);
    expect(markdown).toContain('| validate | 20.0 | 10.0 | 0.50x (per CPU-s 0.50x) |');
    expect(markdown).toContain('| transform | 30.0 | 25.0 | 0.83x (+20% time) |');
    expect(markdown).toMatch(/\| transform .*\*\*NO\*\*: \+20% over > \+10% \|$/m);
  });

  it('reports source to gold against the 60 s goal, with the load average and the limits used', () => {
    expect(markdown).toContain('| 100 | 500,000 | 1,189,000 | 3,760,000 | 75.0 | **NOT met** | 60.0 |');
    expect(markdown).toContain('**75.0 s** (goal <= 60 s: **NOT met**)');
    expect(markdown).toContain('at the start and the end: 1.5 and 2.5');
    expect(markdown).toContain(
      'Wall seconds per round (product/limit, 2 round(s)): extract 10.0/8.0, 10.0/8.0;',
    );
    expect(markdown).toContain('the job recorded 24.0, 24.0 s of model builds');
    expect(markdown).toContain(
      'the job checked 50,000 records per CPU-second of its process (all its threads); the bare parse of the same raw objects alone reads 100,000 per CPU-second',
    );
    expect(markdown).toContain('- transform: the transform limit.');
  });

  it('says when a limit counted other rows than the job, or the rounds moved different rows', () => {
    const odd = structuredClone(result);
    (odd.steps[0] as StepFigures).limit[0] = measurement(8, { rows: 999 });
    (odd.steps[1] as StepFigures).product[1] = measurement(20, { rows: 5 });
    const text = renderReport({
      at: '',
      machine: '',
      command: '',
      loadAverage: [0, 0],
      targets: TARGETS,
      results: [odd],
    });
    expect(text).toContain('**extract: the limit counted 999 rows, the job recorded 1,000,000**');
    expect(text).toContain('**validate: the rounds moved different rows** (1,000,000, 5)');
  });
});
