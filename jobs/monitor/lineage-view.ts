/** Lineage: the graph from source tables and topics to gold, then each table's upstream and downstream in text. */
import { anchorOf, lineageSvg } from './charts.ts';
import { type Html, html } from './html.ts';
import { connected, type LineageGraph, type LineageLayer } from './lineage-graph.ts';
import { sectionBody } from './page.ts';
import type { Section } from './queries.ts';

export function renderLineagePage(graph: Section<LineageGraph>): Html {
  return html`<section class="panel" id="lineage" aria-labelledby="lineage-title">
<h2 id="lineage-title">Lineage <small>source → lake → bronze → silver → gold, derived from the contracts and the models in sql/</small></h2>
${sectionBody(graph, (data) => html`<div class="lineage-wrap">${lineageSvg(data)}</div>`)}
</section>
<section class="panel" id="lineage-tables" aria-labelledby="lineage-tables-title">
<h2 id="lineage-tables-title">Warehouse tables and what feeds them</h2>
${sectionBody(graph, (data) => lineageTable(data))}
</section>`;
}

/** Warehouse tables only: sources and lake paths appear in their columns of the graph and as "sources upstream". */
const LAYERS: LineageLayer[] = ['gold', 'silver', 'bronze'];

function lineageTable(graph: LineageGraph): Html {
  // Warehouse tables by their full name; sources and lake paths by their label.
  const label = new Map(
    graph.nodes.map((node) => [node.id, LAYERS.includes(node.layer) ? node.id : node.label]),
  );
  const sorted = graph.nodes
    .filter((node) => LAYERS.includes(node.layer))
    .sort((a, b) => LAYERS.indexOf(a.layer) - LAYERS.indexOf(b.layer) || a.id.localeCompare(b.id));
  const rows = sorted.map((node) => {
    const inputs = graph.edges.filter((edge) => edge.to === node.id).map((edge) => edge.from);
    const sources = connected(graph, node.id, 'up').filter((id) => id.startsWith('source:'));
    const feeds = connected(graph, node.id, 'down').filter((id) => id.startsWith('gold.'));
    const list = (ids: string[]) =>
      ids.length === 0
        ? '–'
        : ids.map(
            (id, index) =>
              html`${index > 0 ? ', ' : ''}<a href="#node-${anchorOf(id)}">${label.get(id) ?? id}</a>`,
          );
    return html`<tr id="node-${anchorOf(node.id)}" data-node="${node.id}">
<td><span class="layer layer-${node.layer}">${node.layer}</span></td>
<th scope="row"><code>${node.id}</code><div class="muted small">${node.detail}</div></th>
<td class="small">${list(inputs)}</td>
<td class="small">${list(sources)}</td>
<td class="small">${list(feeds)}</td>
</tr>`;
  });
  return html`<div class="table-wrap"><table class="grid-table lineage-table">
<thead><tr><th scope="col">Layer</th><th scope="col">Table</th><th scope="col">Reads</th><th scope="col">Sources upstream</th><th scope="col">Gold downstream</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}
