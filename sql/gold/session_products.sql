-- grain: one row per session and product it viewed, added to its cart or purchased
-- reads gold: gold.session_order_products resolves a purchase naming an order to that order's products
-- test: not_null(session_id, product_id, product_view_count, add_to_cart_count, is_purchased)
-- test: unique(session_id, product_id)
-- test: expression(product_view_count >= 0 and add_to_cart_count >= 0)
-- incremental: unique_key=session_id,product_id recompute_key=session_id lookback=1 hour
-- The product funnel's session grain: gold.product_performance sums it per product. Kept incrementally by session,
-- so an hourly build reads the new sessions' events, not the whole clickstream.
-- is_purchased: the session has a purchase event naming the product, or naming an order that contains it.
with events as (
  select
    session_id,
    product_id,
    event_type
  from silver.clickstream_events
  where event_type in ('product_view', 'add_to_cart', 'purchase') and product_id is not null
),

named as (
  select
    session_id,
    product_id,
    sum(case when event_type = 'product_view' then 1 else 0 end) as product_view_count,
    sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_cart_count,
    max(case when event_type = 'purchase' then 1 else 0 end) as purchased
  from events
  group by session_id, product_id
),

ordered as (
  select
    session_id,
    product_id,
    0 as product_view_count,
    0 as add_to_cart_count,
    1 as purchased
  from gold.session_order_products
),

both_sources as (
  select * from named
  union all
  select * from ordered
),

final as (
  select
    session_id,
    product_id,
    cast(sum(product_view_count) as integer) as product_view_count,
    cast(sum(add_to_cart_count) as integer) as add_to_cart_count,
    max(purchased) = 1 as is_purchased
  from both_sources
  group by session_id, product_id
)

select * from final
