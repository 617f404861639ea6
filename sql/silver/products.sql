-- grain: one row per product (its latest version by updated_at)
-- test: not_null(product_id, sku, product_name, category, unit_price, currency, is_active, updated_at, _processed_at)
-- test: unique(product_id)
-- test: accepted_values(currency; USD, EUR, GBP, JPY, AUD)
-- test: expression(unit_price >= 0)
-- The latest of silver.product_versions (numbered by updated_at, each the latest load of it).
-- test: not_null(is_deleted)
-- A hard-deleted product stays, flagged (is_deleted, deleted_at): the flags of its latest version.
-- reads silver: product_versions already cleans, deduplicates and numbers every loaded version; the current row is its last
with versions as (
  select * from silver.product_versions
),

ranked as (
  select
    versions.*,
    row_number() over (partition by product_id order by version_number desc) as version_rank
  from versions
),

final as (
  select
    product_id,
    sku,
    product_name,
    category,
    brand,
    unit_price,
    currency,
    is_active,
    created_at,
    updated_at,
    is_deleted,
    deleted_at,
    _batch_id,
    _processed_at
  from ranked
  where version_rank = 1
)

select * from final
