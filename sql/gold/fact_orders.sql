-- grain: one row per order (its current state), amounts in the order's currency and in USD
-- test: not_null(order_id, customer_key, ordered_at, order_date, status, channel, currency, is_cancelled)
-- test: not_null(item_count, gross_amount, discount_amount, net_amount, shipping_amount)
-- test: unique(order_id)
-- test: accepted_values(status; pending, shipped, delivered, cancelled)
-- test: not_null(fx_rate_to_usd, net_amount_usd, shipping_amount_usd)
-- test: expression(net_amount = gross_amount - discount_amount)
-- test: expression(net_amount >= 0 and shipping_amount >= 0)
-- test[warn]: expression(net_amount_usd < 100000)
-- incremental: unique_key=order_id lookback=1 hour whole_on=silver.fx_rates,silver.deleted_keys
-- Revenue rule (sql/README.md): net_amount_usd = round(sum over lines of (quantity * unit_price - discount_amount)
-- * rate_to_usd of (currency, order_date), 2). USD orders use rate 1 when no USD row exists in fx_rates.
-- Rows deleted in the source (silver's is_deleted) are left out: orders, their lines, and FX rates.
with orders as (
  select * from silver.orders
  where not is_deleted
),

order_items as (
  select * from silver.order_items
  where not is_deleted
),

fx_rates as (
  select * from silver.fx_rates
  where not is_deleted
),

order_totals as (
  select
    order_id,
    count(*) as line_count,
    sum(quantity) as item_count,
    sum(quantity * unit_price) as gross_amount,
    sum(discount_amount) as discount_amount,
    sum(quantity * unit_price - discount_amount) as net_amount
  from order_items
  group by order_id
),

orders_with_rates as (
  select
    orders.*,
    coalesce(fx_rates.rate_to_usd, case when orders.currency = 'USD' then 1 end) as fx_rate_to_usd
  from orders
  left join fx_rates
    on
      orders.currency = fx_rates.currency
      and orders.order_date = fx_rates.rate_date
),

final as (
  select
    orders_with_rates.order_id,
    orders_with_rates.customer_key,
    orders_with_rates.ordered_at,
    orders_with_rates.order_date,
    orders_with_rates.status,
    orders_with_rates.channel,
    orders_with_rates.currency,
    cast(coalesce(order_totals.line_count, 0) as integer) as line_count,
    cast(coalesce(order_totals.item_count, 0) as integer) as item_count,
    cast(coalesce(order_totals.gross_amount, 0) as numeric(18, 2)) as gross_amount,
    cast(coalesce(order_totals.discount_amount, 0) as numeric(18, 2)) as discount_amount,
    cast(coalesce(order_totals.net_amount, 0) as numeric(18, 2)) as net_amount,
    cast(orders_with_rates.shipping_amount as numeric(18, 2)) as shipping_amount,
    cast(orders_with_rates.fx_rate_to_usd as numeric(18, 8)) as fx_rate_to_usd,
    cast(
      round(coalesce(order_totals.net_amount, 0) * orders_with_rates.fx_rate_to_usd, 2) as numeric(18, 2)
    ) as net_amount_usd,
    cast(round(orders_with_rates.shipping_amount * orders_with_rates.fx_rate_to_usd, 2) as numeric(18, 2))
      as shipping_amount_usd,
    case when orders_with_rates.status = 'cancelled' then true else false end as is_cancelled
  from orders_with_rates
  left join order_totals
    on orders_with_rates.order_id = order_totals.order_id
)

select * from final
