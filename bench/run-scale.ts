/**
 * One benchmark run in its own process (so peak RSS belongs to this scale alone): the embedded pipeline on fresh
 * folders at `--scale`, printing one JSON line with per-step timings, rows/s, wall time and peak memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext } from '../jobs/context.ts';
import { runPipeline } from '../jobs/run/index.ts';

const scale = Number(process.argv[process.argv.indexOf('--scale') + 1] ?? '1');
const folder = mkdtempSync(join(tmpdir(), `ecomm-bench-${scale}-`));
const config = loadConfig({
  LAKE_URL: `file://${folder}/lake`,
  STREAM_URL: 'memory://',
  WAREHOUSE_URL: `pglite://${folder}/warehouse`,
  SOURCE_URL: `pglite://${folder}/source`,
  LOG_LEVEL: 'silent',
  ECOMM_DEMO: '1',
});
const context = createJobContext(config);
const started = performance.now();
try {
  const result = await runPipeline(context, {
    generateIfEmpty: { seed: 42, scale, asOf: new Date('2026-10-01T00:00:00Z') },
  });
  const wallMs = performance.now() - started;
  process.stdout.write(
    `${JSON.stringify({
      scale,
      ok: result.ok,
      wallSeconds: wallMs / 1000,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      steps: result.steps.map((step) => ({
        step: step.step,
        seconds: step.ms / 1000,
        rows: step.rows,
        rowsPerSecond: step.ms > 0 ? Math.round(step.rows / (step.ms / 1000)) : null,
      })),
    })}\n`,
  );
} finally {
  await context.close();
  rmSync(folder, { recursive: true, force: true });
}
