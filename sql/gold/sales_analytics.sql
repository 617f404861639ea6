-- grain: one row per order line, widened with its order, its product and its customer as they were when ordered
-- reads gold: a wide mart over the conformed facts and SCD2 dimensions, so it cannot disagree with them
-- test: not_null(order_item_id, order_id, order_date, product_id, customer_key, net_amount_usd, is_cancelled)
-- test: unique(order_item_id)
-- test: relationships(order_item_id; gold.fact_order_line_items.order_item_id)
-- test[warn]: not_null(category, country_code)
-- incremental: unique_key=order_item_id recompute_key=order_id whole_on=gold.dim_customers,gold.dim_products
-- Point-in-time joins: the dimension version valid at ordered_at. A version's first row is treated as valid since
-- forever, so an order placed before its customer's first extracted version still finds that version.
-- No PII: only customer_key and non-identifying customer attributes.
with line_items as (
  select * from gold.fact_order_line_items
),

orders as (
  select * from gold.fact_orders
),

customers as (
  select * from gold.dim_customers
),

products as (
  select * from gold.dim_products
),

final as (
  select
    line_items.order_item_id,
    line_items.order_id,
    line_items.ordered_at,
    line_items.order_date,
    line_items.status,
    line_items.channel,
    line_items.currency,
    line_items.is_cancelled,
    orders.item_count as order_item_count,
    orders.net_amount_usd as order_net_amount_usd,
    line_items.product_id,
    products.sku,
    products.product_name,
    products.category,
    products.brand,
    line_items.customer_key,
    customers.city as customer_city,
    customers.country_code,
    customers.loyalty_tier,
    customers.signed_up_at as customer_signed_up_at,
    line_items.quantity,
    line_items.unit_price,
    line_items.gross_amount,
    line_items.discount_amount,
    line_items.net_amount,
    line_items.fx_rate_to_usd,
    line_items.net_amount_usd
  from line_items
  inner join orders
    on line_items.order_id = orders.order_id
  left join customers
    on
      line_items.customer_key = customers.customer_key
      and (customers.version_number = 1 or line_items.ordered_at >= customers.valid_from)
      and (customers.valid_to is null or line_items.ordered_at < customers.valid_to)
  left join products
    on
      line_items.product_id = products.product_id
      and (products.version_number = 1 or line_items.ordered_at >= products.valid_from)
      and (products.valid_to is null or line_items.ordered_at < products.valid_to)
)

select * from final
