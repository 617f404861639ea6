import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';
import { runExtract } from '../extract/index.ts';
import {
  createSourceSchema,
  type GenerateResult,
  generate,
  nonEmptySourceTables,
} from '../generate/index.ts';
import { runLoad } from '../load/index.ts';
import type { BlockedModel, HeldBackTable } from '../models/build.ts';
import { downstreamOf, loadModels, upstreamOf } from '../models/models.ts';
import { type BatchState, failedBatches } from '../ops/batches.ts';
import { blockingFailures, type Finding } from '../ops/dq-findings.ts';
import { finishRunRow, markAbandonedRuns, RUN_ROW, startRunRow } from '../ops/pipeline-runs.ts';
import { runQualityWithLineage } from '../quality/index.ts';
import { runReconcile } from '../reconcile/index.ts';
import { runStreamIngest } from '../stream-ingest/index.ts';
import { runTransform } from '../transform/index.ts';
import { runValidate } from '../validate/index.ts';
import {
  abortableSleep,
  findResumePoint,
  type ResumePoint,
  type Sleep,
  type StepTiming,
  stepRunner,
} from './steps.ts';

export type { StepTiming } from './steps.ts';

export interface PipelineResult {
  ok: boolean;
  generated: GenerateResult | null;
  steps: StepTiming[];
  /** Check ids of the failing blocking checks (bronze, silver, gold), if any: then the run is not ok. */
  blockedBy: string[];
  /** The models those checks held back: not published this run, their last published tables kept. */
  blocked: BlockedModel[];
  /** Batches this run marked failed and held back; the rest went on to silver and gold (`ecomm batches`). */
  failedBatches: BatchState[];
  wallMs: number;
  /** The failed or abandoned attempt this run resumed after its last completed step, if any. */
  resumedFrom: string | null;
  /** This run and the attempts it continues (newest first): the summary reports what all of them did. */
  runIds: string[];
  /**
   * Rows of each model the run's transform published or kept, counted as it published them: the summary prints
   * them instead of counting those tables again. Empty when the transform was done by an earlier attempt.
   */
  publishedRows: Map<string, number>;
}

export interface PipelineOptions {
  /** The demo: seed the source and the stream when the source holds no rows yet. */
  generateIfEmpty?: { seed: number; scale: number; asOf: Date } | undefined;
  /**
   * `ecomm run --resume`: resume the latest earlier run, which must have failed or been abandoned. Without it a run
   * resumes only a failed or abandoned earlier attempt of its own execution (RUN_EXECUTION_ID).
   */
  resumeLastFailed?: boolean;
  /** How the step retries wait (tests pass a fake); default: a timer that a stop request interrupts. */
  sleep?: Sleep;
  /** Build the incremental models whole (`ecomm run --full-refresh`). */
  fullRefresh?: boolean;
}

/**
 * `ecomm run`: the batch DAG once, in order: extract, stream-ingest, validate, load, reconcile (then validate and
 * load again when it re-extracted late rows), bronze checks, silver and gold with their checks (a failing blocking
 * check holds back the models downstream of its table, and the run is not ok; everything else is published). Each step is the
 * same code as its standalone job, and each is idempotent, so a failed run is simply run again. A step that fails on
 * an outage is retried in the run (RUN_STEPS: retries, doubling backoff); every attempt is a pipeline_runs row (job
 * run, step <name>), and the run's own row (step pipeline) is written as running first and finished last. A run
 * that resumes a failed or abandoned attempt (same RUN_EXECUTION_ID, or --resume) skips the steps it completed. A batch that fails
 * on its own data is held back (failed in ops.batches, a finding, an alert) and the run goes on: the run is still
 * ok, and its summary names the batch.
 */
export async function runPipeline(
  context: JobContext,
  options: PipelineOptions = {},
): Promise<PipelineResult> {
  const started = performance.now();
  const startedAt = context.now();
  const steps: StepTiming[] = [];
  const timed = async <T>(step: string, work: () => Promise<T>, rowsOf: (value: T) => number): Promise<T> => {
    const begin = performance.now();
    const value = await work();
    steps.push({ step, ms: performance.now() - begin, rows: rowsOf(value), attempts: 1 });
    return value;
  };

  // Silver and gold need the PII hash key: a missing one is a configuration error (exit 2) found now, before an
  // extract and a load that the run could not finish anyway.
  await context.piiHashKey();
  // Both embedded databases initialise in about 3 s each: open them side by side.
  const [, warehouse] = await Promise.all([context.source(), context.warehouse()]);
  const resume = await startRun(context, warehouse, startedAt, options.resumeLastFailed === true);
  const step = stepRunner(context, steps, resume, options.sleep ?? abortableSleep(context));
  const runRow = { runId: context.runId, ...RUN_ROW, startedAt };
  let result: PipelineResult;
  try {
    let generated: GenerateResult | null = null;
    if (options.generateIfEmpty) {
      const seedWith = options.generateIfEmpty;
      const source = await context.source();
      await createSourceSchema(source);
      if ((await nonEmptySourceTables(source)).length === 0) {
        generated = await timed(
          'generate',
          async () => generate({ db: source, stream: context.stream(), ...seedWith }),
          (result) => Object.values(result.counts).reduce((sum, count) => sum + count, 0),
        );
      }
    }
    await step('extract', () => runExtract(context), {
      rows: (tables) => tables.reduce((sum, t) => sum + t.rows, 0),
    });
    await step('stream-ingest', () => runStreamIngest(context), {
      rows: (batches) => batches.reduce((sum, b) => sum + b.events, 0),
    });
    await step('validate', () => runValidate(context), {
      rows: (batches) => batches.reduce((sum, b) => sum + b.rowsIn, 0),
    });
    await step('load', () => runLoad(context), {
      rows: (batches) => batches.reduce((sum, b) => sum + b.rows, 0),
    });
    const reconciled = await step('reconcile', () => runReconcile(context), {
      rows: (tables) => tables.reduce((sum, t) => sum + t.keyEvents + (t.repair?.rows ?? 0), 0),
    });
    // Late rows the reconciliation re-extracted reach bronze in this run, before the checks and silver. A resumed
    // run whose attempt completed the reconciliation runs them anyway: with nothing pending they do nothing.
    if (reconciled === undefined || reconciled.some((table) => table.repair)) {
      await step('validate repairs', () => runValidate(context), {
        rows: (batches) => batches.reduce((sum, b) => sum + b.rowsIn, 0),
      });
      await step('load repairs', () => runLoad(context), {
        rows: (batches) => batches.reduce((sum, b) => sum + b.rows, 0),
      });
    }
    const models = loadModels();
    const bronzeFindings = await step(
      'quality bronze',
      () =>
        runQualityWithLineage(context, 'bronze', undefined, (table) => [
          ...downstreamOf(models, [table], upstreamOf),
        ]),
      {
        rows: (findings) => findings.length,
        blockedBy: (findings) => blockingFailures(findings).map((finding) => finding.checkId),
      },
    );
    // A failing blocking bronze check holds back only the models downstream of its table; the rest is built. (A
    // resumed run whose attempt completed the bronze checks completed them passing: a failing one is recorded failed.)
    const bronzeBlocked = heldBackTables(blockingFailures(bronzeFindings ?? []));
    const transformed = await step(
      'transform',
      () =>
        runTransform(context, ['silver', 'gold'], {
          heldBack: bronzeBlocked,
          fullRefresh: options.fullRefresh ?? false,
        }),
      {
        rows: (result) => result.built.reduce((sum, model) => sum + model.rows, 0),
        blockedBy: (result) => result.blockedBy,
      },
    );
    const blockedBy = [
      ...new Set([...bronzeBlocked.flatMap((table) => table.blockedBy), ...(transformed?.blockedBy ?? [])]),
    ].sort();
    const runIds = [context.runId, ...(resume?.chain ?? [])];
    const failed: BatchState[] = [];
    for (const runId of runIds) failed.push(...(await failedBatches(warehouse, runId)));
    result = {
      ok: blockedBy.length === 0,
      generated,
      steps,
      blockedBy,
      blocked: transformed?.blocked ?? [],
      failedBatches: failed,
      wallMs: performance.now() - started,
      resumedFrom: resume?.runId ?? null,
      runIds,
      publishedRows: new Map((transformed?.built ?? []).map((model) => [model.name, model.rows])),
    };
  } catch (error) {
    await finishRunRow(warehouse, runRow, {
      status: 'failed',
      finishedAt: context.now(),
      message: (error as Error).message ?? String(error),
    });
    throw error;
  }
  const isolated =
    result.failedBatches.length > 0
      ? `${result.failedBatches.length} failed batch(es) held back: ${result.failedBatches.map((b) => b.batch_id).join(', ')}`
      : null;
  await finishRunRow(warehouse, runRow, {
    status: result.ok ? 'succeeded' : 'failed',
    finishedAt: context.now(),
    message: result.ok
      ? isolated
      : [
          `blocked by ${result.blockedBy.join(', ')}`,
          `held back: ${result.blocked.map((model) => model.name).join(', ') || 'nothing downstream'}`,
          isolated,
        ]
          .filter(Boolean)
          .join('; '),
  });
  return result;
}

/**
 * Before any work: runs that died are marked abandoned, the attempt to resume (if any) is found, and this run's row
 * is written as running, so a run killed from here on leaves a trace.
 */
async function startRun(
  context: JobContext,
  warehouse: SqlDatabase,
  startedAt: Date,
  resumeLastFailed: boolean,
): Promise<ResumePoint | null> {
  await markAbandonedRuns(warehouse, startedAt, context.config.RUN_LEASE_SECONDS);
  const executionId = context.config.RUN_EXECUTION_ID ?? null;
  const resume = await findResumePoint(warehouse, {
    runId: context.runId,
    executionId,
    lastFailed: resumeLastFailed,
  });
  if (resume)
    context.log.info(
      { resumedFrom: resume.runId, completed: [...resume.completed.keys()] },
      'resuming after the last completed step of an earlier attempt',
    );
  await startRunRow(warehouse, {
    runId: context.runId,
    ...RUN_ROW,
    startedAt,
    executionId,
    resumedFromRunId: resume?.runId ?? null,
  });
  return resume;
}

/** The bronze tables failing blocking checks, each with its check ids. */
function heldBackTables(failures: Finding[]): HeldBackTable[] {
  const byTable = new Map<string, string[]>();
  for (const finding of failures)
    byTable.set(finding.tableName, [...(byTable.get(finding.tableName) ?? []), finding.checkId]);
  return [...byTable].map(([name, blockedBy]) => ({ name, blockedBy }));
}
