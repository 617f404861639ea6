-- grain: one row per order date (UTC), every day from the first to the last order date: the sales KPI tiles
-- reads gold: fact_orders holds the one revenue rule (per-order rounding, cancelled excluded) and dim_date the spine
-- test: not_null(order_date, order_count, units_sold, revenue_usd, customer_count)
-- test: unique(order_date)
-- test: expression(order_count >= 0 and revenue_usd >= 0)
-- test: expression(customer_count <= order_count)
-- revenue_usd = sum of fact_orders.net_amount_usd (each order's lines in USD, rounded per order);
-- order_count = distinct non-cancelled orders; aov_usd = round(revenue_usd / order_count, 2).
with days as (
  select date_day from gold.dim_date
),

orders as (
  select * from gold.fact_orders
  where not is_cancelled
),

daily as (
  select
    order_date,
    count(distinct order_id) as order_count,
    count(distinct customer_key) as customer_count,
    sum(item_count) as units_sold,
    sum(net_amount_usd) as revenue_usd,
    sum(shipping_amount_usd) as shipping_usd
  from orders
  group by order_date
),

final as (
  select
    days.date_day as order_date,
    cast(coalesce(daily.order_count, 0) as integer) as order_count,
    cast(coalesce(daily.customer_count, 0) as integer) as customer_count,
    cast(coalesce(daily.units_sold, 0) as integer) as units_sold,
    cast(coalesce(daily.revenue_usd, 0) as numeric(18, 2)) as revenue_usd,
    cast(round(daily.revenue_usd / nullif(daily.order_count, 0), 2) as numeric(18, 2)) as aov_usd,
    cast(coalesce(daily.shipping_usd, 0) as numeric(18, 2)) as shipping_usd
  from days
  left join daily
    on days.date_day = daily.order_date
)

select * from final
