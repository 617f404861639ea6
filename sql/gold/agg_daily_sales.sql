-- grain: one row per order date (UTC), every day from the first to the last order date, quiet days as zeros
-- reads gold: fact_orders holds the one revenue rule (per-order rounding, cancelled excluded) and dim_date the spine
-- test: not_null(order_date, order_count, item_count, revenue_usd, new_customers, cancelled_order_count)
-- test: unique(order_date)
-- test: expression(order_count >= 0 and revenue_usd >= 0 and new_customers >= 0)
-- test: expression((order_count = 0 and aov_usd is null) or aov_usd = round(revenue_usd / order_count, 2))
-- Cancelled orders count only in cancelled_order_count. new_customers: customers whose signed_up_at falls on the day.
-- Customers deleted in the source are not counted.
with days as (
  select date_day from gold.dim_date
),

orders as (
  select * from gold.fact_orders
),

customers as (
  select * from silver.customers
  where not is_deleted
),

daily_orders as (
  select
    order_date,
    sum(case when is_cancelled then 0 else 1 end) as order_count,
    sum(case when is_cancelled then 0 else item_count end) as item_count,
    sum(case when is_cancelled then 0 else net_amount_usd end) as revenue_usd,
    sum(case when is_cancelled then 1 else 0 end) as cancelled_order_count
  from orders
  group by order_date
),

daily_signups as (
  select
    cast(signed_up_at as date) as signup_date,
    count(*) as new_customers
  from customers
  group by cast(signed_up_at as date)
),

final as (
  select
    days.date_day as order_date,
    cast(coalesce(daily_orders.order_count, 0) as integer) as order_count,
    cast(coalesce(daily_orders.item_count, 0) as integer) as item_count,
    cast(coalesce(daily_orders.revenue_usd, 0) as numeric(18, 2)) as revenue_usd,
    cast(
      round(daily_orders.revenue_usd / nullif(daily_orders.order_count, 0), 2) as numeric(18, 2)
    ) as aov_usd,
    cast(coalesce(daily_signups.new_customers, 0) as integer) as new_customers,
    cast(coalesce(daily_orders.cancelled_order_count, 0) as integer) as cancelled_order_count
  from days
  left join daily_orders
    on days.date_day = daily_orders.order_date
  left join daily_signups
    on days.date_day = daily_signups.signup_date
)

select * from final
