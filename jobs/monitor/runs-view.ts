/** Run history: the latest runs, each with its jobs, and every step with status, duration and rows. */
import {
  formatAgo,
  formatDuration,
  formatInteger,
  formatPercent,
  formatTime,
  type Html,
  html,
  shortId,
} from './html.ts';
import { badge, numberCell, sectionBody, stateTone } from './page.ts';
import type { Section } from './queries.ts';
import type { OperatorAction, RunSummary } from './run-queries.ts';

export function renderRunsPage(
  runs: Section<RunSummary[]>,
  actions: Section<OperatorAction[]>,
  now: Date,
): Html {
  return html`<section class="panel" id="runs" aria-labelledby="runs-title">
<h2 id="runs-title">Run history <small>${runs.ok ? (runs.data.length === 1 ? 'the latest run' : `the latest ${runs.data.length} runs, newest first`) : ''}</small></h2>
${sectionBody(runs, (data) => renderRunHistory(data, now))}
</section>
<section class="panel" id="operator-actions" aria-labelledby="operator-actions-title">
<h2 id="operator-actions-title">Operator actions <small>backfill, rebuild and batch retry/skip/reload, newest first (ops.operations, ops.batch_actions)</small></h2>
${sectionBody(actions, (data) => renderOperatorActions(data, now))}
</section>`;
}

export function renderOperatorActions(actions: OperatorAction[], now: Date): Html {
  if (actions.length === 0) return html`<p class="empty">No operator actions recorded yet.</p>`;
  const rows = actions.map(
    (action) => html`<tr data-action="${action.action}" data-status="${action.status}">
<td class="small nowrap">${action.at ? html`<time datetime="${action.at.toISOString()}">${formatTime(action.at)}</time> <span class="muted">(${formatAgo(action.at, now)})</span>` : '–'}</td>
<td>${action.action}</td><td>${badge(action.status, stateTone(action.status))}</td>
<td class="small">${action.actor ?? ''}</td><td class="small"><code>${action.target}</code></td>
<td class="small">${action.note ?? ''}</td><td class="small nowrap"><code title="${action.runId}">${shortId(action.runId)}</code></td>
</tr>`,
  );
  return html`<div class="table-wrap"><table class="grid-table operator-actions">
<thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Status</th><th scope="col">Who</th><th scope="col">On</th><th scope="col">Outcome or reason</th><th scope="col">Run</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

export function renderRunHistory(runs: RunSummary[], now: Date): Html {
  if (runs.length === 0) return html`<p class="empty">No runs recorded in ops.pipeline_runs yet.</p>`;
  const items = runs.map((run, index) => {
    const duration =
      run.startedAt && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null;
    const validation = run.validation;
    const passRate = validation && validation.rowsIn > 0 ? validation.rowsOut / validation.rowsIn : null;
    const checks = run.checks;
    return html`<details class="run" id="run-${run.runId}" data-run-id="${run.runId}"${index === 0 ? html` open` : ''}>
<summary>
<span class="run-state">${badge(run.state, stateTone(run.state))}</span>
<span class="run-id"><code title="${run.runId}">${shortId(run.runId)}</code></span>
<span class="run-time">${run.startedAt ? html`<time datetime="${run.startedAt.toISOString()}">${formatTime(run.startedAt)}</time> <span class="muted">(${formatAgo(run.startedAt, now)})</span>` : '–'}</span>
<span class="run-duration">${formatDuration(duration)}</span>
<span class="run-jobs">${run.jobs.map((job) => html`<span class="chip" data-job="${job}">${job}</span>`)}</span>
<span class="run-facts">${validation ? html`<span title="validate: rows passing their contract / rows checked">validated ${formatInteger(validation.rowsIn)} · pass ${formatPercent(passRate)} · quarantined ${formatInteger(validation.rowsQuarantined)}</span>` : ''}${checks ? html`${validation ? ' · ' : ''}<span title="data-quality checks of this run">checks: ${checks.passed} passed${checks.failedWarn > 0 ? html` · <span class="warn-text">${checks.failedWarn} warn</span>` : ''}${checks.failedBlocking > 0 ? html` · <span class="fail-text">${checks.failedBlocking} blocking</span>` : ''}</span>` : ''}</span>
</summary>
${renderSteps(run)}
</details>`;
  });
  return html`<div class="runs">${items}</div>`;
}

function renderSteps(run: RunSummary): Html {
  const rows = run.steps.map(
    (step) => html`<tr class="step-${step.status}">
<td class="nowrap">${step.job}</td><td>${step.step}</td><td class="small nowrap"><code>${step.batchId ?? ''}</code></td>
<td>${badge(step.status, stateTone(step.status))}</td>
<td class="small nowrap">${step.startedAt ? step.startedAt.toISOString().slice(11, 23) : '–'}</td>
${numberCell(formatDuration(step.durationMs))}
${numberCell(formatInteger(step.rowsIn))}
${numberCell(formatInteger(step.rowsOut))}
${numberCell(formatInteger(step.rowsQuarantined))}
<td class="small">${step.message ?? ''}</td>
</tr>`,
  );
  return html`<div class="table-wrap"><table class="grid-table steps">
<thead><tr><th scope="col">Job</th><th scope="col">Step</th><th scope="col">Batch</th><th scope="col">Status</th><th scope="col">Started (UTC)</th><th scope="col" class="num">Duration</th><th scope="col" class="num">Rows in</th><th scope="col" class="num">Rows out</th><th scope="col" class="num">Quarantined</th><th scope="col">Message</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}
