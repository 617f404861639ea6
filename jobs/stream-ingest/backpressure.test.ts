import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { JobStoppedError } from '../context.ts';
import { newBackpressureState, persistWithBackoff } from './backpressure.ts';

const log = pino({ level: 'silent' });

describe('persistWithBackoff', () => {
  it('retries a failing write until it succeeds, reporting backpressure meanwhile and clearing it after', async () => {
    const state = newBackpressureState();
    const persist = persistWithBackoff({
      state,
      log,
      signal: new AbortController().signal,
      maxDelayMs: 20,
      stopGraceMs: 1_000,
      baseDelayMs: 5,
    });
    let calls = 0;
    const seenActive: boolean[] = [];
    const result = await persist('lake', async () => {
      calls += 1;
      seenActive.push(state.active);
      if (calls < 6) throw new Error(`unavailable ${calls}`);
      return 'written';
    });
    expect(result).toBe('written');
    expect(calls).toBe(6);
    expect(seenActive.slice(1).every(Boolean)).toBe(true);
    expect(state).toMatchObject({ active: false, since: null, retries: 5, lastError: 'lake: unavailable 5' });
  });

  it('caps the backoff, and on a stop request gives the write in hand a grace before giving up', async () => {
    const state = newBackpressureState();
    const stop = new AbortController();
    const persist = persistWithBackoff({
      state,
      log,
      signal: stop.signal,
      maxDelayMs: 30,
      stopGraceMs: 300,
      baseDelayMs: 5,
    });
    let calls = 0;
    const started = performance.now();
    const writing = persist('warehouse', async () => {
      calls += 1;
      throw new Error('down');
    });
    setTimeout(() => stop.abort('SIGTERM'), 200);
    await expect(writing).rejects.toBeInstanceOf(JobStoppedError);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(2_000);
    // Capped at 30 ms (jittered down to 15 ms): many tries in half a second, not a handful of ever longer waits.
    expect(calls).toBeGreaterThan(10);
  });

  it('lets a write that succeeds within the grace after a stop request complete', async () => {
    const stop = new AbortController();
    stop.abort('SIGTERM');
    const persist = persistWithBackoff({
      state: newBackpressureState(),
      log,
      signal: stop.signal,
      maxDelayMs: 20,
      stopGraceMs: 500,
      baseDelayMs: 5,
    });
    let calls = 0;
    await expect(
      persist('lake', async () => {
        calls += 1;
        if (calls < 3) throw new Error('blip');
        return 'ok';
      }),
    ).resolves.toBe('ok');
  });
});
