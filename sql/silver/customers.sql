-- grain: one row per customer (its latest version by updated_at)
-- test: not_null(customer_id, customer_key, email_hash, country_code, signed_up_at, updated_at, _processed_at)
-- test: unique(customer_id)
-- test: unique(customer_key)
-- test[warn]: expression(email_masked like '_***@_%')
-- The latest of silver.customer_versions: its versions are numbered by updated_at, each the latest load of it
-- (_ingested_at, _batch_id), so the highest number is the latest updated_at, then the latest load.
-- test: not_null(is_deleted)
-- A hard-deleted customer stays, flagged (is_deleted, deleted_at): the flags of its latest version.
-- reads silver: customer_versions already cleans, deduplicates and numbers every loaded version; the current row is its last
with versions as (
  select * from silver.customer_versions
),

ranked as (
  select
    versions.*,
    row_number() over (partition by customer_id order by version_number desc) as version_rank
  from versions
),

final as (
  select
    customer_id,
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
    is_deleted,
    deleted_at,
    _batch_id,
    -- the winning bronze row's load time, so rebuilding from the same bronze gives identical rows
    _processed_at
  from ranked
  where version_rank = 1
)

select * from final
