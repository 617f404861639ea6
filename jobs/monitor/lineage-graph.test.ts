import { describe, expect, it } from 'vitest';
import { DATA_CONTRACTS } from '../contracts/data-contracts.ts';
import { loadModels } from '../models/models.ts';
import { lineageSvg } from './charts.ts';
import { buildLineage, connected } from './lineage-graph.ts';

describe('lineage from source to gold', () => {
  const models = loadModels();
  const graph = buildLineage(models);

  it('has a node for every source, its lake path, its bronze table and every model', () => {
    const ids = new Set(graph.nodes.map((node) => node.id));
    for (const contract of DATA_CONTRACTS) {
      expect(ids).toContain(`source:${contract.source}`);
      expect(ids).toContain(`lake:${contract.source}`);
      expect(ids).toContain(`bronze.${contract.table}`);
    }
    for (const model of models) expect(ids).toContain(model.name);
  });

  it('traces every gold table back to at least one source, through bronze and silver', () => {
    for (const model of models.filter((entry) => entry.layer === 'gold')) {
      const upstream = connected(graph, model.name, 'up');
      expect(
        upstream.some((id) => id.startsWith('source:')),
        model.name,
      ).toBe(true);
      expect(
        upstream.some((id) => id.startsWith('bronze.')),
        model.name,
      ).toBe(true);
      expect(
        upstream.some((id) => id.startsWith('silver.')),
        model.name,
      ).toBe(true);
    }
    expect(connected(graph, 'gold.agg_daily_sales', 'up')).toEqual(
      expect.arrayContaining(['source:orders', 'source:order_items', 'source:fx_rates', 'source:customers']),
    );
    expect(connected(graph, 'source:products', 'down')).toContain('gold.agg_product_kpi');
  });

  it('places every edge left to right: a node sits in a column after all its inputs', () => {
    const column = new Map(graph.nodes.map((node) => [node.id, node.column]));
    for (const edge of graph.edges) {
      expect(column.get(edge.from), `${edge.from} -> ${edge.to}`).toBeLessThan(column.get(edge.to) ?? -1);
    }
    expect(graph.columns.map((entry) => entry.layer).slice(0, 4)).toEqual([
      'source',
      'lake',
      'bronze',
      'silver',
    ]);
    const cells = new Set(graph.nodes.map((node) => `${node.column}:${node.row}`));
    expect(cells.size).toBe(graph.nodes.length);
  });

  it('draws one box per node and one curve per edge, with nothing fetched from elsewhere', () => {
    const svg = lineageSvg(graph).value;
    expect(svg.match(/<g class="node /g)).toHaveLength(graph.nodes.length);
    expect(svg.match(/<path class="edge /g)).toHaveLength(graph.edges.length);
    expect(svg).not.toMatch(/https?:/);
  });
});
