/**
 * The monitor's static files, served from its own origin: one stylesheet, one small script that refreshes the page
 * in place, and an icon. No CDN, no fonts to fetch, no bundler: the monitor works on a machine with no internet.
 */

export interface Asset {
  contentType: string;
  body: string;
}

const CSS = `
:root {
  --bg: #f4f6f9; --panel: #ffffff; --ink: #1d2433; --muted: #667085; --line: #e3e7ee; --accent: #2f5bd3;
  --ok: #157f3b; --ok-bg: #e3f5e9; --warn: #a15c00; --warn-bg: #fdf0d9; --fail: #b42318; --fail-bg: #fde8e6;
  --idle: #555f70; --idle-bg: #eceff3;
  --source: #6b4fbb; --lake: #0e7490; --bronze: #9a5b13; --silver: #5f6b7a; --gold: #a37b00;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 14px; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; line-height: 1.45; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 24px; padding: 10px 24px;
  background: #172033; color: #e8ecf4; position: sticky; top: 0; z-index: 2; }
.brand { color: #fff; font-weight: 700; font-size: 16px; letter-spacing: 0.2px; }
.brand span { color: #9fb6ff; font-weight: 500; }
.top nav { display: flex; gap: 4px; flex-wrap: wrap; }
.top nav a { color: #c9d3e6; padding: 6px 10px; border-radius: 6px; }
.top nav a:hover { background: #24304a; text-decoration: none; }
.top nav a[aria-current="page"] { background: #2f3d5c; color: #fff; }
.refresh { margin: 0 0 0 auto; color: #aab6cc; font-size: 12px; }
body.stale .refresh { color: #ffb4a8; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 24px 8px; }
footer { max-width: 1320px; margin: 0 auto; padding: 8px 24px 24px; color: var(--muted); font-size: 12px; }
.panel, .lineage-table tr, .run { scroll-margin-top: 64px; }
.grid-table th .muted { font-weight: 400; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px;
  margin-bottom: 18px; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04); }
.panel h2 { margin: 0 0 10px; font-size: 16px; }
.panel h2 small { color: var(--muted); font-weight: 400; font-size: 12px; margin-left: 6px; }
.subtitle { margin: -4px 0 12px; color: var(--muted); }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.empty { color: var(--muted); font-style: italic; margin: 4px 0; }
.notice { padding: 8px 12px; border-radius: 6px; margin: 4px 0; }
.notice-idle { background: var(--idle-bg); color: var(--idle); }
.notice-fail { background: var(--fail-bg); color: var(--fail); }
.error { color: var(--fail); }
.warn-text { color: var(--warn); }
.fail-text { color: var(--fail); font-weight: 600; }
.tiles { display: grid; grid-template-columns: repeat(4, minmax(170px, 1fr)) minmax(260px, 1.6fr); gap: 12px; }
@media (max-width: 1100px) { .tiles { grid-template-columns: repeat(2, minmax(170px, 1fr)); } }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fbfcfe; min-height: 128px; }
.tile-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.4px; }
.tile-label small { text-transform: none; letter-spacing: 0; margin-left: 4px; }
.tile-value { font-size: 26px; font-weight: 700; margin: 4px 0 2px; font-variant-numeric: tabular-nums; }
.delta { display: block; font-size: 12px; color: var(--muted); }
.delta-up { color: var(--ok); }
.delta-down { color: var(--fail); }
.sparkline { display: block; margin-top: 8px; width: 100%; height: 36px; }
.spark-line { fill: none; stroke: var(--accent); stroke-width: 1.6; }
.spark-last { stroke: var(--accent); stroke-width: 1; stroke-dasharray: 2 2; opacity: 0.6; }
.categories { list-style: none; margin: 6px 0 0; padding: 0; }
.categories li { display: grid; grid-template-columns: 1fr auto; gap: 0 8px; margin-bottom: 4px; }
.categories meter { grid-column: 1 / -1; width: 100%; height: 6px; }
.cat-value { font-variant-numeric: tabular-nums; font-weight: 600; }
.table-wrap { overflow-x: auto; }
.grid-table { width: 100%; border-collapse: collapse; }
.grid-table th, .grid-table td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
.grid-table thead th { font-size: 12px; color: var(--muted); font-weight: 600; background: #f8f9fb; }
.grid-table tbody th { font-weight: 600; }
.grid-table tbody tr:hover { background: #f7f9ff; }
.grid-table .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.grid-table tr.selected { background: #eef3ff; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge-ok { background: var(--ok-bg); color: var(--ok); }
.badge-warn { background: var(--warn-bg); color: var(--warn); }
.badge-fail { background: var(--fail-bg); color: var(--fail); }
.badge-idle { background: var(--idle-bg); color: var(--idle); }
.runs { display: flex; flex-direction: column; gap: 8px; }
.run { border: 1px solid var(--line); border-radius: 8px; background: #fbfcfe; }
.run > summary { display: grid; grid-template-columns: 96px 84px 300px 90px 1fr; gap: 4px 12px; align-items: center;
  padding: 8px 12px; cursor: pointer; list-style: none; }
.run > summary::-webkit-details-marker { display: none; }
.run > summary::before { content: "▸"; position: absolute; margin-left: -10px; color: var(--muted); }
.run[open] > summary::before { content: "▾"; }
.run-facts { grid-column: 1 / -1; color: var(--muted); font-size: 12px; }
.run .table-wrap { padding: 0 12px 10px; }
.chip { display: inline-block; padding: 1px 8px; margin: 1px 4px 1px 0; border-radius: 4px; background: #eef1f6; font-size: 12px; }
.steps td, .steps th { font-size: 12px; padding: 4px 8px; }
.step-failed { background: var(--fail-bg); }
.chart { width: 100%; height: auto; max-height: 300px; }
.grid { stroke: var(--line); stroke-width: 1; }
.axis-label { fill: var(--muted); font-size: 11px; }
.axis-title { fill: var(--muted); font-size: 11px; }
.bar-pass { fill: #4caf7a; background: #4caf7a; }
.bar-warn { fill: #f0a732; background: #f0a732; }
.bar-fail { fill: #d9473b; background: #d9473b; }
.bar:hover rect { opacity: 0.8; }
.legend { list-style: none; display: flex; gap: 16px; padding: 0; margin: 4px 0 0; color: var(--muted); font-size: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.inline-list { list-style: none; display: flex; gap: 18px; padding: 0; margin: 0 0 10px; }
.reasons { margin: 0; padding-left: 16px; }
.record { display: flex; flex-wrap: wrap; gap: 2px 12px; margin: 0; font-size: 12px; }
.record div { display: flex; gap: 4px; }
.record dt { color: var(--muted); }
.record dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.record .bad-field dd { color: var(--fail); font-weight: 700; }
.record .null { color: var(--muted); font-style: italic; }
.record-text { display: block; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
.samples { table-layout: fixed; }
.samples .col-source { width: 110px; }
.samples .col-batch { width: 230px; }
.samples .col-reasons { width: 300px; }
.nowrap { white-space: nowrap; }
.lineage-wrap { overflow-x: auto; padding-bottom: 6px; }
.lineage { display: block; width: 100%; min-width: 1100px; height: auto; }
.lineage-heading { fill: var(--muted); font-size: 12px; font-weight: 600; }
.edge { fill: none; stroke: #b8c0cc; stroke-width: 1.2; }
.edge:hover { stroke: var(--accent); stroke-width: 2; }
.node rect { fill: #fff; stroke-width: 1.4; }
.node text { font-size: 12px; fill: var(--ink); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.node:hover rect { fill: #eef3ff; }
.node-source rect { stroke: var(--source); }
.node-lake rect { stroke: var(--lake); }
.node-bronze rect { stroke: var(--bronze); }
.node-silver rect { stroke: var(--silver); }
.node-gold rect { stroke: var(--gold); fill: #fffbeb; }
.layer { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11px; color: #fff; }
.layer-source { background: var(--source); }
.layer-lake { background: var(--lake); }
.layer-bronze { background: var(--bronze); }
.layer-silver { background: var(--silver); }
.layer-gold { background: var(--gold); }
.lineage-table tr:target { background: #fff7d6; }
`;

/**
 * Refreshes the page in place every `data-refresh-seconds` (30 by default, never more than 60): fetches the same URL,
 * swaps <main> and the "read at" time, keeps open <details> open. Pauses while the tab is hidden and catches up
 * when it shows again; a failed refresh is shown in the header and retried. Without JavaScript a <noscript> meta
 * refresh reloads the page instead.
 */
const JS = `'use strict';
(function () {
  var body = document.body;
  var seconds = Math.min(60, Number(body.getAttribute('data-refresh-seconds')) || 30);
  var timer = null;
  var busy = false;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, seconds * 1000);
  }
  function openState() {
    var state = {};
    document.querySelectorAll('details[id]').forEach(function (d) { state[d.id] = d.open; });
    return state;
  }
  async function refresh() {
    if (busy) return;
    if (document.hidden) { schedule(); return; }
    busy = true;
    var status = document.getElementById('refresh-state');
    try {
      var response = await fetch(location.pathname + location.search, { cache: 'no-store', headers: { 'x-monitor-refresh': '1' } });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      var next = new DOMParser().parseFromString(await response.text(), 'text/html');
      var content = next.getElementById('content');
      var stamp = next.getElementById('refreshed-at');
      if (!content || !stamp) throw new Error('unexpected page');
      var state = openState();
      document.getElementById('content').replaceWith(document.adoptNode(content));
      document.getElementById('refreshed-at').replaceWith(document.adoptNode(stamp));
      document.querySelectorAll('details[id]').forEach(function (d) {
        if (Object.prototype.hasOwnProperty.call(state, d.id)) d.open = state[d.id];
      });
      if (status) status.textContent = '';
      body.classList.remove('stale');
    } catch (error) {
      if (status) status.textContent = ' · refresh failed (' + (error && error.message ? error.message : error) + '), retrying';
      body.classList.add('stale');
    } finally {
      busy = false;
      schedule();
    }
  }
  document.addEventListener('visibilitychange', function () { if (!document.hidden) refresh(); });
  schedule();
})();
`;

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#172033"/><path d="M6 22l6-7 5 4 9-11" fill="none" stroke="#9fb6ff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

export const ASSETS: Record<string, Asset> = {
  '/assets/monitor.css': { contentType: 'text/css; charset=utf-8', body: CSS },
  '/assets/monitor.js': { contentType: 'text/javascript; charset=utf-8', body: JS },
  '/assets/favicon.svg': { contentType: 'image/svg+xml', body: FAVICON },
};
