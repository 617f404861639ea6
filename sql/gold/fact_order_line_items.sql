-- grain: one row per order line, with its order's date, status and FX rate
-- test: not_null(order_item_id, order_id, product_id, customer_key, ordered_at, order_date, status, currency)
-- test: not_null(quantity, unit_price, gross_amount, discount_amount, net_amount, is_cancelled)
-- test: unique(order_item_id)
-- test: relationships(order_id; gold.fact_orders.order_id)
-- test: not_null(fx_rate_to_usd, net_amount_usd)
-- test: expression(net_amount = gross_amount - discount_amount)
-- incremental: unique_key=order_item_id recompute_key=order_id lookback=1 hour whole_on=silver.fx_rates,silver.deleted_keys
-- Lines whose order is not (yet) in silver.orders are left out here; silver.order_items warns about them.
-- Rows deleted in the source are left out: a deleted line, every line of a deleted order, a deleted FX rate.
-- net_amount_usd is rounded per line, so a sum of lines can differ by cents from fact_orders.net_amount_usd,
-- which is rounded per order: order revenue always comes from fact_orders.
with order_items as (
  select * from silver.order_items
  where not is_deleted
),

orders as (
  select * from silver.orders
  where not is_deleted
),

fx_rates as (
  select * from silver.fx_rates
  where not is_deleted
),

lines as (
  select
    order_items.order_item_id,
    order_items.order_id,
    order_items.product_id,
    orders.customer_key,
    orders.ordered_at,
    orders.order_date,
    orders.status,
    orders.channel,
    orders.currency,
    order_items.quantity,
    order_items.unit_price,
    order_items.quantity * order_items.unit_price as gross_amount,
    order_items.discount_amount,
    order_items.quantity * order_items.unit_price - order_items.discount_amount as net_amount,
    coalesce(fx_rates.rate_to_usd, case when orders.currency = 'USD' then 1 end) as fx_rate_to_usd
  from order_items
  inner join orders
    on order_items.order_id = orders.order_id
  left join fx_rates
    on
      orders.currency = fx_rates.currency
      and orders.order_date = fx_rates.rate_date
),

final as (
  select
    order_item_id,
    order_id,
    product_id,
    customer_key,
    ordered_at,
    order_date,
    status,
    channel,
    currency,
    quantity,
    cast(unit_price as numeric(18, 2)) as unit_price,
    cast(gross_amount as numeric(18, 2)) as gross_amount,
    cast(discount_amount as numeric(18, 2)) as discount_amount,
    cast(net_amount as numeric(18, 2)) as net_amount,
    cast(fx_rate_to_usd as numeric(18, 8)) as fx_rate_to_usd,
    cast(round(net_amount * fx_rate_to_usd, 2) as numeric(18, 2)) as net_amount_usd,
    case when status = 'cancelled' then true else false end as is_cancelled
  from lines
)

select * from final
