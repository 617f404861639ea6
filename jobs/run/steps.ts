/**
 * `ecomm run`'s step runner: each step of RUN_STEPS (jobs/catalog.ts) retried in the run when it fails on an outage,
 * each attempt recorded in ops.pipeline_runs (job run, step <name>), and skipped when the attempt this run resumes
 * already completed it. A step that fails on bad data (classifyBatchError: not an outage) is not retried: it would
 * fail the same way.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { RUN_STEPS, type RunStepSpec } from '../catalog.ts';
import type { JobContext } from '../context.ts';
import { collectBetweenSteps } from '../memory-limits.ts';
import { classifyBatchError } from '../ops/batch-errors.ts';
import { RUN_ROW, type RunRecord, recordRun } from '../ops/pipeline-runs.ts';

export interface StepTiming {
  step: string;
  ms: number;
  rows: number;
  /** Tries it took (1 when it passed at once; 0 when skipped). */
  attempts: number;
  /** The earlier attempt that completed it, when this run resumed and skipped it. */
  completedBy?: string;
}

/** Where a run picks up: the failed or abandoned attempt it resumes, and the steps that attempt (or its own) completed. */
export interface ResumePoint {
  runId: string;
  status: string;
  /** Step name -> run id of the attempt that completed it. */
  completed: Map<string, string>;
  /** The resumed attempt and the attempts it resumed in turn, newest first. */
  chain: string[];
}

/** Step outcome: a passing step is complete; one that a blocking check stopped is failed (a resume runs it again). */
export interface StepReport<T> {
  rows: (value: T) => number;
  blockedBy?: (value: T) => string[];
}

export type Sleep = (ms: number) => Promise<void>;

export function abortableSleep(context: JobContext): Sleep {
  return (ms) =>
    sleepFor(ms, undefined, { signal: context.signal }).catch((error: unknown) => {
      context.throwIfStopping();
      throw error;
    });
}

const NO_RETRY: Omit<RunStepSpec, 'step'> = { retries: 0, backoffSeconds: 0 };

/** The catalog's retry policy of a step; a step of its own (the repairs) follows the step it belongs to. */
function retryPolicy(step: string): Omit<RunStepSpec, 'step'> {
  return RUN_STEPS.find((spec) => spec.step === step || step.startsWith(`${spec.step} `)) ?? NO_RETRY;
}

/**
 * A function that runs one named step: skipped (undefined) when `resume` completed it, else tried up to 1 + its
 * retries times while it fails on an outage, with backoff doubling from the catalog's backoffSeconds.
 */
export function stepRunner(
  context: JobContext,
  timings: StepTiming[],
  resume: ResumePoint | null,
  sleep: Sleep,
) {
  const record = (step: string, startedAt: Date, fields: Partial<RunRecord>) =>
    context.warehouse().then((db) =>
      recordRun(db, {
        runId: context.runId,
        job: RUN_ROW.job,
        step,
        status: 'succeeded',
        startedAt,
        finishedAt: context.now(),
        ...fields,
      }),
    );
  return async function step<T>(
    name: string,
    work: () => Promise<T>,
    report: StepReport<T>,
  ): Promise<T | undefined> {
    const completedBy = resume?.completed.get(name);
    if (completedBy) {
      timings.push({ step: name, ms: 0, rows: 0, attempts: 0, completedBy });
      await record(name, context.now(), { status: 'skipped', message: `completed by run ${completedBy}` });
      return undefined;
    }
    const policy = retryPolicy(name);
    const tries = 1 + policy.retries;
    const begin = performance.now();
    for (let attempt = 1; ; attempt += 1) {
      context.throwIfStopping();
      const startedAt = context.now();
      let value: T;
      try {
        value = await work();
      } catch (error) {
        const kind = classifyBatchError(error);
        const message = (error as Error).message ?? String(error);
        const retrying = kind === 'outage' && attempt < tries;
        const waitMs = policy.backoffSeconds * 1000 * 2 ** (attempt - 1);
        await record(name, startedAt, {
          status: 'failed',
          message: `attempt ${attempt} of ${tries} (${kind})${retrying ? `, retrying in ${waitMs / 1000} s` : ''}: ${message}`,
        });
        if (!retrying) throw error;
        context.log.warn(
          { step: name, attempt, waitMs, err: error },
          'run step failed on an outage: retrying',
        );
        await sleep(waitMs);
        continue;
      }
      collectBetweenSteps();
      const rows = report.rows(value);
      const blockedBy = report.blockedBy?.(value) ?? [];
      timings.push({ step: name, ms: performance.now() - begin, rows, attempts: attempt });
      await record(name, startedAt, {
        status: blockedBy.length > 0 ? 'failed' : 'succeeded',
        rowsOut: rows,
        message:
          blockedBy.length > 0
            ? `blocked by ${blockedBy.join(', ')}`
            : attempt > 1
              ? `succeeded on attempt ${attempt} of ${tries}`
              : null,
      });
      return value;
    }
  };
}

/**
 * The attempt a run resumes: with an execution id, the latest earlier run of that execution, if it failed or was
 * abandoned; with `lastFailed` (`ecomm run --resume`), the latest earlier run of any execution, which must have
 * failed or been abandoned. Null when there is nothing to resume.
 */
export async function findResumePoint(
  db: SqlDatabase,
  request: { runId: string; executionId: string | null; lastFailed: boolean },
): Promise<ResumePoint | null> {
  if (!request.executionId && !request.lastFailed) return null;
  const [previous] = await db.query<{ run_id: string; status: string; started_at: unknown }>(
    `select run_id, status, started_at from ops.pipeline_runs
     where job = $1 and step = $2 and run_id <> $3 ${request.lastFailed ? '' : 'and execution_id = $4'}
     order by started_at desc, run_id desc limit 1`,
    [RUN_ROW.job, RUN_ROW.step, request.runId, ...(request.lastFailed ? [] : [request.executionId])],
  );
  if (!previous || !['failed', 'abandoned'].includes(previous.status)) {
    if (!request.lastFailed) return null;
    throw new NothingToResumeError(
      previous
        ? `nothing to resume: the last run ${previous.run_id} (started ${new Date(previous.started_at as string).toISOString()}) is ${previous.status}, not failed or abandoned`
        : 'nothing to resume: no earlier `ecomm run` is recorded in ops.pipeline_runs',
    );
  }
  const chain = await resumeChain(db, previous.run_id);
  const done = await db.query<{ step: string; message: string | null }>(
    `select step, message from ops.pipeline_runs
     where run_id = $1 and job = $2 and step <> $3 and status in ('succeeded', 'skipped')`,
    [previous.run_id, RUN_ROW.job, RUN_ROW.step],
  );
  const completed = new Map<string, string>();
  for (const row of done) {
    // A step the resumed attempt skipped was completed by the attempt it resumed: keep naming that one.
    const earlier = /^completed by run (\S+)$/.exec(row.message ?? '')?.[1];
    completed.set(row.step, earlier ?? previous.run_id);
  }
  return { runId: previous.run_id, status: previous.status, completed, chain };
}

export class NothingToResumeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NothingToResumeError';
  }
}

/** The attempt and the attempts it resumed in turn (bounded: a retry policy allows a handful). */
async function resumeChain(db: SqlDatabase, runId: string): Promise<string[]> {
  const chain = [runId];
  for (let depth = 0; depth < 20; depth += 1) {
    const [row] = await db.query<{ resumed_from_run_id: string | null }>(
      'select resumed_from_run_id from ops.pipeline_runs where run_id = $1 and job = $2 and step = $3',
      [chain[chain.length - 1] as string, RUN_ROW.job, RUN_ROW.step],
    );
    const earlier = row?.resumed_from_run_id;
    if (!earlier || chain.includes(earlier)) break;
    chain.push(earlier);
  }
  return chain;
}
