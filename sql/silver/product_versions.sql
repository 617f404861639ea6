-- grain: one row per distinct version of a product (product_id, updated_at), the input of the SCD2 dim_products
-- test: not_null(product_id, sku, unit_price, updated_at, version_number, _processed_at)
-- test: unique(product_id, updated_at)
-- test: unique(product_id, version_number)
-- test: not_null(is_deleted)
-- test: expression(is_deleted = (deleted_at is not null))
-- test: expression(not is_deleted or version_number = latest_version_number)
-- deleted_at (and is_deleted) only on the latest version, when the key's latest tombstone is newer than it.
-- A version extracted twice (same updated_at, two batches) counts once: the latest load of it wins.
-- reads silver: deleted_keys holds the hard deletes the key reconciliation saw, for every table in one place
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

deletes as (
  select
    key_text,
    deleted_at
  from silver.deleted_keys
  where source = 'products'
),

flagged as (
  select
    versions.*,
    max(versions.version_number) over (partition by versions.product_id) as latest_version_number,
    deletes.deleted_at as tombstoned_at
  from versions
  left join deletes
    on deletes.key_text = cast(versions.product_id as varchar(20))
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
    latest_version_number,
    case
      when version_number = latest_version_number and tombstoned_at > updated_at then true else false
    end as is_deleted,
    case when version_number = latest_version_number and tombstoned_at > updated_at then tombstoned_at end
      as deleted_at,
    _batch_id,
    _ingested_at as _processed_at
  from flagged
)

select * from final
