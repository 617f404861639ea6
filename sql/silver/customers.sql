-- grain: one row per customer (its latest version by updated_at)
-- test: not_null(customer_id, email, country_code, signed_up_at, updated_at, _processed_at)
-- test: unique(customer_id)
-- test: expression(email = lower(trim(email)))
-- test[warn]: expression(email like '%_@_%')
-- Bronze keeps every extraction; the latest updated_at wins, then the latest load (_ingested_at, _batch_id).
with source as (
  select * from bronze.customers
),

renamed as (
  select
    cast(trim(customer_id) as integer) as customer_id,
    lower(trim(email)) as email,
    nullif(trim(phone), '') as phone,
    trim(first_name) as first_name,
    trim(last_name) as last_name,
    nullif(trim(street_address), '') as street_address,
    trim(city) as city,
    upper(trim(country_code)) as country_code,
    lower(trim(loyalty_tier)) as loyalty_tier,
    {{ to_timestamptz(signed_up_at) }} as signed_up_at,
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
      partition by customer_id
      order by updated_at desc, _ingested_at desc, _batch_id desc
    ) as version_rank
  from renamed
),

final as (
  select
    customer_id,
    email,
    phone,
    first_name,
    last_name,
    street_address,
    city,
    country_code,
    loyalty_tier,
    signed_up_at,
    created_at,
    updated_at,
    _batch_id,
    -- the winning bronze row's load time, so rebuilding from the same bronze gives identical rows
    _ingested_at as _processed_at
  from ranked
  where version_rank = 1
)

select * from final
