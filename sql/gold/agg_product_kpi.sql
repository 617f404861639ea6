-- grain: one row per order date (UTC), product and category (the product's category when ordered) with sales
-- reads gold: sales_analytics already resolves each line's product version as of the order time
-- test: not_null(order_date, product_id, category, units_sold, order_count, revenue_usd)
-- test: unique(order_date, product_id, category)
-- test: expression(units_sold > 0 and order_count > 0 and revenue_usd >= 0)
-- incremental: unique_key=order_date,product_id,category recompute_key=order_date
-- Cancelled orders excluded. revenue_usd = round(sum over the product's lines that day of
-- (quantity * unit_price - discount_amount) * the order's rate_to_usd, 2): rounded once per row, not per line.
with lines as (
  select * from gold.sales_analytics
  where not is_cancelled
),

final as (
  select
    order_date,
    product_id,
    coalesce(category, 'unknown') as category,
    cast(sum(quantity) as integer) as units_sold,
    cast(count(distinct order_id) as integer) as order_count,
    cast(round(sum(net_amount * fx_rate_to_usd), 2) as numeric(18, 2)) as revenue_usd
  from lines
  group by order_date, product_id, coalesce(category, 'unknown')
)

select * from final
