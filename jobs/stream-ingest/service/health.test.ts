import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.ts';
import { lagMonitor, outageTracker } from './broker-watch.ts';
import { type PartitionLag, readinessOf, type ServiceHealth, startHealthServer } from './health.ts';

const LAG: PartitionLag[] = [
  { topic: 'clickstream', partition: 0, endOffset: 120, committedOffset: 100, lag: 20 },
  { topic: 'clickstream', partition: 1, endOffset: 50, committedOffset: 50, lag: 0 },
];
const member = (partitions: number[], fetched: boolean) => ({
  assigned: partitions.map((partition) => ({ topic: 'clickstream', partition })),
  fetchedSinceAssignment: fetched,
});

describe('readiness: consuming, not merely connected', () => {
  it('is ready only when every member holds an assignment and those with partitions have fetched since', () => {
    expect(readinessOf([member([0], true), member([1, 2], true)], null)).toEqual({
      ready: true,
      reason: 'consuming 3 partitions',
      partitions: ['clickstream/0', 'clickstream/1', 'clickstream/2'],
    });
    // A member with no partition (more members than partitions) does not hold the others back.
    expect(readinessOf([member([0, 1, 2], true), member([], false)], null).ready).toBe(true);
    expect(readinessOf([member([0], true), null], null)).toMatchObject({
      ready: false,
      reason: '1 of 2 group members hold an assignment (joining or rebalancing)',
    });
    expect(
      readinessOf([member([0], true), { assigned: null, fetchedSinceAssignment: false }], null).ready,
    ).toBe(false);
    expect(readinessOf([member([0], false)], null)).toMatchObject({
      ready: false,
      reason: 'assigned; waiting for the first fetch',
    });
    expect(readinessOf([member([], false), member([], false)], null)).toMatchObject({
      ready: false,
      reason: 'no partition assigned to this process (the group has more members than partitions)',
    });
    expect(readinessOf([member([0], true)], null, false).ready).toBe(false);
  });

  it('is not ready while the broker fails, and says since when', () => {
    const outage = { since: '2026-10-01T10:00:00.000Z', lastError: 'Connection refused', lastErrorAt: 'x' };
    expect(readinessOf([member([0], true)], outage)).toMatchObject({
      ready: false,
      reason: 'the broker is failing since 2026-10-01T10:00:00.000Z: Connection refused',
    });
  });
});

describe('lag monitor: never waits on a broker that does not answer', () => {
  const clock = () => new Date('2026-10-01T10:00:00Z');

  it('returns fresh figures when the broker answers, the last known ones (stale) when it does not', async () => {
    const outage = outageTracker(clock);
    let answer: () => Promise<PartitionLag[] | null> = async () => LAG;
    const monitor = lagMonitor({
      measure: () => answer(),
      outage,
      now: clock,
      waitMs: 100,
      outageAfterMs: 300,
    });
    expect(await monitor.read()).toEqual({ lag: LAG, measuredAt: '2026-10-01T10:00:00.000Z', stale: false });

    // The broker stops answering: kafkajs would retry for many seconds.
    let calls = 0;
    answer = () => {
      calls += 1;
      return new Promise(() => {});
    };
    const started = performance.now();
    expect(await monitor.read()).toMatchObject({ lag: LAG, stale: true });
    expect(performance.now() - started).toBeLessThan(300);
    expect(outage.current()).toBeNull(); // slow, not yet silent
    await new Promise((resolve) => setTimeout(resolve, 320));
    const again = performance.now();
    expect(await monitor.read()).toMatchObject({ lag: LAG, stale: true });
    expect(performance.now() - again).toBeLessThan(50); // the outstanding read is not waited for again
    expect(calls).toBe(1); // nor asked a second time
    expect(outage.current()?.lastError).toMatch(/the broker has not answered for \d+ ms/);

    // A failed read is an outage until the broker answers again.
    const failing = outageTracker(clock);
    const refused = lagMonitor({
      measure: async () => {
        throw new Error('Connection error: connect ECONNREFUSED');
      },
      outage: failing,
      now: clock,
      waitMs: 100,
      outageAfterMs: 300,
    });
    expect(await refused.read()).toEqual({ lag: [], measuredAt: null, stale: true });
    expect(failing.current()).toMatchObject({
      since: '2026-10-01T10:00:00.000Z',
      lastError: 'Connection error: connect ECONNREFUSED',
    });
  });
});

describe('health server', () => {
  it('answers /status at once during a broker outage with the last lag, the outage and the applier state', async () => {
    const outage = outageTracker(() => new Date('2026-10-01T10:00:00Z'));
    outage.failed(new Error('KafkaJSConnectionError: Connection error: connect ECONNREFUSED'));
    const health: ServiceHealth = {
      alive: true,
      readiness: () => readinessOf([member([0, 1], true)], outage.current()),
      lastFlushAt: new Date('2026-10-01T09:59:00Z'),
      batchesWritten: 4,
      eventsWritten: 400,
      lag: async () => ({ lag: LAG, measuredAt: '2026-10-01T09:59:30.000Z', stale: true }),
      outage: () => outage.current(),
      lastError: null,
    };
    const server = await startHealthServer(health, 0, '127.0.0.1');
    try {
      const readyz = await fetch(`${server.url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(((await readyz.json()) as { reason: string }).reason).toMatch(/broker is failing since/);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const status = (await (await fetch(`${server.url}/status`)).json()) as Record<string, unknown>;
      expect(status).toMatchObject({
        ready: false,
        totalLag: 20,
        lagStale: true,
        lagMeasuredAt: '2026-10-01T09:59:30.000Z',
        lastFlushAt: '2026-10-01T09:59:00.000Z',
        outage: { since: '2026-10-01T10:00:00.000Z', lastError: expect.stringMatching(/ECONNREFUSED/) },
      });
    } finally {
      await server.close();
    }
  });
});

describe('health server address', () => {
  it('binds loopback by default (ECOMM_HEALTH_HOST), and every interface only when told', async () => {
    const health: ServiceHealth = {
      alive: true,
      readiness: () => ({ ready: true, reason: null }) as never,
      lastFlushAt: null,
      batchesWritten: 0,
      eventsWritten: 0,
      lag: async () => ({ lag: [], measuredAt: null, stale: false }) as never,
      lastError: null,
    };
    expect(loadConfig({}).ECOMM_HEALTH_HOST).toBe('127.0.0.1');
    const loopback = await startHealthServer(health, 0);
    try {
      expect(loopback.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${loopback.url}/healthz`)).status).toBe(200);
      // Another address of this machine does not reach it.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((address) => address && address.family === 'IPv4' && !address.internal);
      if (external) {
        const port = new URL(loopback.url).port;
        await expect(fetch(`http://${external.address}:${port}/healthz`)).rejects.toThrow();
      }
    } finally {
      await loopback.close();
    }
    const everywhere = await startHealthServer(
      health,
      0,
      loadConfig({ ECOMM_HEALTH_HOST: '0.0.0.0' }).ECOMM_HEALTH_HOST,
    );
    try {
      expect(everywhere.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${everywhere.url}/healthz`)).status).toBe(200);
    } finally {
      await everywhere.close();
    }
  });
});
