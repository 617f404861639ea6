/**
 * The live tile rows: today so far and the last 60 minutes, from the real-time KPI tables the stream service keeps
 * (jobs/kpis/realtime.ts), with the age of the newest event applied per topic. The page swaps this section every
 * few seconds from /live (assets/monitor.js); the daily tiles beside it stay from gold.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import {
  LIVE_WINDOW_MINUTES,
  type LiveKpis,
  type LiveView,
  REALTIME_RECONCILIATION_CHECK,
} from '../kpis/realtime.ts';
import {
  formatAgo,
  formatInteger,
  formatPercent,
  formatTime,
  formatUsd,
  type Html,
  type HtmlValue,
  html,
} from './html.ts';
import { badge, sectionBody } from './page.ts';
import type { Section } from './queries.ts';

/** The newest event older than this: the stream service is behind or stopped (seed 002: tiles within 3 minutes). */
export const LIVE_BEHIND_SECONDS = 180;

/** The watchdog's latest comparison of the real-time totals with gold (jobs/watchdog/realtime-reconciliation.ts). */
export interface Reconciliation {
  passed: boolean;
  checkedAt: Date;
  details: string | null;
}

export type LiveSection = LiveView & { reconciliation: Reconciliation | null };

export async function loadReconciliation(db: SqlDatabase): Promise<Reconciliation | null> {
  const [row] = await db.query<{ status: string; checked_at: unknown; details: string | null }>(
    `select status, checked_at, details from ops.dq_findings where check_id = $1
     order by checked_at desc, run_id desc limit 1`,
    [REALTIME_RECONCILIATION_CHECK],
  );
  return row
    ? { passed: row.status === 'pass', checkedAt: new Date(row.checked_at as string), details: row.details }
    : null;
}

export function renderLiveSection(live: Section<LiveSection>, now: Date, refreshSeconds: number): Html {
  return html`<section class="panel" id="live" aria-labelledby="live-title" data-live-seconds="${refreshSeconds}" data-generated-at="${now.toISOString()}">
<h2 id="live-title">Live KPIs <small>from the stream (<code>realtime.*</code>, kept by <code>ecomm stream-ingest --follow</code>) · refreshes every ${refreshSeconds} s</small></h2>
${sectionBody(live, (data) => renderLive(data, now))}
</section>`;
}

export function renderLive(live: LiveSection, now: Date): Html {
  return html`${renderProgress(live, now)}
${renderReconciliation(live.reconciliation, now)}
${liveRow('today', html`Today so far <span class="muted">since 00:00 UTC</span>`, live.today)}
${liveRow('last-hour', html`Last ${LIVE_WINDOW_MINUTES} minutes`, live.lastHour)}`;
}

function renderProgress(live: LiveView, now: Date): Html {
  if (live.progress.length === 0)
    return html`<p class="subtitle" id="live-progress">No event applied yet: is the stream service running (<code>ecomm stream-ingest --follow</code>)?</p>`;
  const topics = live.progress.map((topic) => {
    const ageSeconds = (now.getTime() - topic.newestEventAt.getTime()) / 1000;
    const behind = ageSeconds > LIVE_BEHIND_SECONDS;
    return html`<span class="live-topic" data-topic="${topic.topic}" data-age-seconds="${Math.max(0, Math.round(ageSeconds))}"><code>${topic.topic}</code> newest event <time datetime="${topic.newestEventAt.toISOString()}" title="applied ${formatTime(topic.appliedAt)}">${formatAgo(topic.newestEventAt, now)}</time> ${badge(behind ? 'behind' : 'live', behind ? 'warn' : 'ok')}</span>`;
  });
  return html`<p class="subtitle" id="live-progress">${topics}</p>`;
}

function renderReconciliation(reconciliation: Reconciliation | null, now: Date): Html {
  if (!reconciliation)
    return html`<p class="subtitle" id="live-reconciliation" data-reconciled="none">Not reconciled with gold yet: the watchdog compares each whole day once gold covers it.</p>`;
  const when = html`<time datetime="${reconciliation.checkedAt.toISOString()}">${formatAgo(reconciliation.checkedAt, now)}</time>`;
  return html`<p class="subtitle" id="live-reconciliation" data-reconciled="${reconciliation.passed ? 'pass' : 'fail'}">Reconciled with gold (watchdog, ${when}): ${badge(reconciliation.passed ? 'agrees' : 'differs', reconciliation.passed ? 'ok' : 'warn')} <span class="small">${reconciliation.details ?? ''}</span></p>`;
}

function liveRow(key: string, label: Html, kpis: LiveKpis): Html {
  const revenueNotes = [
    kpis.ordersAwaitingRate > 0
      ? html`<span class="delta warn-text" data-note="awaiting-rate">${formatInteger(kpis.ordersAwaitingRate)} order(s) await the day's FX rate: not in revenue</span>`
      : '',
    kpis.ordersWithoutAmount > 0
      ? html`<span class="delta" data-note="without-amount">${formatInteger(kpis.ordersWithoutAmount)} order(s) from version 1 events carry no amount</span>`
      : '',
  ];
  const tiles = [
    liveTile('live-revenue', 'Revenue', kpis.revenueUsd, formatUsd(Number(kpis.revenueUsd)), revenueNotes),
    liveTile('live-orders', 'Orders', String(kpis.orders), formatInteger(kpis.orders)),
    liveTile(
      'live-aov',
      'Average order value',
      kpis.aovUsd ?? '',
      kpis.aovUsd === null ? '–' : formatUsd(Number(kpis.aovUsd)),
    ),
    liveTile(
      'live-conversion',
      'Conversion',
      kpis.conversion === null ? '' : String(kpis.conversion),
      kpis.conversion === null ? '–' : formatPercent(kpis.conversion),
      html`<span class="delta">${formatInteger(kpis.convertedSessions)} of ${formatInteger(kpis.sessions)} sessions</span>`,
    ),
    liveTile(
      'live-cancellations',
      'Cancellations',
      String(kpis.cancellations),
      formatInteger(kpis.cancellations),
    ),
  ];
  return html`<div class="live-row" data-live="${key}">
<h3 class="live-label">${label}</h3>
<div class="tiles tiles-live">${tiles}</div>
</div>`;
}

function liveTile(key: string, label: string, raw: string, shown: string, notes: HtmlValue = ''): Html {
  return html`<div class="tile tile-live" data-kpi="${key}" data-source="stream">
<div class="tile-label">${label}</div>
<div class="tile-value" data-value="${raw}">${shown}</div>
${notes}
</div>`;
}
