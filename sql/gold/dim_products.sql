-- grain: one row per product version (SCD type 2): valid from its updated_at until the next version's updated_at
-- test: not_null(product_sk, product_id, version_number, sku, product_name, category, unit_price, currency, valid_from, is_current)
-- test: unique(product_sk)
-- test: unique(product_id, version_number)
-- test: expression(valid_to is null or valid_to > valid_from)
-- test: expression(is_current = (valid_to is null))
-- test: not_null(is_deleted)
-- test: expression(not (is_deleted and is_current))
-- A key deleted in the source has no current version: its last one is closed at the deletion (valid_to =
-- deleted_at, is_deleted), so point-in-time joins still find it for what happened before.
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
    coalesce(next_updated_at, deleted_at) as valid_to,
    case when coalesce(next_updated_at, deleted_at) is null then true else false end as is_current,
    is_deleted
  from ranged
)

select * from final
