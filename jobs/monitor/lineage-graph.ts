/**
 * Lineage from source to gold, derived, never drawn by hand: the source tables and topics from the data
 * contracts, their lake path, the bronze table each loads into, then every model's `dependsOn` (read from the SQL
 * in sql/ by loadModels). A new model or source appears in the monitor by existing.
 */
import { DATA_CONTRACTS, type DataContract } from '../contracts/data-contracts.ts';
import type { Model } from '../models/models.ts';

export type LineageLayer = 'source' | 'lake' | 'bronze' | 'silver' | 'gold';

export interface LineageNode {
  id: string;
  label: string;
  layer: LineageLayer;
  /** One line about the node: the kind of source, the lake path, a model's grain. */
  detail: string;
  column: number;
  row: number;
}

export interface LineageEdge {
  from: string;
  to: string;
}

export interface LineageGraph {
  nodes: LineageNode[];
  edges: LineageEdge[];
  /** Column headings, left to right. */
  columns: { title: string; layer: LineageLayer }[];
}

export function buildLineage(
  models: readonly Model[],
  contracts: readonly DataContract[] = DATA_CONTRACTS,
): LineageGraph {
  const nodes: Omit<LineageNode, 'column' | 'row'>[] = [];
  const edges: LineageEdge[] = [];
  for (const contract of contracts) {
    const isTopic = contract.format === 'json';
    nodes.push({
      id: `source:${contract.source}`,
      label: contract.source,
      layer: 'source',
      detail: isTopic ? `event topic ${contract.source}` : `OLTP table ${contract.source}`,
    });
    nodes.push({
      id: `lake:${contract.source}`,
      label: `source=${contract.source}`,
      layer: 'lake',
      detail: `raw/ → staging/ (failing rows → quarantine/), ${isTopic ? 'NDJSON micro-batches' : 'CSV extracts'}`,
    });
    edges.push({ from: `source:${contract.source}`, to: `lake:${contract.source}` });
    const bronze = `bronze.${contract.table}`;
    if (!nodes.some((node) => node.id === bronze))
      nodes.push({
        id: bronze,
        label: contract.table,
        layer: 'bronze',
        detail: 'rows as received, all text',
      });
    edges.push({ from: `lake:${contract.source}`, to: bronze });
  }
  for (const model of models) {
    nodes.push({
      id: model.name,
      label: model.name.slice(model.layer.length + 1),
      layer: model.layer,
      detail: model.grain,
    });
    for (const dependency of model.dependsOn) edges.push({ from: dependency, to: model.name });
  }
  const known = new Set(nodes.map((node) => node.id));
  for (const edge of edges) {
    if (!known.has(edge.from)) {
      // A bronze table no contract feeds (should not happen; loadModels checks references): still draw it.
      const layer = edge.from.split('.')[0] as LineageLayer;
      nodes.push({ id: edge.from, label: edge.from, layer, detail: '' });
      known.add(edge.from);
    }
  }
  return layout(nodes, edges);
}

const LAYER_ORDER: LineageLayer[] = ['source', 'lake', 'bronze', 'silver', 'gold'];
const LAYER_TITLES: Record<LineageLayer, string> = {
  source: 'Sources',
  lake: 'Lake raw/ → staging/',
  bronze: 'Bronze',
  silver: 'Silver',
  gold: 'Gold',
};

/**
 * Columns: one per layer, and within silver and gold one more per step of same-layer dependency (gold marts that
 * read gold facts sit right of them). Rows: ordered by the mean row of each node's inputs, so edges mostly run
 * level and cross little.
 */
function layout(nodes: Omit<LineageNode, 'column' | 'row'>[], edges: LineageEdge[]): LineageGraph {
  const layerOf = new Map(nodes.map((node) => [node.id, node.layer]));
  const inputs = new Map<string, string[]>();
  for (const edge of edges) inputs.set(edge.to, [...(inputs.get(edge.to) ?? []), edge.from]);
  const depthMemo = new Map<string, number>();
  const depthInLayer = (id: string, seen: Set<string> = new Set()): number => {
    const memo = depthMemo.get(id);
    if (memo !== undefined) return memo;
    if (seen.has(id)) return 0; // a cycle: loadModels rejects them, but never loop here
    seen.add(id);
    const sameLayer = (inputs.get(id) ?? []).filter((input) => layerOf.get(input) === layerOf.get(id));
    const depth =
      sameLayer.length === 0 ? 0 : 1 + Math.max(...sameLayer.map((input) => depthInLayer(input, seen)));
    depthMemo.set(id, depth);
    return depth;
  };
  const columns: { title: string; layer: LineageLayer }[] = [];
  const firstColumn = new Map<LineageLayer, number>();
  for (const layer of LAYER_ORDER) {
    const inLayer = nodes.filter((node) => node.layer === layer);
    if (inLayer.length === 0) continue;
    const depth = Math.max(...inLayer.map((node) => depthInLayer(node.id)));
    firstColumn.set(layer, columns.length);
    for (let step = 0; step <= depth; step += 1)
      columns.push({
        title: step === 0 ? LAYER_TITLES[layer] : `${LAYER_TITLES[layer]} (step ${step + 1})`,
        layer,
      });
  }
  const placed = new Map<string, LineageNode>();
  for (let column = 0; column < columns.length; column += 1) {
    const inColumn = nodes.filter(
      (node) => (firstColumn.get(node.layer) ?? 0) + depthInLayer(node.id) === column,
    );
    const weight = (id: string) => {
      const rows = (inputs.get(id) ?? [])
        .map((input) => placed.get(input)?.row)
        .filter((row): row is number => row !== undefined);
      return rows.length === 0 ? Number.POSITIVE_INFINITY : rows.reduce((a, b) => a + b, 0) / rows.length;
    };
    inColumn
      .map((node) => ({ node, weight: weight(node.id) }))
      // Ties (sources, nodes whose inputs share a row) keep declaration order: contracts, then models topologically.
      .sort((a, b) => a.weight - b.weight || nodes.indexOf(a.node) - nodes.indexOf(b.node))
      .forEach(({ node }, row) => {
        placed.set(node.id, { ...node, column, row });
      });
  }
  return { nodes: [...placed.values()], edges, columns };
}

/** Everything upstream (inputs, transitively) or downstream of a node. */
export function connected(graph: LineageGraph, id: string, direction: 'up' | 'down'): string[] {
  const found = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    for (const edge of graph.edges) {
      const [near, far] = direction === 'up' ? [edge.to, edge.from] : [edge.from, edge.to];
      if (near === current && !found.has(far)) {
        found.add(far);
        stack.push(far);
      }
    }
  }
  return [...found].sort();
}
