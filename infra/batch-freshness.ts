/**
 * Batch freshness by construction: the longest a source change can take to reach gold when the scheduled run
 * builds gold, worked out from the run's cron, timeout, cloud retries and backoff, so the platform spec can refuse a
 * catalog that could miss the SLA even when every run eventually succeeds. A run that fails all its attempts is
 * not covered here: that is what the batch-freshness alert (service-levels.ts) is for.
 *
 * The worst case: a change lands just after a run took its extract snapshot, so the next run carries it. That run
 * starts up to the longest gap of the cron later, plus the cloud's start allowance; its first attempts each run
 * to the timeout and fail, each followed by the retry backoff; the last attempt runs to the timeout and succeeds.
 * The steps' own in-run retries (RUN_STEPS) happen inside an attempt, so the timeout bounds them; they must fit
 * in it, or a run whose steps need their retries would always be cut off.
 */
import type { RunStepSpec } from '../jobs/catalog.ts';
import { longestGapMinutes } from './cron.ts';

/** Both clouds wait a job's retryBackoffSeconds before its first retry, this many times longer before each next one. */
export const RETRY_BACKOFF_RATE = 2;
/** RUN_STEPS' in-run backoff doubles too (jobs/catalog.ts, RunStepSpec). */
const IN_RUN_BACKOFF_RATE = 2;
/**
 * The longest a cloud may take to start a scheduled run after its cron minute. EventBridge Scheduler drops a start
 * it could not make within this (its target's maximumEventAgeInSeconds; 60 is the least it takes), so on AWS a run
 * starts within it or not at all, and the missed run is the freshness alert's case.
 */
export const SCHEDULE_START_ALLOWANCE_SECONDS = 60;
/**
 * Container Apps retries a failed job replica after a back-off of its own that no setting changes (its jobs run
 * as Kubernetes Jobs: 10 s, doubling). A catalog backoff of at least this, doubling as well, bounds Azure's waits
 * too, so the worst case below holds on both clouds.
 */
export const PLATFORM_MIN_RETRY_BACKOFF_SECONDS = 10;

/** What the worst case reads of the scheduled run (a catalog job as the spec holds it). */
export interface ScheduledRunLimits {
  name: string;
  /** 5-field UTC cron. */
  schedule: string;
  /** Per attempt: the cloud stops an attempt at this and counts it failed. */
  timeoutMinutes: number;
  /** Attempts after the first. */
  retries: number;
  retryBackoffSeconds: number;
}

/** The worst case, term by term, in minutes. */
export interface BatchFreshnessBound {
  job: string;
  /** Longest time between two scheduled runs. */
  scheduleGapMinutes: number;
  startAllowanceMinutes: number;
  attempts: number;
  attemptMinutes: number;
  /** The cloud's waits before each retry. */
  retryWaitMinutes: number;
  /** The longest the steps can wait between in-run retries in one attempt (inside attemptMinutes). */
  inRunWaitMinutes: number;
  worstCaseMinutes: number;
}

/** The cloud's wait before each retry, in seconds: backoff, backoff x rate, ... */
export function retryWaitsSeconds(
  run: Pick<ScheduledRunLimits, 'retries' | 'retryBackoffSeconds'>,
): number[] {
  return Array.from({ length: run.retries }, (_, i) => run.retryBackoffSeconds * RETRY_BACKOFF_RATE ** i);
}

/** The longest one attempt can spend waiting between in-run step retries, in seconds. */
export function inRunWaitSeconds(steps: readonly RunStepSpec[]): number {
  return steps.reduce(
    (total, step) =>
      total +
      Array.from({ length: step.retries }, (_, i) => step.backoffSeconds * IN_RUN_BACKOFF_RATE ** i).reduce(
        (a, b) => a + b,
        0,
      ),
    0,
  );
}

export function batchFreshnessBound(
  run: ScheduledRunLimits,
  steps: readonly RunStepSpec[],
): BatchFreshnessBound {
  const attempts = run.retries + 1;
  const bound = {
    job: run.name,
    scheduleGapMinutes: longestGapMinutes(run.schedule),
    startAllowanceMinutes: SCHEDULE_START_ALLOWANCE_SECONDS / 60,
    attempts,
    attemptMinutes: run.timeoutMinutes,
    retryWaitMinutes: retryWaitsSeconds(run).reduce((a, b) => a + b, 0) / 60,
    inRunWaitMinutes: inRunWaitSeconds(steps) / 60,
  };
  return {
    ...bound,
    worstCaseMinutes:
      bound.scheduleGapMinutes +
      bound.startAllowanceMinutes +
      attempts * bound.attemptMinutes +
      bound.retryWaitMinutes,
  };
}

/** Why the run cannot hold the SLA, naming each term; null when it holds by construction. */
export function batchFreshnessProblem(bound: BatchFreshnessBound, slaMinutes: number): string | null {
  if (bound.inRunWaitMinutes >= bound.attemptMinutes) {
    return (
      `"${bound.job}": its steps may wait ${formatMinutes(bound.inRunWaitMinutes)} min between in-run retries ` +
      `(RUN_STEPS), not less than its ${bound.attemptMinutes}-minute timeout: an attempt whose steps need their ` +
      'retries would always be cut off'
    );
  }
  if (bound.worstCaseMinutes <= slaMinutes) return null;
  return (
    `"${bound.job}" can take ${formatMinutes(bound.worstCaseMinutes)} min from a source change to gold, over the ` +
    `${slaMinutes}-minute batch freshness SLA: up to ${formatMinutes(bound.scheduleGapMinutes)} min between ` +
    `runs + ${formatMinutes(bound.startAllowanceMinutes)} min to start + ${bound.attempts} attempt(s) of ` +
    `${bound.attemptMinutes} min (its timeout) + ${formatMinutes(bound.retryWaitMinutes)} min of retry backoff; ` +
    'run it more often, or shorten its timeout, retries or backoff'
  );
}

function formatMinutes(minutes: number): string {
  return Number.isInteger(minutes) ? String(minutes) : minutes.toFixed(1);
}
