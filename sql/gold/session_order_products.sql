-- grain: one row per session, order its purchase event names and product on that order's lines
-- reads gold: an order's lines as gold.fact_order_line_items keeps them (deleted lines and orders left out)
-- test: not_null(session_id, order_id, product_id)
-- test: unique(order_id, session_id, product_id)
-- incremental: unique_key=order_id,session_id,product_id recompute_key=order_id lookback=1 hour
-- A purchase event may name its order instead of a product: this resolves it to the order's products once, by
-- order, so gold.session_products recomputes only the sessions whose orders changed, not every purchase.
with purchases as (
  select distinct
    session_id,
    order_id
  from silver.clickstream_events
  where event_type = 'purchase' and order_id is not null
),

order_products as (
  select distinct
    order_id,
    product_id
  from gold.fact_order_line_items
),

final as (
  select
    purchases.session_id,
    purchases.order_id,
    order_products.product_id
  from purchases
  inner join order_products
    on purchases.order_id = order_products.order_id
)

select * from final
