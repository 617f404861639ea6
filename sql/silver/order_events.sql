-- grain: one row per order event (event_id), its first delivery; redeliveries are dropped
-- test: not_null(event_id, event_type, occurred_at, event_date, order_id, status, schema_version, is_late, _processed_at)
-- test: unique(event_id)
-- test: accepted_values(event_type; order_created, order_status_changed)
-- test: accepted_values(status; pending, shipped, delivered, cancelled)
-- test: expression(schema_version in (1, 2))
-- test: expression(schema_version = 1 or (order_total is not null and currency is not null))
-- test[warn]: relationships(order_id; silver.orders.order_id)
-- incremental: unique_key=event_id lookback=1 hour
-- Same delivery and lateness rules as silver.clickstream_events (see sql/README.md). schema_version is the contract
-- version the producer declared (absent: 1); version 2 carries the order's total and currency (docs/contracts.md).
with source as (
  select * from bronze.order_events
),

renamed as (
  select
    trim(event_id) as event_id,
    lower(trim(event_type)) as event_type,
    {{ cast_column(order_events.occurred_at) }} as occurred_at,
    {{ cast_column(order_events.order_id) }} as order_id,
    lower(trim(status)) as status,
    coalesce({{ cast_column(order_events.schema_version) }}, 1) as schema_version,
    {{ cast_column(order_events.order_total) }} as order_total,
    trim(currency) as currency,
    {{ cast_column(order_events._published_at) }} as published_at,
    {{ cast_column(order_events._stream_offset) }} as stream_offset,
    _batch_id,
    _source_file,
    _ingested_at
  from source
),

deliveries as (
  select
    renamed.*,
    row_number() over (
      partition by event_id
      order by _ingested_at, _batch_id, _source_file, published_at, stream_offset, occurred_at, event_type, status
    ) as delivery_rank
  from renamed
),

final as (
  select
    deliveries.event_id,
    deliveries.event_type,
    deliveries.occurred_at,
    deliveries.published_at,
    cast(deliveries.occurred_at as date) as event_date,
    deliveries.order_id,
    deliveries.status,
    deliveries.schema_version,
    deliveries.order_total,
    deliveries.currency,
    case
      when {{ seconds_between(deliveries.occurred_at, deliveries.published_at) }} > 86400 then true
      else false
    end as is_late,
    deliveries._batch_id,
    deliveries._ingested_at as _processed_at
  from deliveries
  where deliveries.delivery_rank = 1
)

select * from final
