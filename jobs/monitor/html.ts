/**
 * HTML building for the monitor: every interpolated value is escaped unless it is already `Html`, so a check id,
 * a quarantine reason or a record value can never inject markup. There is no other way to build a page.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Text safe inside element content and inside quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (char) => ESCAPES[char] ?? char);
}

/** Markup that is already safe: built by `html` or `trustedHtml`. */
export class Html {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value);
}

/** Tagged template: `html\`<td>${text}</td>\`` escapes text; nested `html` results and arrays of them pass through. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new Html(out);
}

/** Markup produced by this module's own code (never data): the one escape hatch, kept for constants. */
export function trustedHtml(markup: string): Html {
  return new Html(markup);
}

export function joinHtml(parts: readonly HtmlValue[], separator = ''): Html {
  return new Html(parts.map(render).join(escapeHtml(separator)));
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting: one place, so tiles, tables and tests agree on how a number or a time is shown.

const INTEGER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const USD = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const PERCENT = new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 });

export function formatInteger(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? '–' : INTEGER.format(value);
}

export function formatUsd(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? '–' : USD.format(value);
}

export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '–' : PERCENT.format(value);
}

/** `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** `2026-10-01 12:34:56 UTC`: the monitor shows every time in UTC, like the warehouse computes dates. */
export function formatTime(value: Date | null | undefined): string {
  if (!value || Number.isNaN(value.getTime())) return '–';
  return `${value.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `just now`, `42 s ago`, `7 min ago`, `3 h ago`, `2 d ago` (or `in …` for a clock ahead of ours). */
export function formatAgo(value: Date | null | undefined, now: Date): string {
  if (!value || Number.isNaN(value.getTime())) return 'never';
  const ms = now.getTime() - value.getTime();
  const ahead = ms < 0;
  const seconds = Math.abs(ms) / 1000;
  let text: string;
  if (seconds < 5) return 'just now';
  if (seconds < 60) text = `${Math.round(seconds)} s`;
  else if (seconds < 3600) text = `${Math.round(seconds / 60)} min`;
  else if (seconds < 86_400 * 2) text = `${Math.round(seconds / 3600)} h`;
  else text = `${Math.round(seconds / 86_400)} d`;
  return ahead ? `in ${text}` : `${text} ago`;
}

/** The first 8 characters of a run id (a UUID): enough to tell runs apart on screen; the full id is in a title. */
export function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 8) : id;
}

/** An identifier usable in an element id or a CSS class: letters, digits and dashes only. */
export function slug(value: string): string {
  return value.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
