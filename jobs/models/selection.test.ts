import { describe, expect, it } from 'vitest';
import { downstreamOf, loadModels, parseModel } from './models.ts';
import { resolveSelector, SelectionError, selectModels } from './selection.ts';

const models = loadModels();
const allNames = models.map((model) => model.name);

/** What reads `name`, transitively, worked out by hand from the model files' dependencies. */
const readersOf = (name: string) => [...downstreamOf(models, [name])].sort();

describe('model selection (--select / --exclude)', () => {
  it('selects one model by its full or its bare name', () => {
    expect(selectModels(models, { select: ['silver.orders'] })).toEqual(['silver.orders']);
    expect(selectModels(models, { select: ['fact_orders'] })).toEqual(['gold.fact_orders']);
  });

  it('adds everything downstream with "+", across layers, in dependency order', () => {
    const selected = selectModels(models, { select: ['silver.fx_rates+'] });
    expect(selected[0]).toBe('silver.fx_rates');
    expect(selected).toContain('gold.fact_orders');
    expect(selected).toContain('gold.agg_daily_sales');
    expect(selected).not.toContain('gold.fact_sessions');
    expect(selected).not.toContain('silver.orders');
    expect([...selected].sort()).toEqual(['silver.fx_rates', ...readersOf('silver.fx_rates')].sort());
    // Dependency order: each model after everything it reads among the selected.
    for (const name of selected) {
      const model = models.find((candidate) => candidate.name === name);
      for (const dep of model?.dependsOn ?? [])
        if (selected.includes(dep)) expect(selected.indexOf(dep)).toBeLessThan(selected.indexOf(name));
    }
  });

  it('takes repeated flags and comma lists, and removes what --exclude names (with its downstream on "+")', () => {
    expect(selectModels(models, { select: ['silver.orders, silver.customers', 'dim_date'] })).toEqual(
      allNames.filter((name) => ['silver.orders', 'silver.customers', 'gold.dim_date'].includes(name)),
    );
    const withoutFacts = selectModels(models, { select: ['silver.orders+'], exclude: ['gold.fact_orders+'] });
    expect(withoutFacts).toContain('silver.orders');
    expect(withoutFacts).not.toContain('gold.fact_orders');
    for (const reader of readersOf('gold.fact_orders')) expect(withoutFacts).not.toContain(reader);
    const everythingBut = selectModels(models, { exclude: ['silver.clickstream_events'] });
    expect(everythingBut).toEqual(allNames.filter((name) => name !== 'silver.clickstream_events'));
  });

  it('names an unknown model with its near matches, and a malformed selector with the expected syntax', () => {
    expect(() => resolveSelector(models, 'silver.ordrs')).toThrow(
      /unknown model "silver\.ordrs"; did you mean silver\.orders/,
    );
    expect(() => resolveSelector(models, 'fact_order')).toThrow(/did you mean gold\.fact_orders/);
    expect(() => resolveSelector(models, 'bronze.orders')).toThrow(
      /bad model selector "bronze\.orders": expected <model>\[\+\]/,
    );
    expect(() => resolveSelector(models, 'silver.orders++')).toThrow(SelectionError);
    expect(() => selectModels(models, { select: ['orders', 'nope_nothing_like_it'] })).toThrow(
      /unknown model "nope_nothing_like_it" \(models are <layer>\.<name>/,
    );
  });

  it('refuses a bare name two layers share, and a selection that leaves nothing', () => {
    const twin = parseModel('sql/gold/orders.sql', '-- grain: one row per order\nselect 1 as id', 'gold');
    expect(() => resolveSelector([...models, twin], 'orders')).toThrow(
      /ambiguous model "orders": silver\.orders, gold\.orders; name its layer/,
    );
    expect(() => selectModels(models, { select: ['silver.orders'], exclude: ['orders'] })).toThrow(
      /the selection leaves no model to build/,
    );
  });
});
