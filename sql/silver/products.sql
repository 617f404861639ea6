-- grain: one row per product (its latest version by updated_at)
-- test: not_null(product_id, sku, product_name, category, unit_price, currency, is_active, updated_at, _processed_at)
-- test: unique(product_id)
-- test: accepted_values(currency; USD, EUR, GBP, JPY, AUD)
-- test: expression(unit_price >= 0)
with source as (
  select * from bronze.products
),

renamed as (
  select
    cast(trim(product_id) as integer) as product_id,
    trim(sku) as sku,
    trim(product_name) as product_name,
    lower(trim(category)) as category,
    trim(brand) as brand,
    cast(trim(unit_price) as numeric(12, 2)) as unit_price,
    upper(trim(currency)) as currency,
    {{ to_boolean(is_active) }} as is_active,
    {{ to_timestamptz(created_at) }} as created_at,
    {{ to_timestamptz(updated_at) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

ranked as (
  select
    renamed.*,
    row_number() over (
      partition by product_id
      order by updated_at desc, _ingested_at desc, _batch_id desc
    ) as version_rank
  from renamed
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
    _batch_id,
    _ingested_at as _processed_at
  from ranked
  where version_rank = 1
)

select * from final
