-- grain: one row per distinct version of a customer (customer_id, updated_at), the input of the SCD2 dim_customers
-- test: not_null(customer_id, customer_key, email_hash, email_masked, updated_at, version_number, _processed_at)
-- test: unique(customer_id, updated_at)
-- test: unique(customer_id, version_number)
-- test: expression(version_number >= 1)
-- test: not_null(is_deleted)
-- test: expression(is_deleted = (deleted_at is not null))
-- test: expression(not is_deleted or version_number = latest_version_number)
-- deleted_at (and is_deleted) only on the latest version, when the key's latest tombstone is newer than it.
-- No personal data in clear: bronze has only the keyed hashes and masks validation derived (the clear values
-- are in the restricted pii.customers).
-- A version extracted twice (same updated_at, two batches) counts once: the latest load of it wins.
-- reads silver: deleted_keys holds the hard deletes the key reconciliation saw, for every table in one place
with source as (
  select * from bronze.customers
),

renamed as (
  select
    {{ cast_column(customers.customer_id) }} as customer_id,
    customer_key,
    email_hash,
    email_masked,
    phone_masked,
    street_address_hash,
    trim(city) as city,
    upper(trim(country_code)) as country_code,
    lower(trim(loyalty_tier)) as loyalty_tier,
    {{ cast_column(customers.signed_up_at) }} as signed_up_at,
    {{ cast_column(customers.created_at) }} as created_at,
    {{ cast_column(customers.updated_at) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

deduplicated as (
  select
    renamed.*,
    row_number() over (
      partition by customer_id, updated_at
      order by _ingested_at desc, _batch_id desc
    ) as load_rank
  from renamed
),

versions as (
  select
    deduplicated.*,
    cast(row_number() over (partition by customer_id order by updated_at) as integer) as version_number
  from deduplicated
  where load_rank = 1
),

deletes as (
  select
    key_text,
    deleted_at
  from silver.deleted_keys
  where source = 'customers'
),

flagged as (
  select
    versions.*,
    max(versions.version_number) over (partition by versions.customer_id) as latest_version_number,
    deletes.deleted_at as tombstoned_at
  from versions
  left join deletes
    on deletes.key_text = cast(versions.customer_id as varchar(20))
),

final as (
  select
    customer_id,
    version_number,
    customer_key,
    email_hash,
    email_masked,
    phone_masked,
    street_address_hash,
    city,
    country_code,
    loyalty_tier,
    signed_up_at,
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
