/** The main page: KPI tiles with their refresh time, the latest run of every job, freshness against SLA. */
import type { HeldBatches } from './batch-queries.ts';
import { sparkline } from './charts.ts';
import {
  formatAgo,
  formatDuration,
  formatInteger,
  formatPercent,
  formatTime,
  formatUsd,
  type Html,
  html,
  shortId,
} from './html.ts';
import { type LiveSection, renderLiveSection } from './live-view.ts';
import { badge, numberCell, sectionBody, stateTone } from './page.ts';
import type { DailyKpi, Freshness, JobStatus, Kpis, Section } from './queries.ts';

export interface OverviewData {
  kpis: Section<Kpis>;
  jobs: Section<JobStatus[]>;
  freshness: Section<Freshness>;
  heldBatches: Section<HeldBatches>;
  live: Section<LiveSection>;
}

export function renderOverview(data: OverviewData, now: Date, liveRefreshSeconds: number): Html {
  return html`${renderLiveSection(data.live, now, liveRefreshSeconds)}
<section class="panel" id="kpis" aria-labelledby="kpis-title">
<h2 id="kpis-title">Sales KPIs <small>daily, from gold (the hourly batch)</small></h2>
${sectionBody(data.kpis, (kpis) => renderKpis(kpis, now))}
</section>
<section class="panel" id="pipeline-status" aria-labelledby="status-title">
<h2 id="status-title">Pipeline status <small>latest run of each job</small></h2>
${sectionBody(data.jobs, (jobs) => renderJobStatuses(jobs, now))}
</section>
<section class="panel" id="freshness" aria-labelledby="freshness-title">
<h2 id="freshness-title">Freshness against SLA</h2>
${sectionBody(data.freshness, (freshness) => renderFreshness(freshness, now))}
</section>
<section class="panel" id="held-batches" aria-labelledby="held-title">
<h2 id="held-title">Held-back batches <small>failed on their own data; <code>ecomm batches retry</code> after a fix, or <code>skip</code></small></h2>
${sectionBody(data.heldBatches, (held) => renderHeldBatches(held, now))}
</section>`;
}

// ---------------------------------------------------------------------------------------------------------------

export function renderHeldBatches(held: HeldBatches, now: Date): Html {
  if (held.batches.length === 0)
    return html`<p class="empty">No batch is held back: every batch went on to bronze.</p>`;
  const when = (at: Date | null) =>
    at
      ? html`<time datetime="${at.toISOString()}">${formatTime(at)}</time><div class="muted small">${formatAgo(at, now)}</div>`
      : '–';
  const rows = held.batches.map(
    (batch) => html`<tr data-batch="${batch.batchId}" data-status="${batch.status}">
<th scope="row"><code>${batch.batchId}</code></th>
<td>${batch.source}<div class="muted small">${batch.kind}</div></td>
<td>${badge(batch.status, batch.status === 'failed' ? 'fail' : 'warn')}</td>
<td>${batch.failedStep ?? '–'}</td>
<td>${when(batch.status === 'skipped' ? batch.skippedAt : batch.failedAt)}</td>
${numberCell(formatInteger(batch.rowsRaw))}
<td class="small">${batch.reason ?? '–'}${batch.status === 'skipped' ? html`<div class="muted">skipped: ${batch.skipReason ?? ''}</div>` : ''}</td>
</tr>`,
  );
  const shown = held.batches.length < held.failed + held.skipped ? ` (${held.batches.length} shown)` : '';
  return html`<p class="subtitle">${held.failed > 0 ? html`<strong>${formatInteger(held.failed)} failed</strong>` : '0 failed'}, ${formatInteger(held.skipped)} skipped${shown}. Every other batch went on to silver and gold.</p>
<div class="table-wrap"><table class="grid-table">
<thead><tr><th scope="col">Batch</th><th scope="col">Source</th><th scope="col">State</th><th scope="col">Step</th><th scope="col">When</th><th scope="col" class="num">Rows</th><th scope="col">Reason (masked)</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

// ---------------------------------------------------------------------------------------------------------------

export function renderKpis(kpis: Kpis, now: Date): Html {
  const day = kpis.days.at(-1);
  if (!day)
    return html`<p class="empty">No sales in gold yet: run the pipeline (<code>ecomm run</code>).</p>`;
  const previous = kpis.days.at(-2);
  const series = (pick: (d: DailyKpi) => number) => kpis.days.map(pick);
  const tiles = [
    kpiTile(
      'revenue',
      'Revenue',
      Number(day.revenueUsd),
      day.revenueUsd,
      formatUsd,
      previous && Number(previous.revenueUsd),
      series((d) => Number(d.revenueUsd)),
    ),
    kpiTile(
      'orders',
      'Orders',
      day.orderCount,
      String(day.orderCount),
      formatInteger,
      previous?.orderCount,
      series((d) => d.orderCount),
    ),
    kpiTile(
      'aov',
      'Average order value',
      day.aovUsd === null ? null : Number(day.aovUsd),
      day.aovUsd ?? '',
      formatUsd,
      previous?.aovUsd == null ? undefined : Number(previous.aovUsd),
      series((d) => Number(d.aovUsd ?? 0)),
    ),
    kpiTile(
      'new-customers',
      'New customers',
      day.newCustomers,
      String(day.newCustomers),
      formatInteger,
      previous?.newCustomers,
      series((d) => d.newCustomers),
    ),
  ];
  const refreshed = kpis.goldBuiltAt
    ? html`gold built <time datetime="${kpis.goldBuiltAt.toISOString()}">${formatTime(kpis.goldBuiltAt)}</time> (${formatAgo(kpis.goldBuiltAt, now)})`
    : html`gold build time unknown (no successful transform recorded)`;
  return html`<p class="subtitle" id="kpi-refresh">Order date <strong data-kpi-date="${day.orderDate}">${day.orderDate}</strong> (latest in gold, UTC) · source: gold · last refreshed: ${refreshed}</p>
<div class="tiles">${tiles}${categoriesTile(kpis)}</div>`;
}

function kpiTile(
  key: string,
  label: string,
  value: number | null,
  raw: string,
  format: (value: number | null) => string,
  previous: number | undefined,
  values: number[],
): Html {
  let delta: Html = html`<span class="delta">&nbsp;</span>`;
  if (value !== null && previous !== undefined && previous !== null && previous !== 0) {
    const change = (value - previous) / previous;
    const direction = change > 0.0005 ? 'up' : change < -0.0005 ? 'down' : 'flat';
    const arrow = direction === 'up' ? '▲' : direction === 'down' ? '▼' : '■';
    delta = html`<span class="delta delta-${direction}">${arrow} ${formatPercent(Math.abs(change))} vs previous day</span>`;
  }
  return html`<div class="tile" data-kpi="${key}" data-source="gold">
<div class="tile-label">${label}</div>
<div class="tile-value" data-value="${raw}">${format(value)}</div>
${delta}
${sparkline(values, `${label}, last ${values.length} days`)}
</div>`;
}

function categoriesTile(kpis: Kpis): Html {
  const max = Math.max(1, ...kpis.topCategories.map((category) => Number(category.revenueUsd)));
  const rows = kpis.topCategories.map(
    (category) =>
      html`<li data-category="${category.category}"><span class="cat-name">${category.category}</span><span class="cat-value">${formatUsd(Number(category.revenueUsd))}</span><meter min="0" max="${max}" value="${Number(category.revenueUsd)}"></meter></li>`,
  );
  const window = kpis.categoryWindow ? `${kpis.categoryWindow.from} – ${kpis.categoryWindow.to}` : '';
  return html`<div class="tile tile-wide" data-kpi="top-categories">
<div class="tile-label">Top categories by revenue <small>${window}</small></div>
${rows.length > 0 ? html`<ol class="categories">${rows}</ol>` : html`<p class="empty">No category sales in these 7 days.</p>`}
</div>`;
}

// ---------------------------------------------------------------------------------------------------------------

export function renderJobStatuses(jobs: JobStatus[], now: Date): Html {
  const rows = jobs.map((job) => {
    const duration =
      job.startedAt && job.finishedAt ? job.finishedAt.getTime() - job.startedAt.getTime() : null;
    const state = job.state === 'never' ? 'no runs yet' : job.state;
    return html`<tr data-job="${job.job}">
<th scope="row">${job.job}<div class="muted small">${job.kind ?? ''}${job.schedule ? html` · <code>${job.schedule}</code>` : ''}</div></th>
<td>${badge(state, job.state === 'never' ? 'idle' : stateTone(job.state))}${job.failedSteps > 0 ? html` <span class="small">${job.failedSteps}/${job.steps} steps failed</span>` : ''}</td>
<td>${job.startedAt ? html`<time datetime="${job.startedAt.toISOString()}">${formatTime(job.startedAt)}</time><div class="muted small">${formatAgo(job.startedAt, now)}</div>` : '–'}</td>
${numberCell(formatDuration(duration))}
${numberCell(formatInteger(job.rowsIn))}
${numberCell(formatInteger(job.rowsOut))}
${numberCell(formatInteger(job.rowsQuarantined))}
<td>${job.runId ? html`<a href="/runs#run-${job.runId}" title="${job.runId}"><code>${shortId(job.runId)}</code></a>` : '–'}${job.message ? html`<div class="error small">${job.message}</div>` : ''}</td>
</tr>`;
  });
  return html`<div class="table-wrap"><table class="grid-table">
<thead><tr><th scope="col">Job</th><th scope="col">Status</th><th scope="col">Last run</th><th scope="col" class="num">Duration</th><th scope="col" class="num">Rows in</th><th scope="col" class="num">Rows out</th><th scope="col" class="num">Quarantined</th><th scope="col">Run</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

// ---------------------------------------------------------------------------------------------------------------

export function renderFreshness(freshness: Freshness, now: Date): Html {
  const age = (minutes: number | null) => (minutes === null ? '–' : formatDuration(minutes * 60_000));
  const gold = freshness.gold;
  const goldRow = html`<tr data-freshness="gold">
<th scope="row">gold <div class="muted small">all gold tables (transform)</div></th><td>batch</td>
<td>${gold.builtAt ? html`<time datetime="${gold.builtAt.toISOString()}">${formatTime(gold.builtAt)}</time>` : '–'}</td><td>–</td>
${numberCell(age(gold.ageMinutes))}${numberCell(`${gold.slaMinutes} min`)}
<td>${badge(gold.state === 'never' ? 'never built' : gold.state === 'ok' ? 'within SLA' : 'late', stateTone(gold.state))}</td><td class="num">–</td>
</tr>`;
  const rows = freshness.sources.map(
    (source) => html`<tr data-freshness="${source.source}">
<th scope="row">${source.source}<div class="muted small">${source.table}</div></th>
<td>${source.kind === 'table' ? 'OLTP table' : 'event topic'}</td>
<td>${source.lastLoadedAt ? html`<time datetime="${source.lastLoadedAt.toISOString()}">${formatTime(source.lastLoadedAt)}</time>` : '–'}</td>
<td>${source.watermarkAt ? formatTime(source.watermarkAt) : '–'}</td>
${numberCell(age(source.ageMinutes))}
${numberCell(`${source.slaMinutes} min`)}
<td>${badge(source.state === 'never' ? 'never loaded' : source.state === 'ok' ? 'within SLA' : 'late', stateTone(source.state))}</td>
${numberCell(formatInteger(source.batches))}
</tr>`,
  );
  const late =
    freshness.sources.filter((source) => source.state !== 'ok').length + (gold.state === 'ok' ? 0 : 1);
  return html`<p class="subtitle">Age = now (${formatTime(now)}) − last load into bronze (sources) or last gold build. ${late === 0 ? 'Everything is within its SLA.' : html`<strong>${late} behind their SLA.</strong>`}</p>
<div class="table-wrap"><table class="grid-table">
<thead><tr><th scope="col">Table</th><th scope="col">Kind</th><th scope="col">Last load</th><th scope="col">Extracted up to</th><th scope="col" class="num">Age</th><th scope="col" class="num">SLA</th><th scope="col">State</th><th scope="col" class="num">Batches</th></tr></thead>
<tbody>${goldRow}${rows}</tbody></table></div>`;
}
