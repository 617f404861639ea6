/**
 * `npm run bench`: the batch pipeline on the embedded adapters at growing scales, each in a fresh process, plus
 * the `npm start` demo as a user runs it. Writes bench/results/pipeline.json and bench/results/pipeline.md.
 * Scales: BENCH_SCALES (default 1,5,10,20); it stops growing once a run takes over BENCH_BUDGET_SECONDS (300).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

interface ScaleResult {
  scale: number;
  ok: boolean;
  wallSeconds: number;
  peakRssMiB: number;
  steps: { step: string; seconds: number; rows: number; rowsPerSecond: number | null }[];
}

const root = new URL('..', import.meta.url).pathname;
const scales = (process.env.BENCH_SCALES ?? '1,5,10,20').split(',').map(Number);
const budgetSeconds = Number(process.env.BENCH_BUDGET_SECONDS ?? '300');

function timeNpmStart(): number {
  const folder = mkdtempSync(join(tmpdir(), 'ecomm-start-'));
  const started = performance.now();
  const run = spawnSync(process.execPath, [join(root, 'jobs/cli.ts'), 'run', '--demo'], {
    cwd: folder,
    encoding: 'utf8',
    env: { ...process.env, ECOMM_DEMO: '1' }, // as `npm start` sets it
  });
  const seconds = (performance.now() - started) / 1000;
  rmSync(folder, { recursive: true, force: true });
  if (run.status !== 0) throw new Error(`npm start demo failed: ${run.stderr}`);
  return seconds;
}

function runScale(scale: number): ScaleResult {
  const run = spawnSync(process.execPath, [join(root, 'bench/run-scale.ts'), '--scale', String(scale)], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`scale ${scale} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as ScaleResult;
}

const startSeconds = timeNpmStart();
process.stdout.write(`npm start (scale 1, fresh data dir): ${startSeconds.toFixed(1)} s\n`);
const results: ScaleResult[] = [];
for (const scale of scales) {
  const result = runScale(scale);
  results.push(result);
  process.stdout.write(
    `scale ${scale}: ${result.wallSeconds.toFixed(1)} s, peak ${result.peakRssMiB.toFixed(0)} MiB\n`,
  );
  if (result.wallSeconds > budgetSeconds) break;
}

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const largest = results.filter((result) => result.wallSeconds <= budgetSeconds).at(-1);
const lines = [
  '# Batch pipeline benchmark (embedded adapters: local lake, in-process stream, PGlite)',
  '',
  `Run ${new Date().toISOString()} on ${machine}. Command: \`npm run bench\`.`,
  '',
  `- \`npm start\` on a fresh data folder (generate at scale 1 + full pipeline, including process start and PGlite init): **${startSeconds.toFixed(1)} s** (target < 30 s)`,
  `- Largest scale finishing within ${budgetSeconds} s: **scale ${largest?.scale ?? '-'}** in ${largest?.wallSeconds.toFixed(1) ?? '-'} s`,
  '',
  '| scale | wall s | peak RSS MiB | ' +
    (results[0]?.steps.map((step) => `${step.step} rows/s`).join(' | ') ?? '') +
    ' |',
  `|---|---|---|${results[0]?.steps.map(() => '---').join('|') ?? ''}|`,
  ...results.map(
    (result) =>
      `| ${result.scale} | ${result.wallSeconds.toFixed(1)} | ${result.peakRssMiB.toFixed(0)} | ` +
      result.steps
        .map(
          (step) =>
            `${(step.rowsPerSecond ?? 0).toLocaleString('en-US')} (${step.rows.toLocaleString('en-US')} in ${step.seconds.toFixed(1)} s)`,
        )
        .join(' | ') +
      ' |',
  ),
  '',
  'Rows per step: generate = rows + events written to the source and stream; extract = source rows to raw CSV;',
  'stream-ingest = events to raw NDJSON; validate = raw records checked; load = rows COPYed into bronze;',
  'quality bronze = checks run; transform = rows written by all silver and gold models.',
  'PGlite (PostgreSQL compiled to WASM, single-threaded) dominates load and transform; big scales belong on a real',
  'PostgreSQL or Redshift warehouse.',
  '',
];
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(
  join(root, 'bench/results/pipeline.json'),
  `${JSON.stringify({ machine, startSeconds, results }, null, 2)}\n`,
);
writeFileSync(join(root, 'bench/results/pipeline.md'), lines.join('\n'));
process.stdout.write(`${lines.join('\n')}\n`);
