-- grain: one row per customer version (SCD type 2): valid from its updated_at until the next version's updated_at
-- test: not_null(customer_sk, customer_id, customer_key, version_number, email_hash, email_masked, valid_from, is_current)
-- test: unique(customer_sk)
-- test: unique(customer_id, version_number)
-- test: expression(valid_to is null or valid_to > valid_from)
-- test: expression(is_current = (valid_to is null))
-- test: not_null(is_deleted)
-- test: expression(not (is_deleted and is_current))
-- A key deleted in the source has no current version: its last one is closed at the deletion (valid_to =
-- deleted_at, is_deleted), so point-in-time joins still find it for what happened before.
-- No PII in clear (invariant 4): email and street address only as keyed hashes, email and phone masked,
-- names dropped. customer_key joins facts to this dimension without exposing customer_id's source row.
-- The hashes and masks come from silver (derived while rows were validated): no model sees the PII key.
with versions as (
  select * from silver.customer_versions
),

ranged as (
  select
    versions.*,
    lead(updated_at) over (partition by customer_id order by updated_at) as next_updated_at
  from versions
),

final as (
  select
    md5(cast(customer_id as varchar(20)) || ':' || cast(version_number as varchar(20))) as customer_sk,
    customer_id,
    customer_key,
    version_number,
    email_hash,
    email_masked,
    phone_masked,
    street_address_hash,
    city,
    country_code,
    loyalty_tier,
    signed_up_at,
    updated_at as valid_from,
    coalesce(next_updated_at, deleted_at) as valid_to,
    case when coalesce(next_updated_at, deleted_at) is null then true else false end as is_current,
    is_deleted
  from ranged
)

select * from final
