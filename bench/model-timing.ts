/**
 * Per-model build times on the services' PostgreSQL: seeds a fresh warehouse at `--scale` and runs the pipeline
 * once (every model's first build is full), moves that bronze history a month back (beyond the models' lookback)
 * and builds it whole, then changes 1% of the orders in the source and runs the pipeline again (its transform is
 * incremental), times a `--full-refresh` transform of that same state, and then, after another 1% of orders
 * changed and was loaded, an incremental transform model by model. One JSON line per measurement.
 * Run: ECOMM_SERVICES_DIR=/work/main/.services node bench/model-timing.ts --scale 20
 */
import type { JobContext } from '../jobs/context.ts';
import { runExtract } from '../jobs/extract/index.ts';
import { runLoad } from '../jobs/load/index.ts';
import type { ModelBuildResult } from '../jobs/models/build.ts';
import { runReconcile } from '../jobs/reconcile/index.ts';
import { runPipeline } from '../jobs/run/pipeline.ts';
import { runStreamIngest } from '../jobs/stream-ingest/index.ts';
import { runTransform } from '../jobs/transform/index.ts';
import { runValidate } from '../jobs/validate/index.ts';
import { openServerPlatform, seedPlatform } from '../test/harness.ts';

const scale = Number(process.argv[process.argv.indexOf('--scale') + 1] ?? '1');
process.env.PII_HASH_KEY ??= 'bench-pii-key';
const platform = await openServerPlatform(`mtime${String(scale).replace('.', '_')}`);
const line = (fields: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ scale, ...fields })}\n`);
/** A model's cost: its build, plus reading its inputs' state for an incremental model. */
const costMs = (model: ModelBuildResult) => model.ms + (model.incremental?.planMs ?? 0);
const print = (label: string, built: ModelBuildResult[]) => {
  const totalMs = Math.round(built.reduce((sum, model) => sum + costMs(model), 0));
  line({
    label,
    totalMs,
    models: Object.fromEntries(built.map((model) => [model.name, Math.round(costMs(model))])),
  });
};
const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
  const started = performance.now();
  const value = await work();
  return [value, Math.round(performance.now() - started)];
};
/** 1% of the orders change status in the source: the next extract (or the reconciliation) picks them up. */
const changeOnePercent = (remainder: number) =>
  platform.source.exec(
    `update orders set status = 'cancelled', updated_at = updated_at + interval '1 hour' where order_id % 100 = ${remainder}`,
  );
/** The batch steps before transform, as `ecomm run` takes them. */
const ingest = async (context: JobContext) => {
  await runExtract(context);
  await runStreamIngest(context);
  await runValidate(context);
  await runLoad(context);
  await runReconcile(context);
  await runValidate(context);
  await runLoad(context);
};

try {
  const generated = await seedPlatform(platform, 42, scale);
  line({ counts: generated.counts });
  const first = await runPipeline(platform.context());
  line({ label: 'first run', steps: first.steps.map((s) => [s.step, Math.round(s.ms)]) });
  // As if that history had been loaded a month ago: settled, beyond the models' lookback.
  const bronze = await platform.warehouse.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'bronze'",
  );
  for (const { table_name } of bronze)
    await platform.warehouse.exec(
      `update bronze.${table_name} set _ingested_at = _ingested_at - interval '30 days'`,
    );
  print(
    'full (history backdated)',
    (await runTransform(platform.context(), ['silver', 'gold'], { fullRefresh: true })).built,
  );

  await changeOnePercent(7);
  const second = await runPipeline(platform.context());
  line({
    label: 'run after 1% changed (incremental)',
    steps: second.steps.map((s) => [s.step, Math.round(s.ms)]),
  });
  const [full, fullMs] = await timed(() =>
    runTransform(platform.context(), ['silver', 'gold'], { fullRefresh: true }),
  );
  line({ label: 'transform --full-refresh of that state', ms: fullMs });
  print('full refresh', full.built);

  await changeOnePercent(13);
  await ingest(platform.context());
  const [incremental, incrementalMs] = await timed(() =>
    runTransform(platform.context(), ['silver', 'gold']),
  );
  line({ label: 'transform after another 1% changed (incremental)', ms: incrementalMs });
  print('incremental', incremental.built);
  line({
    label: 'incremental keys',
    keys: Object.fromEntries(
      incremental.built
        .filter((m) => m.incremental)
        .map((m) => [m.name, m.incremental?.keys ?? m.incremental?.mode]),
    ),
  });
} finally {
  await platform.dispose();
}
