/**
 * The stream bench's publish-to-tile parts that need no services: the latency computation from the commits and the
 * polls, the percentiles, the check that the tiles moved, the event mix, and the poller against a stub monitor.
 * (The bench itself, `node bench/stream.bench.ts`, is the proof of the rest: bench/results/stream.md.)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  commitLatencies,
  EVENTS_PER_SESSION,
  type LivePoll,
  meetsTileTargets,
  mixedEvent,
  pollLiveTiles,
  summarize,
  tileLatencies,
  unchangedTotals,
  type Weighted,
  weightedPercentile,
} from './stream-tiles.ts';

const poll = (startedAt: number, ok = true, sessions = 0, orders = 0): LivePoll => ({
  startedAt,
  endedAt: startedAt + 20,
  ok,
  totals: ok ? { sessions, orders } : null,
});

describe('stream bench: publish-to-tile latency', () => {
  it('takes the first successful poll that started after the commit, never one before or at it', () => {
    const applied = [
      { publishedAt: 1_000, committedAt: 4_000, events: 3 },
      { publishedAt: 2_000, committedAt: 9_500, events: 2 },
    ];
    // 4,000: started at the commit (not after it); 6,000: failed; 9,000: before the second commit.
    const polls = [poll(0), poll(4_000), poll(6_000, false), poll(9_000), poll(14_000)];
    expect(tileLatencies(applied, polls)).toEqual({
      latencies: [
        [8, 3],
        [12, 2],
      ],
      unseen: 0,
    });
    expect(commitLatencies(applied)).toEqual([
      [3, 3],
      [7.5, 2],
    ]);
  });

  it('counts the events no successful poll followed', () => {
    const applied = [
      { publishedAt: 1_000, committedAt: 2_000, events: 4 },
      { publishedAt: 5_000, committedAt: 7_000, events: 6 },
    ];
    expect(tileLatencies(applied, [poll(3_000), poll(8_000, false)])).toEqual({
      latencies: [[2, 4]],
      unseen: 6,
    });
  });

  it('weighs each latency by its events (nearest rank)', () => {
    const values: Weighted[] = [
      [9, 1],
      [1, 90],
      [5, 9],
    ];
    expect(weightedPercentile(values, 50)).toBe(1);
    expect(weightedPercentile(values, 90)).toBe(1);
    expect(weightedPercentile(values, 91)).toBe(5);
    expect(weightedPercentile(values, 99)).toBe(5);
    expect(weightedPercentile(values, 100)).toBe(9);
    expect(weightedPercentile([], 50)).toBeNaN();
    expect(summarize(values)).toEqual({ events: 100, p50: 1, p95: 5, p99: 5, max: 9 });
  });

  it('judges the targets: p95 <= 60 s and p99 <= 90 s', () => {
    const at = (p95: number, p99: number) => ({ events: 1, p50: 1, p95, p99, max: p99 });
    expect(meetsTileTargets(at(60, 90))).toBe(true);
    expect(meetsTileTargets(at(60.01, 61))).toBe(false);
    expect(meetsTileTargets(at(10, 90.5))).toBe(false);
  });

  it('names the tile totals that did not move across the successful polls', () => {
    expect(unchangedTotals([poll(0, true, 0, 0), poll(5, false), poll(10, true, 40, 3)])).toEqual([]);
    expect(unchangedTotals([poll(0, true, 0, 0), poll(10, true, 40, 0)])).toEqual(['orders']);
    expect(unchangedTotals([poll(0, true, 1, 1), poll(10, false)])).toEqual(['sessions', 'orders']);
  });
});

describe('stream bench: the event mix', () => {
  const events = Array.from({ length: 8 * EVENTS_PER_SESSION }, (_, id) => mixedEvent(id, new Date(0)));
  const values = events.map((event) => JSON.parse(event.value) as Record<string, unknown>);

  it('starts a new session every 8 events and creates an order for every fourth session', () => {
    const sessions = new Set(values.flatMap((value) => (value.session_id ? [value.session_id] : [])));
    expect(sessions.size).toBe(8);
    const created = values.filter((value) => value.event_type === 'order_created');
    expect(created.map((value) => value.order_id)).toEqual([1, 5]);
    expect(created.every((value) => value.schema_version === 2 && value.currency === 'USD')).toBe(true);
    const purchases = values.filter((value) => value.event_type === 'purchase');
    expect(purchases.map((value) => value.order_id)).toEqual([1, 5]);
    expect(events.filter((event) => event.topic === 'order-events')).toHaveLength(4);
    expect(new Set(values.map((value) => value.event_id)).size).toBe(events.length);
  });
});

describe('stream bench: the tile poller', () => {
  it('records each poll, successful only on 200 with live.ok', async () => {
    const answers = [
      [200, { live: { ok: true, data: { today: { sessions: 3, orders: 1 } } } }],
      [200, { live: { ok: false, error: 'relation "realtime.order_minutes" does not exist' } }],
      [500, { live: { ok: true, data: { today: { sessions: 3, orders: 1 } } } }],
    ] as const;
    let served = 0;
    const server = createServer((request, response) => {
      const [status, body] = answers[Math.min(served, answers.length - 1)] ?? [];
      served += 1;
      expect(request.url).toBe('/api/live');
      response.writeHead(status ?? 500, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const poller = pollLiveTiles(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 10);
    await expect.poll(() => poller.polls.length).toBeGreaterThanOrEqual(3);
    await poller.stop();
    server.close();
    expect(poller.polls.slice(0, 3).map((p) => [p.ok, p.totals])).toEqual([
      [true, { sessions: 3, orders: 1 }],
      [false, null],
      [false, null],
    ]);
    expect(poller.polls.every((p) => p.endedAt >= p.startedAt)).toBe(true);
  });
});
