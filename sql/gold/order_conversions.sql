-- grain: one row per order and session whose purchase event names that order (the order's converting sessions)
-- reads gold: fact_orders for the order's customer, the key gold.marketing_attribution recomputes by
-- test: not_null(order_id, session_id, customer_key)
-- test: unique(order_id, session_id)
-- incremental: unique_key=order_id,session_id recompute_key=order_id lookback=1 hour
-- The session's own customer may differ from the order's, or be unknown (an anonymous session): the order's
-- customer_key is carried here so that a model recomputing by customer finds an order's conversions by it.
with purchases as (
  select distinct
    session_id,
    order_id
  from silver.clickstream_events
  where event_type = 'purchase' and order_id is not null
),

final as (
  select
    purchases.order_id,
    purchases.session_id,
    orders.customer_key
  from purchases
  inner join gold.fact_orders as orders
    on purchases.order_id = orders.order_id
)

select * from final
