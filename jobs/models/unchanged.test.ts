import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { buildModels, createBronzeTables, type ModelBuildResult } from './build.ts';
import { loadModels } from './models.ts';
import { loadBronzeFixtures } from './test-fixtures.ts';

/**
 * A model rebuilt whole is kept as published when nothing it reads or is checked against changed since its last
 * published build (jobs/models/unchanged.ts), and rebuilt as soon as something did: a bronze batch, an input model
 * published since, its own tests.
 */
const vars = {};
const models = loadModels();
let db: SqlDatabase;

beforeAll(async () => {
  db = await openPglite('pglite://memory');
  await createBronzeTables(db);
  await loadBronzeFixtures(db);
  await buildModels(db, models, { vars });
});

afterAll(async () => {
  await db.close();
});

const kept = (built: ModelBuildResult[]) =>
  built
    .filter((model) => model.unchanged)
    .map((model) => model.name)
    .sort();
const snapshot = async (table: string) =>
  (await db.query(`select cast(t as varchar(4000)) as row_text from ${table} t order by 1`)).map((row) =>
    String(row.row_text),
  );

describe('models whose inputs did not change', () => {
  it('are kept as published, with their rows counted, and rebuilt once a bronze batch they read arrives', async () => {
    const before = await snapshot('gold.dim_products');
    const again = await buildModels(db, models, { vars });
    expect(kept(again)).toEqual(
      expect.arrayContaining([
        'gold.dim_customers',
        'gold.dim_products',
        'silver.fx_rates',
        'silver.products',
      ]),
    );
    // Reading an incremental model (silver.orders) counts as changed: the stream service writes between builds.
    expect(kept(again)).not.toContain('gold.dim_date');
    expect(again.find((model) => model.name === 'gold.dim_products')?.rows).toBe(before.length);
    expect(await snapshot('gold.dim_products')).toEqual(before);

    await db.exec(
      `insert into bronze.products select product_id, sku, product_name || ' v2', category, brand, unit_price,
         currency, is_active, created_at, '2027-01-01T00:00:00Z', _rescued_data, 'unchanged-test-1', _source_file,
         _ingested_at + interval '1 hour' from bronze.products`,
    );
    const changed = await buildModels(db, models, { vars });
    expect(kept(changed)).not.toContain('silver.products');
    expect(kept(changed)).not.toContain('gold.dim_products');
    expect(kept(changed)).toContain('gold.dim_customers');
    expect(await snapshot('gold.dim_products')).not.toEqual(before);
  });

  it('rebuilds a model whose input was published without it (a build of only the input)', async () => {
    await db.exec(
      `insert into bronze.products select product_id, sku, product_name || ' v3', category, brand, unit_price,
         currency, is_active, created_at, '2027-02-01T00:00:00Z', _rescued_data, 'unchanged-test-2', _source_file,
         _ingested_at + interval '2 hours' from bronze.products where _batch_id = 'unchanged-test-1'`,
    );
    // Only silver.products is built: gold.dim_products, which reads it, keeps its older table.
    await buildModels(db, models, { vars, only: ['silver.products', 'silver.product_versions'] });
    const next = await buildModels(db, models, { vars });
    expect(kept(next)).not.toContain('gold.dim_products');
    const rebuilt = await snapshot('gold.dim_products');
    await buildModels(db, models, { vars, fullRefresh: true });
    expect(await snapshot('gold.dim_products')).toEqual(rebuilt);
    // With nothing changed since, it is kept again.
    expect(kept(await buildModels(db, models, { vars }))).toContain('gold.dim_products');
  });
});
