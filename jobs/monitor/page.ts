/** The page frame every monitor view shares: head, navigation, refresh status, and small shared pieces. */
import { formatTime, type Html, type HtmlValue, html } from './html.ts';
import type { Section } from './queries.ts';

export const PAGES = [
  { path: '/', title: 'Overview' },
  { path: '/runs', title: 'Run history' },
  { path: '/quality', title: 'Data quality' },
  { path: '/quarantine', title: 'Quarantine' },
  { path: '/lineage', title: 'Lineage' },
] as const;

export type PagePath = (typeof PAGES)[number]['path'];

export interface PageFrame {
  path: PagePath;
  /** When the data on the page was read. */
  generatedAt: Date;
  refreshSeconds: number;
  /** The warehouse, password redacted: says what the page is looking at. */
  warehouse: string;
}

export function renderPage(frame: PageFrame, content: Html): Html {
  const current = PAGES.find((page) => page.path === frame.path) ?? PAGES[0];
  const nav = PAGES.map(
    (page) =>
      html`<a href="${page.path}"${page.path === frame.path ? html` aria-current="page"` : ''}>${page.title}</a>`,
  );
  // Without JavaScript the page still reloads itself; the script swaps content in place instead (and pauses in
  // background tabs). Either way it is never older than a minute (the issue asks for 60 s at most).
  const fallbackRefresh = Math.min(60, frame.refreshSeconds * 2);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${current.title} · ecomm monitor</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/monitor.css">
<script src="/assets/monitor.js" defer></script>
<noscript><meta http-equiv="refresh" content="${fallbackRefresh}"></noscript>
</head>
<body data-refresh-seconds="${frame.refreshSeconds}">
<header class="top">
<a class="brand" href="/">ecomm <span>monitor</span></a>
<nav aria-label="Monitor pages">${nav}</nav>
<p class="refresh" id="refresh-status">Read <time id="refreshed-at" datetime="${frame.generatedAt.toISOString()}">${formatTime(frame.generatedAt)}</time> · refreshes every ${frame.refreshSeconds} s<span id="refresh-state"></span></p>
</header>
<main id="content" data-generated-at="${frame.generatedAt.toISOString()}">
${content}
</main>
<footer>Read-only view of <code>${frame.warehouse}</code> (schemas ops, gold and realtime). Times in UTC. JSON of every page under <code>/api/…</code>.</footer>
</body>
</html>
`;
}

export type Tone = 'ok' | 'warn' | 'fail' | 'idle';

export function badge(text: string, tone: Tone): Html {
  return html`<span class="badge badge-${tone}">${text}</span>`;
}

export function stateTone(state: string): Tone {
  if (state === 'succeeded' || state === 'ok' || state === 'pass') return 'ok';
  if (state === 'partial' || state === 'late' || state === 'warn' || state === 'skipped') return 'warn';
  if (state === 'failed' || state === 'fail' || state === 'blocking' || state === 'abandoned') return 'fail';
  return 'idle';
}

/** A section whose data could not be read says so in place; the rest of the page still renders. */
export function sectionBody<T>(section: Section<T>, render: (data: T) => HtmlValue): HtmlValue {
  if (section.ok) return render(section.data);
  const missing = /does not exist|relation .* not found/i.test(section.error);
  return html`<p class="notice notice-${missing ? 'idle' : 'fail'}">${missing ? 'Not built yet: ' : 'Could not read this section: '}${section.error}</p>`;
}

export function numberCell(value: HtmlValue, className = 'num'): Html {
  return html`<td class="${className}">${value}</td>`;
}
