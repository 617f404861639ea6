/** Data quality: the pass/fail trend over recent runs, the latest run's failing checks, and repeat offenders. */
import { qualityTrendChart } from './charts.ts';
import { formatInteger, formatTime, type Html, html, shortId } from './html.ts';
import { badge, numberCell, sectionBody, stateTone } from './page.ts';
import type { Section } from './queries.ts';
import type { Finding, Quality } from './run-queries.ts';

export function renderQualityPage(quality: Section<Quality>): Html {
  return html`<section class="panel" id="quality-trend" aria-labelledby="trend-title">
<h2 id="trend-title">Checks per run <small>${quality.ok ? plural(quality.data.trend.length, 'latest run', 'latest runs') : ''} with checks</small></h2>
${sectionBody(quality, (data) => qualityTrendChart(data.trend))}
</section>
${sectionBody(quality, (data) => renderQualityDetails(data))}`;
}

export function renderQualityDetails(quality: Quality): Html {
  if (quality.latestRunId === null) return html``;
  const failing = quality.latest.filter((finding) => finding.status === 'fail');
  const layers = [...new Set(quality.latest.map((finding) => finding.layer))].map((layer) => {
    const inLayer = quality.latest.filter((finding) => finding.layer === layer);
    const passed = inLayer.filter((finding) => finding.status === 'pass').length;
    return html`<li><strong>${layer}</strong> ${passed}/${inLayer.length} passed</li>`;
  });
  const latest = quality.trend.at(-1);
  return html`<section class="panel" id="failing-checks" aria-labelledby="failing-title">
<h2 id="failing-title">Failing checks <small>run <code title="${quality.latestRunId}">${shortId(quality.latestRunId)}</code>${latest?.checkedAt ? html`, ${formatTime(latest.checkedAt)}` : ''}</small></h2>
<ul class="inline-list">${layers}</ul>
${failing.length === 0 ? html`<p class="empty">Every check passed.</p>` : findingsTable(failing)}
</section>
<section class="panel" id="recurring" aria-labelledby="recurring-title">
<h2 id="recurring-title">Failing most often <small>across the runs in the chart</small></h2>
${
  quality.recurring.length === 0
    ? html`<p class="empty">No check failed in these runs.</p>`
    : html`<div class="table-wrap"><table class="grid-table"><thead><tr><th scope="col">Check</th><th scope="col">Severity</th><th scope="col" class="num">Runs failed</th><th scope="col">Last failed</th></tr></thead><tbody>${quality.recurring.map(
        (entry) =>
          html`<tr><td><code>${entry.checkId}</code></td><td>${severityBadge(entry.severity)}</td>${numberCell(`${entry.failedRuns} / ${quality.trend.length}`)}<td>${formatTime(entry.lastFailedAt)}</td></tr>`,
      )}</tbody></table></div>`
}
</section>`;
}

function plural(count: number, one: string, many: string): string {
  return count === 1 ? `the ${one}` : `the ${count} ${many}`;
}

function severityBadge(severity: string): Html {
  return badge(severity, severity === 'blocking' ? 'fail' : 'warn');
}

function findingsTable(findings: Finding[]): Html {
  const rows = findings.map(
    (finding) => html`<tr data-check="${finding.checkId}">
<td>${severityBadge(finding.severity)}</td>
<td>${badge(finding.status, stateTone(finding.status))}</td>
<td><code>${finding.checkId}</code></td>
<td>${finding.tableName}</td>
<td>${finding.checkType}</td>
${numberCell(formatInteger(finding.failingRows))}
<td class="small">${finding.details ?? ''}</td>
</tr>`,
  );
  return html`<div class="table-wrap"><table class="grid-table">
<thead><tr><th scope="col">Severity</th><th scope="col">Status</th><th scope="col">Check</th><th scope="col">Table</th><th scope="col">Type</th><th scope="col" class="num">Failing rows</th><th scope="col">Details</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}
