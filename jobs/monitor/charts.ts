/**
 * Inline SVG charts, drawn on the server: no chart library, no client bundle, nothing fetched. Colours come from
 * classes in the monitor's stylesheet (the page's CSP forbids inline styles).
 */
import { formatInteger, formatTime, type Html, html, shortId } from './html.ts';
import type { LineageGraph, LineageNode } from './lineage-graph.ts';
import type { QualityPoint } from './run-queries.ts';

const round = (value: number) => Math.round(value * 10) / 10;

/** A small trend line for a KPI tile: the values left to right, scaled to the box; the last point marked. */
export function sparkline(values: number[], label: string, width = 160, height = 36): Html {
  if (values.length < 2) return html``;
  const max = Math.max(...values);
  const min = Math.min(0, ...values);
  const span = max - min || 1;
  const x = (index: number) => round(2 + (index * (width - 4)) / (values.length - 1));
  const y = (value: number) => round(height - 3 - ((value - min) / span) * (height - 6));
  const points = values.map((value, index) => `${x(index)},${y(value)}`).join(' ');
  const last = values.length - 1;
  // Stretched to the tile's width (preserveAspectRatio none), so the stroke keeps its width by vector-effect.
  return html`<svg class="sparkline" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label="${label}"><polyline class="spark-line" vector-effect="non-scaling-stroke" points="${points}"/><line class="spark-last" vector-effect="non-scaling-stroke" x1="${x(last)}" x2="${x(last)}" y1="${y(values[last] ?? 0)}" y2="${height}"/></svg>`;
}

/**
 * Checks per run, stacked: passed, failed (warn), failed (blocking); runs oldest to newest, left to right. Every bar
 * carries a <title> with its numbers, so hovering a bar tells the whole story.
 */
export function qualityTrendChart(points: QualityPoint[], width = 960, height = 260): Html {
  if (points.length === 0) return html`<p class="empty">No data-quality checks recorded yet.</p>`;
  const margin = { top: 12, right: 12, bottom: 44, left: 44 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const totals = points.map((point) => point.passed + point.failedWarn + point.failedBlocking);
  const maxTotal = niceCeiling(Math.max(1, ...totals));
  const slot = plotWidth / Math.max(points.length, 8);
  const barWidth = round(Math.max(4, Math.min(36, slot * 0.7)));
  const scale = (value: number) => (value / maxTotal) * plotHeight;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((fraction) => Math.round(maxTotal * fraction));
  // Every n-th bar labelled, counted from the newest, so the latest run always has its time and labels never crowd.
  const labelEvery = Math.ceil(points.length / 8);
  const bars = points.map((point, index) => {
    const x = round(margin.left + index * slot + (slot - barWidth) / 2);
    let base = margin.top + plotHeight;
    const segment = (value: number, cls: string) => {
      const h = round(scale(value));
      base -= h;
      return value > 0
        ? html`<rect class="${cls}" x="${x}" y="${round(base)}" width="${barWidth}" height="${h}"/>`
        : html``;
    };
    const title = `run ${point.runId} at ${formatTime(point.checkedAt)}: ${point.passed} passed, ${point.failedWarn} failed (warn), ${point.failedBlocking} failed (blocking)`;
    const label =
      (points.length - 1 - index) % labelEvery === 0
        ? html`<text class="axis-label" x="${round(x + barWidth / 2)}" y="${height - margin.bottom + 16}" text-anchor="middle">${point.checkedAt ? point.checkedAt.toISOString().slice(5, 16).replace('T', ' ') : shortId(point.runId)}</text>`
        : html``;
    return html`<g class="bar" data-run-id="${point.runId}"><title>${title}</title>${segment(point.passed, 'bar-pass')}${segment(point.failedWarn, 'bar-warn')}${segment(point.failedBlocking, 'bar-fail')}</g>${label}`;
  });
  const grid = ticks.map((tick) => {
    const y = round(margin.top + plotHeight - scale(tick));
    return html`<line class="grid" x1="${margin.left}" x2="${width - margin.right}" y1="${y}" y2="${y}"/><text class="axis-label" x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${formatInteger(tick)}</text>`;
  });
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="Data-quality checks per run: passed, failed (warn), failed (blocking)">${grid}${bars}<text class="axis-title" x="${margin.left}" y="${height - 6}">run (UTC, oldest → newest)</text></svg>
<ul class="legend"><li><span class="swatch bar-pass"></span>passed</li><li><span class="swatch bar-warn"></span>failed (warn)</li><li><span class="swatch bar-fail"></span>failed (blocking)</li></ul>`;
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

const NODE = { width: 168, height: 26, columnGap: 40, rowGap: 10, top: 34, left: 8 };

/** The lineage DAG: a column per layer (and per dependency step inside silver and gold), edges as curves. */
export function lineageSvg(graph: LineageGraph): Html {
  const rows = Math.max(1, ...graph.nodes.map((node) => node.row + 1));
  const width = NODE.left * 2 + graph.columns.length * (NODE.width + NODE.columnGap) - NODE.columnGap;
  const height = NODE.top + rows * (NODE.height + NODE.rowGap) + 8;
  const x = (node: LineageNode) => NODE.left + node.column * (NODE.width + NODE.columnGap);
  const y = (node: LineageNode) => NODE.top + node.row * (NODE.height + NODE.rowGap);
  const byId = new Map(graph.nodes.map((node) => [node.id, node]));
  const headings = graph.columns.map(
    (column, index) =>
      html`<text class="lineage-heading" x="${NODE.left + index * (NODE.width + NODE.columnGap)}" y="16">${column.title}</text>`,
  );
  const edges = graph.edges.flatMap((edge) => {
    const from = byId.get(edge.from);
    const to = byId.get(edge.to);
    if (!from || !to) return [];
    const x1 = x(from) + NODE.width;
    const y1 = y(from) + NODE.height / 2;
    const x2 = x(to);
    const y2 = y(to) + NODE.height / 2;
    const bend = Math.max(24, (x2 - x1) / 2);
    return [
      html`<path class="edge edge-${from.layer}" d="M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}"><title>${edge.from} → ${edge.to}</title></path>`,
    ];
  });
  const nodes = graph.nodes.map(
    (node) =>
      html`<a href="#node-${anchorOf(node.id)}"><g class="node node-${node.layer}" data-node="${node.id}"><title>${node.id}: ${node.detail}</title><rect x="${x(node)}" y="${y(node)}" width="${NODE.width}" height="${NODE.height}" rx="5"/><text x="${x(node) + 8}" y="${y(node) + 17}">${truncate(node.label, 26)}</text></g></a>`,
  );
  return html`<svg class="lineage" viewBox="0 0 ${width} ${height}" data-width="${width}" role="img" aria-label="Lineage from source tables and topics through the lake, bronze and silver to gold">${headings}${edges}${nodes}</svg>`;
}

export function anchorOf(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]+/g, '-');
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
