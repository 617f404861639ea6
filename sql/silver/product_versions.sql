-- grain: one row per distinct version of a product (product_id, updated_at), the input of the SCD2 dim_products
-- test: not_null(product_id, sku, unit_price, updated_at, version_number, _processed_at)
-- test: unique(product_id, updated_at)
-- test: unique(product_id, version_number)
-- A version extracted twice (same updated_at, two batches) counts once: the latest load of it wins.
with source as (
  select * from bronze.products
),

renamed as (
  select
    {{ cast_column(products.product_id) }} as product_id,
    trim(sku) as sku,
    trim(product_name) as product_name,
    lower(trim(category)) as category,
    trim(brand) as brand,
    {{ cast_column(products.unit_price) }} as unit_price,
    upper(trim(currency)) as currency,
    {{ cast_column(products.is_active) }} as is_active,
    {{ cast_column(products.created_at) }} as created_at,
    {{ cast_column(products.updated_at) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

deduplicated as (
  select
    renamed.*,
    row_number() over (
      partition by product_id, updated_at
      order by _ingested_at desc, _batch_id desc
    ) as load_rank
  from renamed
),

versions as (
  select
    deduplicated.*,
    cast(row_number() over (partition by product_id order by updated_at) as integer) as version_number
  from deduplicated
  where load_rank = 1
),

final as (
  select
    product_id,
    version_number,
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
  from versions
)

select * from final
