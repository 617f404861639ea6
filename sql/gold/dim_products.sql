-- grain: one row per product version (SCD type 2): valid from its updated_at until the next version's updated_at
-- test: not_null(product_sk, product_id, version_number, sku, product_name, category, unit_price, currency, valid_from, is_current)
-- test: unique(product_sk)
-- test: unique(product_id, version_number)
-- test: expression(valid_to is null or valid_to > valid_from)
-- test: expression(is_current = (valid_to is null))
with versions as (
  select * from silver.product_versions
),

ranged as (
  select
    versions.*,
    lead(updated_at) over (partition by product_id order by updated_at) as next_updated_at
  from versions
),

final as (
  select
    md5(cast(product_id as varchar(20)) || ':' || cast(version_number as varchar(20))) as product_sk,
    product_id,
    version_number,
    sku,
    product_name,
    category,
    brand,
    cast(unit_price as numeric(18, 2)) as unit_price,
    currency,
    is_active,
    updated_at as valid_from,
    next_updated_at as valid_to,
    case when next_updated_at is null then true else false end as is_current
  from ranged
)

select * from final
