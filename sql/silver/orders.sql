-- grain: one row per order (its latest version by updated_at)
-- test: not_null(order_id, customer_id, customer_key, ordered_at, order_date, status, channel, currency, shipping_amount, _processed_at)
-- test: unique(order_id)
-- test: accepted_values(status; pending, shipped, delivered, cancelled)
-- test: accepted_values(channel; web, mobile, store, marketplace)
-- test: accepted_values(currency; USD, EUR, GBP, JPY, AUD)
-- test: expression(shipping_amount >= 0)
-- test[warn]: relationships(customer_id; silver.customers.customer_id)
-- test: not_null(is_deleted)
-- test: expression(is_deleted = (deleted_at is not null))
-- incremental: unique_key=order_id lookback=1 hour
-- A hard-deleted order stays, flagged: is_deleted when its latest tombstone is newer than its latest version.
-- An order is extracted again after every status change; the latest updated_at is its current state.
-- reads silver: deleted_keys holds the hard deletes the key reconciliation saw, for every table in one place
with source as (
  select * from bronze.orders
),

renamed as (
  select
    {{ cast_column(orders.order_id) }} as order_id,
    {{ cast_column(orders.customer_id) }} as customer_id,
    customer_key,
    {{ cast_column(orders.ordered_at) }} as ordered_at,
    lower(trim(status)) as status,
    lower(trim(channel)) as channel,
    upper(trim(currency)) as currency,
    {{ cast_column(orders.shipping_amount) }} as shipping_amount,
    {{ cast_column(orders.created_at) }} as created_at,
    {{ cast_column(orders.updated_at) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

ranked as (
  select
    renamed.*,
    row_number() over (
      partition by order_id
      order by updated_at desc, _ingested_at desc, _batch_id desc
    ) as version_rank
  from renamed
),

deletes as (
  select
    key_text,
    deleted_at
  from silver.deleted_keys
  where source = 'orders'
),

final as (
  select
    order_id,
    customer_id,
    customer_key,
    ordered_at,
    -- the session time zone is UTC, so this is the UTC calendar date (the day revenue is reported on)
    cast(ordered_at as date) as order_date,
    status,
    channel,
    currency,
    shipping_amount,
    created_at,
    updated_at,
    case when deletes.deleted_at > ranked.updated_at then true else false end as is_deleted,
    case when deletes.deleted_at > ranked.updated_at then deletes.deleted_at end as deleted_at,
    _batch_id,
    _ingested_at as _processed_at
  from ranked
  left join deletes
    on deletes.key_text = cast(ranked.order_id as varchar(20))
  where version_rank = 1
)

select * from final
