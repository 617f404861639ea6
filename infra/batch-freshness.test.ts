/**
 * Batch freshness by construction, on a simulated clock: a day of the catalog's scheduled runs, each played
 * attempt by attempt up to its worst (hangs to the timeout, failing steps retried in-run, cloud retries after their
 * backoff, resumed attempts), and a source change at every second of the day followed into gold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  JOB_CATALOG,
  type JobSpec,
  RUN_STEPS,
  type RunStepSpec,
  retryBackoffSecondsOf,
} from '../jobs/catalog.ts';
import {
  batchFreshnessBound,
  inRunWaitSeconds,
  SCHEDULE_START_ALLOWANCE_SECONDS,
  type ScheduledRunLimits,
} from './batch-freshness.ts';
import { parseStackConfig } from './config.ts';
import { buildPlatformSpec, GOLD_BUILD_JOB, SLA } from './spec.ts';
import { AWS_CONFIG, AWS_STACK } from './testing/fixtures.ts';
import {
  playStages,
  type RunScript,
  type Stage,
  type StepTry,
  simulateRun,
  worstLatencyMinutes,
} from './testing/schedule-simulation.ts';

const config = parseStackConfig(AWS_CONFIG, AWS_STACK);
const DAY = { from: new Date(Date.UTC(2026, 2, 2)), to: new Date(Date.UTC(2026, 2, 3)) };
/** Runs fired from before the day (a change early in it may ride one) to well after it (the last changes' runs). */
const FIRED = {
  from: new Date(DAY.from.getTime() - 2 * 3_600_000),
  to: new Date(DAY.to.getTime() + 3 * 3_600_000),
};

function limitsOf(job: JobSpec): ScheduledRunLimits {
  if (job.schedule === null) throw new Error(`${job.name} is not scheduled`);
  return { ...job, schedule: job.schedule, retryBackoffSeconds: retryBackoffSecondsOf(job) };
}
const runJob = JOB_CATALOG.find((job) => job.name === GOLD_BUILD_JOB) as JobSpec;
const RUN = limitsOf(runJob);

const ok = (seconds: number): StepTry => ({ seconds, fails: false });
const failed = (seconds: number): StepTry => ({ seconds, fails: true });

/**
 * The slowest a run can be and still succeed: every attempt but the last gets every step done at once but the
 * last, which hangs until the timeout stops it; the last attempt resumes at that step, which fails as often as it
 * may and then works until a second before the timeout.
 */
function slowestScript(
  limits: ScheduledRunLimits,
  steps: readonly RunStepSpec[],
  startDelaySeconds: number,
): RunScript {
  const last = steps.length - 1;
  const lastStep = steps[last] as RunStepSpec;
  const inRunWaits = inRunWaitSeconds([lastStep]);
  return {
    startDelaySeconds,
    tryOf: (attempt, step, tryIndex) => {
      if (step < last) return ok(0);
      if (attempt < limits.retries) return ok(Number.POSITIVE_INFINITY);
      if (tryIndex < lastStep.retries) return failed(0);
      return ok(limits.timeoutMinutes * 60 - inRunWaits - 1);
    },
  };
}

/** A deterministic random number in [0, 1) for one try of one run. */
function chance(seed: number, ...path: number[]): number {
  let h = seed >>> 0;
  for (const part of path) h = Math.imul(h ^ (part + 0x9e3779b9), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

/**
 * A run that succeeds in the end, otherwise anything: earlier attempts hang, fail or crawl at random; in the
 * last attempt a step may fail up to its retries before it works, within a share of the timeout.
 */
function randomScript(
  limits: ScheduledRunLimits,
  steps: readonly RunStepSpec[],
  startDelaySeconds: number,
  seed: number,
): RunScript {
  const timeoutSeconds = limits.timeoutMinutes * 60;
  const share = (timeoutSeconds - inRunWaitSeconds(steps)) / steps.length;
  return {
    startDelaySeconds,
    tryOf: (attempt, step, tryIndex) => {
      const [a, b] = [chance(seed, attempt, step, tryIndex, 1), chance(seed, attempt, step, tryIndex, 2)];
      if (attempt < limits.retries) {
        if (a < 0.1) return ok(Number.POSITIVE_INFINITY);
        return b < 0.5 ? failed(a * timeoutSeconds) : ok(a * timeoutSeconds * 0.6);
      }
      const retries = (steps[step] as RunStepSpec).retries;
      if (tryIndex < retries && b < 0.4) return failed((a * share) / (2 * (retries + 1)));
      return ok((a * share) / 2);
    },
  };
}

/** The scheduled run as the one stage of the pipeline, each of its runs played by `scriptOf`. */
function runStage(limits: ScheduledRunLimits, scriptOf: (index: number) => RunScript): Stage {
  return {
    schedule: limits.schedule,
    run: (firedAt, index) => {
      const outcome = simulateRun(firedAt, limits, RUN_STEPS, scriptOf(index));
      return { snapshotAt: outcome.snapshotAt, doneAt: outcome.goldAt };
    },
  };
}

/** Every other run starts at once, the others as late as the cloud may start them: the worst pairing. */
const alternatingDelay = (index: number) => (index % 2 === 0 ? 0 : SCHEDULE_START_ALLOWANCE_SECONDS);

describe('batch freshness by construction', () => {
  const bound = batchFreshnessBound(RUN, RUN_STEPS);

  it(`schedules one hourly run and keeps its worst case inside the ${SLA.batchFreshnessMinutes}-minute SLA`, () => {
    expect(JOB_CATALOG.filter((job) => job.kind === 'scheduled').map((job) => job.name)).toEqual([
      'run',
      'watchdog',
    ]);
    expect(bound).toMatchObject({ scheduleGapMinutes: 60, attempts: RUN.retries + 1 });
    expect(bound.worstCaseMinutes).toBeLessThanOrEqual(SLA.batchFreshnessMinutes);
    expect(buildPlatformSpec(config).batchFreshness).toEqual(bound);
  });

  it('brings a change made at any second of a day into gold within the SLA, every run as slow as it may be', () => {
    const played = playStages(
      [runStage(RUN, (index) => slowestScript(RUN, RUN_STEPS, alternatingDelay(index)))],
      FIRED.from,
      FIRED.to,
    );
    const worst = worstLatencyMinutes(played, DAY.from, DAY.to);
    expect(worst.minutes).toBeLessThanOrEqual(SLA.batchFreshnessMinutes);
    // The bound is what the clock measures, not a loose guess: the worst change lands a second after a snapshot.
    expect(worst.minutes).toBeLessThanOrEqual(bound.worstCaseMinutes);
    expect(worst.minutes).toBeGreaterThan(bound.worstCaseMinutes - 0.1);
    expect(worst.changedAt.getUTCMinutes()).toBe(5);
  });

  it('stays within the bound whatever the attempts before the last one do', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            delay: fc.integer({ min: 0, max: SCHEDULE_START_ALLOWANCE_SECONDS }),
            seed: fc.integer(),
          }),
          {
            minLength: 30,
            maxLength: 30,
          },
        ),
        (runs) => {
          const stage = runStage(RUN, (index) => {
            const { delay, seed } = runs[index] as { delay: number; seed: number };
            return randomScript(RUN, RUN_STEPS, delay, seed);
          });
          const worst = worstLatencyMinutes(playStages([stage], FIRED.from, FIRED.to), DAY.from, DAY.to);
          expect(worst.minutes).toBeLessThanOrEqual(bound.worstCaseMinutes);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('leaves a change past the SLA only when a run fails every attempt, which the freshness alert watches', () => {
    const failing = 10;
    const stage = runStage(RUN, (index) =>
      index === failing ? { startDelaySeconds: 0, tryOf: () => failed(1) } : slowestScript(RUN, RUN_STEPS, 0),
    );
    const played = playStages([stage], FIRED.from, FIRED.to);
    expect(played[0]?.[failing]).toMatchObject({ snapshotAt: null, doneAt: null });
    expect(worstLatencyMinutes(played, DAY.from, DAY.to).minutes).toBeGreaterThan(SLA.batchFreshnessMinutes);
    expect(buildPlatformSpec(config).alerts.find((alert) => alert.name === 'batch-freshness')).toMatchObject({
      signal: 'job-not-succeeded',
      target: 'run',
      windowMinutes: SLA.batchFreshnessMinutes,
    });
  });

  it('shows the old per-step crons miss the SLA even when every step takes a minute, and refuses them', () => {
    const oldLayout = { extract: 5, validate: 15, load: 25, reconcile: 30, transform: 35 };
    const stages: Stage[] = Object.values(oldLayout).map((minute) => ({
      schedule: `${minute} * * * *`,
      run: (firedAt) => ({ snapshotAt: firedAt, doneAt: firedAt + 60_000 }),
    }));
    const worst = worstLatencyMinutes(playStages(stages, FIRED.from, FIRED.to), DAY.from, DAY.to);
    // A row changed just after :05 waits for the next hour's extract and reaches gold after its :35 transform.
    expect(worst.minutes).toBeGreaterThan(90);
    expect(worst.changedAt.getUTCMinutes()).toBe(5);
    const catalog = JOB_CATALOG.map((job): JobSpec => {
      if (job.name === 'run') return { ...job, kind: 'manual', schedule: null };
      const minute = oldLayout[job.name as keyof typeof oldLayout];
      return minute === undefined ? job : { ...job, kind: 'scheduled', schedule: `${minute} * * * *` };
    });
    expect(() => buildPlatformSpec(config, catalog)).toThrow(
      /batch freshness: the catalog must schedule "run", the job that builds gold, to hold the 75-minute SLA; it is manual/,
    );
  });

  it('measures, and refuses, a run whose timeout is too long for the SLA', () => {
    const long = { ...RUN, timeoutMinutes: 20 };
    const played = playStages(
      [runStage(long, (index) => slowestScript(long, RUN_STEPS, alternatingDelay(index)))],
      FIRED.from,
      FIRED.to,
    );
    expect(worstLatencyMinutes(played, DAY.from, DAY.to).minutes).toBeGreaterThan(SLA.batchFreshnessMinutes);
    const catalog = JOB_CATALOG.map((job) => (job.name === 'run' ? { ...job, timeoutMinutes: 20 } : job));
    expect(() => buildPlatformSpec(config, catalog)).toThrow(
      /batch freshness: "run" can take 101\.5 min from a source change to gold, over the 75-minute batch freshness SLA: up to 60 min between runs \+ 1 min to start \+ 2 attempt\(s\) of 20 min \(its timeout\) \+ 0\.5 min of retry backoff/,
    );
  });

  it('refuses a run scheduled less often than hourly, more retries, or in-run retries that cannot fit an attempt', () => {
    const withRun = (change: Partial<JobSpec>) =>
      JOB_CATALOG.map((job) => (job.name === 'run' ? { ...job, ...change } : job));
    expect(() => buildPlatformSpec(config, withRun({ schedule: '5 */2 * * *' }))).toThrow(
      /up to 120 min between runs/,
    );
    expect(() => buildPlatformSpec(config, withRun({ retries: 2 }))).toThrow(/3 attempt\(s\) of 6 min/);
    const patientSteps = RUN_STEPS.map((step) => ({ ...step, backoffSeconds: 60 }));
    expect(() => buildPlatformSpec(config, withRun({}), undefined, patientSteps)).toThrow(
      /"run": its steps may wait 15 min between in-run retries \(RUN_STEPS\), not less than its 6-minute timeout/,
    );
    expect(() => buildPlatformSpec(config, withRun({ retryBackoffSeconds: 5 }))).toThrow(
      /job "run": retryBackoffSeconds must be a whole number of seconds, at least 10/,
    );
    // Twice an hour leaves room for a longer timeout.
    expect(
      buildPlatformSpec(config, withRun({ schedule: '5,35 * * * *', timeoutMinutes: 20 })).batchFreshness
        .worstCaseMinutes,
    ).toBe(30 + 1 + 40 + 0.5);
  });
});
