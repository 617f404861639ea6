/**
 * The quarantine browser: what each source sent that failed its contract, grouped by reason, and sample rows with
 * PII masked (mask.ts) — the raw record never reaches the page.
 */
import { formatAgo, formatInteger, formatPercent, formatTime, type Html, html } from './html.ts';
import { type MaskedRecord, maskRecord, maskText } from './mask.ts';
import { numberCell, sectionBody } from './page.ts';
import type { Quarantine, QuarantineFilter, QuarantineSample } from './quarantine-queries.ts';
import type { Section } from './queries.ts';

export function renderQuarantinePage(quarantine: Section<Quarantine>, now: Date): Html {
  return html`${sectionBody(quarantine, (data) => renderQuarantine(data, now))}`;
}

export function quarantineLink(filter: QuarantineFilter): string {
  const params = new URLSearchParams();
  if (filter.source) params.set('source', filter.source);
  if (filter.reason) params.set('reason', filter.reason);
  const query = params.toString();
  return `/quarantine${query ? `?${query}` : ''}#samples`;
}

export function renderQuarantine(quarantine: Quarantine, now: Date): Html {
  const totalQuarantined = quarantine.sources.reduce((sum, source) => sum + source.rowsQuarantined, 0);
  const sources = quarantine.sources.map((source) => {
    const rate = source.rowsRaw > 0 ? source.rowsQuarantined / source.rowsRaw : null;
    return html`<tr data-source="${source.source}">
<th scope="row"><a href="${quarantineLink({ source: source.source })}">${source.source}</a></th>
${numberCell(formatInteger(source.rowsRaw))}${numberCell(formatInteger(source.rowsQuarantined))}
${numberCell(formatPercent(rate))}${numberCell(formatInteger(source.batches))}
</tr>`;
  });
  const groups = quarantine.groups.map((group) => {
    const selected = quarantine.filter.source === group.source && quarantine.filter.reason === group.reason;
    return html`<tr data-source="${group.source}" data-reason="${group.reason}"${selected ? html` class="selected"` : ''}>
<td>${group.source}</td>
<td><a href="${quarantineLink({ source: group.source, reason: group.reason })}">${group.reason}</a></td>
${numberCell(formatInteger(group.rows))}${numberCell(formatInteger(group.batches))}
<td>${group.lastSeenAt ? html`${formatTime(group.lastSeenAt)} <span class="muted small">(${formatAgo(group.lastSeenAt, now)})</span>` : '–'}</td>
</tr>`;
  });
  return html`<section class="panel" id="quarantine-sources" aria-labelledby="qs-title">
<h2 id="qs-title">Quarantined rows per source <small>${formatInteger(totalQuarantined)} rows in all</small></h2>
<div class="table-wrap"><table class="grid-table">
<thead><tr><th scope="col">Source</th><th scope="col" class="num">Rows received</th><th scope="col" class="num">Quarantined</th><th scope="col" class="num">Rate</th><th scope="col" class="num">Batches</th></tr></thead>
<tbody>${sources}</tbody></table></div>
</section>
<section class="panel" id="quarantine-reasons" aria-labelledby="qr-title">
<h2 id="qr-title">Reasons <small>most frequent first; pick one to see its rows</small></h2>
${
  groups.length === 0
    ? html`<p class="empty">Nothing is quarantined: every row passed its contract.</p>`
    : html`<div class="table-wrap"><table class="grid-table">
<thead><tr><th scope="col">Source</th><th scope="col">Reason</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Batches</th><th scope="col">Last seen</th></tr></thead>
<tbody>${groups}</tbody></table></div>`
}
</section>
${renderSamples(quarantine)}`;
}

function renderSamples(quarantine: Quarantine): Html {
  const { filter, samples } = quarantine;
  const scope =
    filter.source || filter.reason
      ? html`${filter.source ? html`source <strong>${filter.source}</strong>` : ''}${filter.source && filter.reason ? ', ' : ''}${filter.reason ? html`reason <strong>${filter.reason}</strong>` : ''} · <a href="/quarantine#samples">show all</a>`
      : html`latest across all sources`;
  const rows = samples.map((sample) => sampleRow(sample));
  return html`<section class="panel" id="samples" aria-labelledby="samples-title">
<h2 id="samples-title">Sample rows <small>${samples.length} shown, newest first; personal data masked</small></h2>
<p class="subtitle">${scope}</p>
${
  rows.length === 0
    ? html`<p class="empty">No quarantined rows match.</p>`
    : html`<div class="table-wrap"><table class="grid-table samples">
<colgroup><col class="col-source"><col class="col-batch"><col class="col-reasons"><col></colgroup>
<thead><tr><th scope="col">Source</th><th scope="col">Batch · row</th><th scope="col">Reasons</th><th scope="col">Record (masked)</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
}
</section>`;
}

function sampleRow(sample: QuarantineSample): Html {
  const masked = maskRecord(sample.source, sample.record);
  // Reasons quote the offending value only by field name, but mask them too: a reason must never leak PII.
  const reasons = sample.reasons.split('; ').map((reason) => maskText(reason));
  const fields = new Set(
    reasons
      .map((reason) => /^([A-Za-z0-9_]+):/.exec(reason)?.[1])
      .filter((field): field is string => field !== undefined),
  );
  return html`<tr data-source="${sample.source}" data-batch="${sample.batchId}" data-row="${sample.rowNumber}">
<td>${sample.source}</td>
<td class="small"><code>${sample.batchId}</code><div>row ${formatInteger(sample.rowNumber)}</div></td>
<td><ul class="reasons">${reasons.map((reason) => html`<li>${reason}</li>`)}</ul></td>
<td>${recordView(masked, fields)}</td>
</tr>`;
}

function recordView(record: MaskedRecord, highlight: Set<string>): Html {
  if (record.kind === 'text') {
    const where =
      record.partition !== undefined
        ? html`<div class="muted small">partition ${record.partition}, offset ${record.offset ?? '?'}: unreadable text</div>`
        : '';
    return html`${where}<code class="record-text">${truncate(record.text, 400)}</code>`;
  }
  return html`<dl class="record">${record.fields.map(
    ([name, value]) =>
      html`<div${highlight.has(name) ? html` class="bad-field"` : ''}><dt>${name}</dt><dd>${value === null ? html`<span class="null">null</span>` : truncate(String(value), 120)}</dd></div>`,
  )}</dl>`;
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
