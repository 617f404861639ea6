-- grain: one row per clickstream event (event_id), its first delivery; redeliveries are dropped
-- test: not_null(event_id, event_type, occurred_at, event_date, session_id, device, is_late, _processed_at)
-- test: unique(event_id)
-- test: accepted_values(event_type; page_view, product_view, add_to_cart, remove_from_cart, checkout_started, purchase)
-- test: expression(quantity is null or quantity > 0)
-- test[warn]: expression(event_type not in ('product_view', 'add_to_cart', 'remove_from_cart') or product_id is not null)
-- incremental: unique_key=event_id lookback=1 hour
-- Kafka delivers at least once, so an event_id can reach bronze twice. The first delivery wins: earliest
-- _ingested_at, then _batch_id, then _source_file, then (two deliveries in one batch) the earlier publish time and
-- offset: a total order, so a rebuild, and the stream service's incremental update, pick the same row.
-- utm_*: the landing page's campaign parameters, lower-cased like channel (links spell `Google` and `google`);
-- null on the session's other events and for direct traffic.
-- is_late: the event occurred more than 1 day before it was published to the stream (the Kafka record timestamp,
-- staged as _published_at): event time far behind processing time. It depends only on the message, so reloading or
-- replaying a batch gives the same flag, and a backfill of old but punctual events is not flagged.
with source as (
  select * from bronze.clickstream_events
),

renamed as (
  select
    trim(event_id) as event_id,
    lower(trim(event_type)) as event_type,
    {{ cast_column(clickstream_events.occurred_at) }} as occurred_at,
    trim(session_id) as session_id,
    {{ cast_column(clickstream_events.customer_id) }} as customer_id,
    customer_key,
    lower(trim(device)) as device,
    nullif(trim(page_url), '') as page_url,
    {{ cast_column(clickstream_events.product_id) }} as product_id,
    {{ cast_column(clickstream_events.quantity) }} as quantity,
    {{ cast_column(clickstream_events.order_id) }} as order_id,
    lower(nullif(trim(utm_source), '')) as utm_source,
    lower(nullif(trim(utm_medium), '')) as utm_medium,
    lower(nullif(trim(utm_campaign), '')) as utm_campaign,
    {{ cast_column(clickstream_events._published_at) }} as published_at,
    {{ cast_column(clickstream_events._stream_offset) }} as stream_offset,
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
      order by _ingested_at, _batch_id, _source_file, published_at, stream_offset, occurred_at, event_type, session_id
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
    deliveries.session_id,
    deliveries.customer_id,
    deliveries.customer_key,
    deliveries.device,
    deliveries.page_url,
    deliveries.product_id,
    deliveries.quantity,
    deliveries.order_id,
    deliveries.utm_source,
    deliveries.utm_medium,
    deliveries.utm_campaign,
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
