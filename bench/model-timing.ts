/**
 * Per-model build times on the services' PostgreSQL: seeds a fresh warehouse at `--scale`, runs the pipeline once
 * (every model's first build is full), changes 1% of the orders in the source, then times `ecomm run`'s transform
 * twice from the same state: incremental (the default) and `--full-refresh`. Prints one JSON line per build.
 * Run: ECOMM_SERVICES_DIR=/work/main/.services PII_HASH_KEY=bench node bench/model-timing.ts --scale 20
 */
import { runPipeline } from '../jobs/run/pipeline.ts';
import { runTransform } from '../jobs/transform/index.ts';
import { openServerPlatform, seedPlatform } from '../test/harness.ts';

const scale = Number(process.argv[process.argv.indexOf('--scale') + 1] ?? '1');
process.env.PII_HASH_KEY ??= 'bench-pii-key';
const platform = await openServerPlatform(`mtime${String(scale).replace('.', '_')}`);
const print = (label: string, built: { name: string; ms: number; rows: number }[]) => {
  const total = built.reduce((sum, model) => sum + model.ms, 0);
  const models = Object.fromEntries(built.map((model) => [model.name, Math.round(model.ms)]));
  process.stdout.write(`${JSON.stringify({ scale, label, totalMs: Math.round(total), models })}\n`);
};
try {
  const begin = performance.now();
  const generated = await seedPlatform(platform, 42, scale);
  process.stdout.write(
    `${JSON.stringify({ scale, counts: generated.counts, seedMs: Math.round(performance.now() - begin) })}\n`,
  );
  const first = await runPipeline(platform.context());
  process.stdout.write(
    `${JSON.stringify({ scale, label: 'first run', steps: first.steps.map((s) => [s.step, Math.round(s.ms)]) })}\n`,
  );
  print(
    'full (first build)',
    (await runTransform(platform.context(), ['silver', 'gold'], { fullRefresh: true })).built,
  );
  // 1% of the orders change status in the source: the next extract picks them up (updated_at watermark).
  await platform.source.exec(
    "update orders set status = 'cancelled', updated_at = updated_at + interval '1 hour' where order_id % 100 = 7",
  );
  const second = await runPipeline(platform.context());
  process.stdout.write(
    `${JSON.stringify({ scale, label: 'run after 1% changed', steps: second.steps.map((s) => [s.step, Math.round(s.ms)]) })}\n`,
  );
  print('incremental, nothing new', (await runTransform(platform.context(), ['silver', 'gold'])).built);
  print(
    'full refresh',
    (await runTransform(platform.context(), ['silver', 'gold'], { fullRefresh: true })).built,
  );
} finally {
  await platform.dispose();
}
