import { describe, expect, it } from 'vitest';
import type { JobContext } from '../../context.ts';
import { startApplier, wakeLatch } from './applier-host.ts';

describe('applier host', () => {
  it('runs no applier when STREAM_APPLY=off (an ingest-only replica)', () => {
    const context = { config: { STREAM_APPLY: 'off' } } as unknown as JobContext;
    expect(startApplier(context, 1_000)).toBeNull();
  });

  it('wakes the applier at once on a committed batch, else after the idle wait', async () => {
    const latch = wakeLatch();
    let started = performance.now();
    const idle = latch.nextWake(5_000);
    setTimeout(() => latch.wake(), 20);
    await idle;
    expect(performance.now() - started).toBeLessThan(1_000);
    latch.wake(); // a wake while the applier works is not lost
    started = performance.now();
    await latch.nextWake(5_000);
    expect(performance.now() - started).toBeLessThan(50);
    started = performance.now();
    await latch.nextWake(60);
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
  });
});
