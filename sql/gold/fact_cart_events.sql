-- grain: one row per add_to_cart or remove_from_cart event (event_id)
-- test: not_null(event_id, event_type, occurred_at, event_date, session_id, quantity, quantity_delta)
-- test: unique(event_id)
-- test: accepted_values(event_type; add_to_cart, remove_from_cart)
-- test: expression(quantity > 0)
-- test[warn]: not_null(product_id)
-- incremental: unique_key=event_id lookback=1 hour
-- quantity_delta is +quantity for an add and -quantity for a removal, so sum(quantity_delta) is the net cart change.
-- A cart event without a quantity counts as one unit.
with events as (
  select * from silver.clickstream_events
),

cart_events as (
  select
    event_id,
    event_type,
    occurred_at,
    event_date,
    session_id,
    customer_key,
    device,
    product_id,
    coalesce(quantity, 1) as quantity,
    is_late
  from events
  where event_type in ('add_to_cart', 'remove_from_cart')
),

final as (
  select
    event_id,
    event_type,
    occurred_at,
    event_date,
    session_id,
    customer_key,
    device,
    product_id,
    quantity,
    case when event_type = 'add_to_cart' then quantity else -quantity end as quantity_delta,
    is_late
  from cart_events
)

select * from final
