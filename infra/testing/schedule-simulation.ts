/**
 * A simulated clock for batch freshness: scheduled runs fired by their cron, each played attempt by attempt as the
 * clouds and `ecomm run` play them (the cloud stops an attempt at its timeout and retries after its backoff; within
 * an attempt each step is retried on failure after its own doubling backoff; a retried attempt resumes after the
 * last completed step), and source changes followed until they are in gold. Nothing here uses the bound of
 * batch-freshness.ts: the tests compare what the clock measures with it.
 */
import type { RunStepSpec } from '../../jobs/catalog.ts';
import { retryWaitsSeconds, type ScheduledRunLimits } from '../batch-freshness.ts';
import { cronFireTimes } from '../cron.ts';

const SECOND = 1000;

/** One try of one step: it takes `seconds` (Infinity: it hangs), then fails or succeeds. */
export interface StepTry {
  seconds: number;
  fails: boolean;
}

/** How a run goes: the start delay after its cron minute, and every try of every step in every attempt. */
export interface RunScript {
  startDelaySeconds: number;
  tryOf(attempt: number, step: number, tryIndex: number): StepTry;
}

/** What one scheduled run did, in ms since the epoch. */
export interface RunOutcome {
  firedAt: number;
  /** When the extract that completed read the source (its snapshot); null when no extract completed. */
  snapshotAt: number | null;
  /** When gold was built; null when every attempt failed. */
  goldAt: number | null;
  attempts: number;
}

/** Plays one run of the DAG (`steps` in order, the first being extract) on the simulated clock. */
export function simulateRun(
  firedAt: number,
  limits: ScheduledRunLimits,
  steps: readonly RunStepSpec[],
  script: RunScript,
): RunOutcome {
  const waits = retryWaitsSeconds(limits);
  let now = firedAt + script.startDelaySeconds * SECOND;
  let completed = 0;
  let snapshotAt: number | null = null;
  for (let attempt = 0; attempt <= limits.retries; attempt++) {
    const deadline = now + limits.timeoutMinutes * 60 * SECOND;
    const played = playAttempt(now, deadline, completed, attempt, steps, script);
    completed = played.completed;
    snapshotAt = played.snapshotAt ?? snapshotAt;
    if (played.succeeded) return { firedAt, snapshotAt, goldAt: played.endedAt, attempts: attempt + 1 };
    now = played.endedAt + (waits[attempt] ?? 0) * SECOND;
  }
  return { firedAt, snapshotAt, goldAt: null, attempts: limits.retries + 1 };
}

interface PlayedAttempt {
  succeeded: boolean;
  endedAt: number;
  completed: number;
  snapshotAt: number | null;
}

/** One attempt from step `from` on: ends when every step is done, a step runs out of retries, or the timeout hits. */
function playAttempt(
  startedAt: number,
  deadline: number,
  from: number,
  attempt: number,
  steps: readonly RunStepSpec[],
  script: RunScript,
): PlayedAttempt {
  let now = startedAt;
  let snapshotAt: number | null = null;
  const stopped = (completed: number): PlayedAttempt => ({
    succeeded: false,
    endedAt: deadline,
    completed,
    snapshotAt,
  });
  for (let index = from; index < steps.length; index++) {
    const step = steps[index] as RunStepSpec;
    for (let tryIndex = 0; ; tryIndex++) {
      const tried = script.tryOf(attempt, index, tryIndex);
      const began = now;
      now += tried.seconds * SECOND;
      if (now > deadline) return stopped(index);
      if (!tried.fails) {
        // The extract reads the source as of the start of its successful try.
        if (index === 0) snapshotAt = began;
        break;
      }
      if (tryIndex === step.retries) return { succeeded: false, endedAt: now, completed: index, snapshotAt };
      now += step.backoffSeconds * 2 ** tryIndex * SECOND;
      if (now > deadline) return stopped(index);
    }
  }
  return { succeeded: true, endedAt: now, completed: steps.length, snapshotAt };
}

/** A scheduled stage of a pipeline: its cron and how each of its runs goes. */
export interface Stage {
  schedule: string;
  run(firedAt: number, index: number): { snapshotAt: number | null; doneAt: number | null };
}

/** Every run of each stage fired in [from, to), played in order. */
export function playStages(stages: readonly Stage[], from: Date, to: Date) {
  return stages.map((stage) =>
    cronFireTimes(stage.schedule, from, to).map((fired, index) => ({
      firedAt: fired.getTime(),
      ...stage.run(fired.getTime(), index),
    })),
  );
}

/**
 * When a source change made at `changedAt` is in gold: the first run of the first stage whose snapshot is at or
 * after the change carries it, the first later run of the next stage whose snapshot is at or after that run is
 * done takes it on, and so on; the last stage's run puts it in gold. A run that fails passes it to the next run.
 * Null when the played runs end before it gets there.
 */
export function goldTimeOf(
  changedAt: number,
  played: readonly { snapshotAt: number | null; doneAt: number | null }[][],
): number | null {
  let ready = changedAt;
  for (const runs of played) {
    const carrier = runs.findIndex((run) => run.snapshotAt !== null && run.snapshotAt >= ready);
    if (carrier < 0) return null;
    const done = runs.slice(carrier).find((run) => run.doneAt !== null)?.doneAt;
    if (done === undefined || done === null) return null;
    ready = done;
  }
  return ready;
}

/** The longest change-to-gold latency, in minutes, over a source change at every second of [from, to). */
export function worstLatencyMinutes(
  played: readonly { snapshotAt: number | null; doneAt: number | null }[][],
  from: Date,
  to: Date,
): { minutes: number; changedAt: Date } {
  let worst = { minutes: 0, changedAt: from };
  for (let at = from.getTime(); at < to.getTime(); at += SECOND) {
    const gold = goldTimeOf(at, played);
    if (gold === null) throw new Error(`a change at ${new Date(at).toISOString()} never reached gold`);
    const minutes = (gold - at) / 60_000;
    if (minutes > worst.minutes) worst = { minutes, changedAt: new Date(at) };
  }
  return worst;
}
