import { describe, expect, it } from 'vitest';
import { backoffDelay, networkErrorCode, withRetry } from './retry.ts';

const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 250 };
const transient = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

describe('withRetry', () => {
  it('retries a transient failure with growing waits until it succeeds', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async (attempt) => {
        calls += 1;
        if (attempt < 3) throw transient;
        return 'done';
      },
      { ...policy, isRetryable: () => true, sleep: async (ms) => void waits.push(ms) },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(50);
    expect(waits[0]).toBeLessThanOrEqual(100);
    expect(waits[1]).toBeGreaterThanOrEqual(100);
    expect(waits[1]).toBeLessThanOrEqual(200);
  });

  it('waits what the failure asks for (Retry-After) instead of the backoff, and backs off when it asks nothing', async () => {
    const waits: number[] = [];
    const throttled = Object.assign(new Error('429'), { retryAfterMs: 3_000 });
    const result = await withRetry(
      async (attempt) => {
        if (attempt === 1) throw throttled;
        if (attempt === 2) throw transient;
        return 'done';
      },
      {
        ...policy,
        isRetryable: () => true,
        retryAfterMs: (error) => (error as { retryAfterMs?: number }).retryAfterMs,
        sleep: async (ms) => void waits.push(ms),
      },
    );
    expect(result).toBe('done');
    expect(waits[0]).toBe(3_000);
    expect(waits[1]).toBeLessThanOrEqual(200);
  });

  it('stops after the given number of attempts and lets describe word the last error', async () => {
    let calls = 0;
    const error = await withRetry(
      async () => {
        calls += 1;
        throw transient;
      },
      {
        ...policy,
        isRetryable: () => true,
        sleep: async () => {},
        describe: (last, attempts) =>
          new Error(`gave up after ${attempts} attempts (${networkErrorCode(last)})`),
      },
    ).catch((caught: unknown) => caught);
    expect(calls).toBe(4);
    expect((error as Error).message).toBe('gave up after 4 attempts (ECONNREFUSED)');
  });

  it('does not retry an error isRetryable refuses, and reports one attempt', async () => {
    let calls = 0;
    const attempts: number[] = [];
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new Error('403 AccessDenied');
        },
        {
          ...policy,
          isRetryable: () => false,
          describe: (last, n) => {
            attempts.push(n);
            return last;
          },
        },
      ),
    ).rejects.toThrow('403 AccessDenied');
    expect(calls).toBe(1);
    expect(attempts).toEqual([1]);
  });

  it('stops waiting when its signal is aborted', async () => {
    const controller = new AbortController();
    const running = withRetry(
      async () => {
        throw transient;
      },
      {
        attempts: 5,
        baseDelayMs: 60_000,
        maxDelayMs: 60_000,
        isRetryable: () => true,
        signal: controller.signal,
      },
    );
    controller.abort(new Error('job cancelled'));
    await expect(running).rejects.toThrow('job cancelled');
  });
});

describe('backoffDelay', () => {
  it('doubles from the base delay up to the cap, with up to half of it as jitter', () => {
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, policy, () => 0))).toEqual([
      50, 100, 125, 125,
    ]);
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, policy, () => 1))).toEqual([
      100, 200, 250, 250,
    ]);
  });
});

describe('networkErrorCode', () => {
  it('finds a connection failure code on the error or its causes, and nothing on an HTTP error', () => {
    expect(networkErrorCode(transient)).toBe('ECONNREFUSED');
    expect(networkErrorCode(new Error('wrapped', { cause: { code: 'ECONNRESET' } }))).toBe('ECONNRESET');
    expect(networkErrorCode(Object.assign(new Error('404'), { code: 'NoSuchKey' }))).toBeUndefined();
  });
});
