/**
 * Publish-to-tile latency for the stream bench (bench/stream.bench.ts, part 2): the events it produces (a mix that
 * feeds every realtime KPI table), the poller that reads the monitor's live tiles as the page does, and the
 * latency computation from the polls and the commits that applied the events (pure, bench/stream-tiles.test.ts).
 *
 * An event's tile latency = the start of the first successful poll of `/api/live` that started after the commit
 * that applied it, minus its broker timestamp. The realtime tables change in that same commit, so "event -> KPI
 * table" is the event-to-silver latency.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LiveView } from '../jobs/kpis/realtime.ts';

/** The live section's refresh period on the page (the monitor's liveRefreshSeconds default). */
export const LIVE_REFRESH_MS = 5_000;
/** Issue 16's targets for event published -> KPI tile, in seconds. */
export const TILE_TARGETS = { p95: 60, p99: 90 } as const;

// ---------------------------------------------------------------------------------------------------------------
// The events: browsing sessions of 8 events (the generator's shapes), a quarter ending in a purchase whose order
// is created (order-events, contract version 2, USD) and then shipped or cancelled. Every session is new, so the
// session tiles keep moving, and the order tiles move with every purchase.

export const EVENTS_PER_SESSION = 8;
const DEVICES = ['web', 'mobile', 'app'];
/** A converting session's clickstream steps (its last two events are its order's); a browsing session's. */
const PURCHASE_STEPS = [
  'page_view',
  'product_view',
  'product_view',
  'add_to_cart',
  'checkout_started',
  'purchase',
];
const BROWSE_STEPS = [
  'page_view',
  'product_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'product_view',
  'page_view',
  'product_view',
];

export interface BenchMessage {
  topic: 'clickstream' | 'order-events';
  key: string;
  value: string;
}

/** Event `id` of the mix: session `id / 8`, step `id % 8`; stamped `at`. */
export function mixedEvent(id: number, at: Date): BenchMessage {
  const session = Math.floor(id / EVENTS_PER_SESSION);
  const step = id % EVENTS_PER_SESSION;
  const converted = session % 4 === 0;
  if (converted && step >= 6) return orderEvent(id, session, step === 6, at);
  const eventType = (converted ? PURCHASE_STEPS : BROWSE_STEPS)[step] ?? 'page_view';
  const productId = eventType === 'page_view' ? null : ((session * 7 + step) % 200) + 1;
  const sessionId = `s-${session}`;
  return {
    topic: 'clickstream',
    key: sessionId,
    value: JSON.stringify({
      event_id: `bench-${id}`,
      event_type: eventType,
      occurred_at: at.toISOString(),
      session_id: sessionId,
      customer_id: session % 3 === 0 ? null : (session % 20_000) + 1,
      device: DEVICES[session % 3],
      page_url: `https://shop.example/products/${productId ?? 'home'}?ref=home`,
      product_id: productId,
      quantity: eventType === 'add_to_cart' || eventType === 'remove_from_cart' ? (session % 3) + 1 : null,
      order_id: eventType === 'purchase' ? session + 1 : null,
    }),
  };
}

function orderEvent(id: number, session: number, created: boolean, at: Date): BenchMessage {
  const orderId = session + 1;
  return {
    topic: 'order-events',
    key: String(orderId),
    value: JSON.stringify({
      event_id: `bench-${id}`,
      event_type: created ? 'order_created' : 'order_status_changed',
      occurred_at: at.toISOString(),
      order_id: orderId,
      status: created ? 'pending' : session % 20 === 0 ? 'cancelled' : 'shipped',
      schema_version: 2,
      order_total: 20 + (session % 180) + 0.99,
      currency: 'USD',
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The poller: GET /api/live, then wait the refresh period, as the page's script does (it schedules the next
// refresh when one has answered).

export interface TileTotals {
  sessions: number;
  orders: number;
}

export interface LivePoll {
  /** Epoch ms when the request was sent, and when it had answered. */
  startedAt: number;
  endedAt: number;
  /** 200 with live.ok: the tiles showed the realtime tables. */
  ok: boolean;
  /** Today's totals on the tiles (successful polls). */
  totals: TileTotals | null;
}

export interface LivePoller {
  polls: LivePoll[];
  stop(): Promise<void>;
}

export function pollLiveTiles(monitorUrl: string, everyMs = LIVE_REFRESH_MS): LivePoller {
  const stopped = new AbortController();
  const polls: LivePoll[] = [];
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      polls.push(await pollOnce(monitorUrl));
      await sleep(everyMs, undefined, { signal: stopped.signal }).catch(() => undefined);
    }
  })();
  return {
    polls,
    async stop() {
      stopped.abort();
      await loop;
    },
  };
}

async function pollOnce(monitorUrl: string): Promise<LivePoll> {
  const startedAt = Date.now();
  try {
    const response = await fetch(`${monitorUrl}/api/live`, { signal: AbortSignal.timeout(30_000) });
    const body = (await response.json()) as { live?: { ok: boolean; data?: LiveView } };
    const today = body.live?.ok === true ? body.live.data?.today : undefined;
    const ok = response.status === 200 && today !== undefined;
    const totals = ok ? { sessions: today.sessions, orders: today.orders } : null;
    return { startedAt, endedAt: Date.now(), ok, totals };
  } catch {
    return { startedAt, endedAt: Date.now(), ok: false, totals: null };
  }
}

/** The tile totals that never changed across a run's successful polls (all of them when fewer than two). */
export function unchangedTotals(polls: readonly LivePoll[]): (keyof TileTotals)[] {
  const seen = polls.flatMap((poll) => (poll.ok && poll.totals ? [poll.totals] : []));
  const keys: (keyof TileTotals)[] = ['sessions', 'orders'];
  return keys.filter((key) => new Set(seen.map((totals) => totals[key])).size < 2);
}

// ---------------------------------------------------------------------------------------------------------------
// The latencies, from the commits and the polls

/** `events` events published at `publishedAt` and applied by the commit at `committedAt` (epoch ms). */
export interface AppliedEvents {
  publishedAt: number;
  committedAt: number;
  events: number;
}

/** A latency in seconds and how many events had it. */
export type Weighted = [seconds: number, events: number];

/** Event -> silver, which is also event -> KPI table (same commit). */
export function commitLatencies(applied: readonly AppliedEvents[]): Weighted[] {
  return applied.map((group) => [(group.committedAt - group.publishedAt) / 1000, group.events]);
}

/**
 * Event -> tile: the first successful poll started after the event's commit. `unseen` counts the events no
 * successful poll followed (the run stopped polling too early).
 */
export function tileLatencies(
  applied: readonly AppliedEvents[],
  polls: readonly LivePoll[],
): { latencies: Weighted[]; unseen: number } {
  const starts = polls
    .filter((poll) => poll.ok)
    .map((poll) => poll.startedAt)
    .sort((a, b) => a - b);
  const latencies: Weighted[] = [];
  let unseen = 0;
  for (const group of applied) {
    const seenAt = firstAfter(starts, group.committedAt);
    if (seenAt === undefined) unseen += group.events;
    else latencies.push([(seenAt - group.publishedAt) / 1000, group.events]);
  }
  return { latencies, unseen };
}

/** The first value of `sorted` strictly greater than `at`. */
function firstAfter(sorted: readonly number[], at: number): number | undefined {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle] as number) > at) high = middle;
    else low = middle + 1;
  }
  return sorted[low];
}

/** The p-th percentile (nearest rank) of weighted values; NaN when there are none. */
export function weightedPercentile(values: readonly Weighted[], p: number): number {
  const sorted = [...values].filter(([, events]) => events > 0).sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, events]) => sum + events, 0);
  const rank = Math.min(total, Math.max(1, Math.ceil((p / 100) * total)));
  let seen = 0;
  for (const [seconds, events] of sorted) {
    seen += events;
    if (seen >= rank) return seconds;
  }
  return Number.NaN;
}

export interface LatencySummary {
  events: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly Weighted[]): LatencySummary {
  const at = (p: number) => Number(weightedPercentile(values, p).toFixed(2));
  return {
    events: values.reduce((sum, [, events]) => sum + events, 0),
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: at(100),
  };
}

export function meetsTileTargets(tile: LatencySummary): boolean {
  return tile.p95 <= TILE_TARGETS.p95 && tile.p99 <= TILE_TARGETS.p99;
}
