-- grain: one row per product (its current version): lifetime sales and the product-view → purchase funnel
-- reads gold: current rows of dim_products, the lines of fact_order_line_items (the one revenue rule) and the
-- session funnel of session_products
-- test: not_null(product_id, sku, category, units_sold, order_count, revenue_usd, view_session_count, purchase_session_count)
-- test: unique(product_id)
-- test: expression(purchase_session_count <= view_session_count)
-- test: expression(view_to_purchase_rate is null or (view_to_purchase_rate >= 0 and view_to_purchase_rate <= 1))
-- Sales exclude cancelled orders; revenue_usd = round(sum of line net amount * the order's rate_to_usd, 2).
-- Funnel: view_session_count = sessions with a product_view of the product; purchase_session_count = those of
-- them that also have a purchase event naming the product, or naming an order that contains the product.
-- view_to_purchase_rate = purchase_session_count / view_session_count (null without views), 4 decimals.
-- The funnel sums gold.session_products (one row per session and product, kept incrementally), so a build
-- reads it rather than grouping the whole clickstream by session again.
with products as (
  select * from gold.dim_products
  where is_current
),

line_items as (
  select product_id, order_id, quantity, net_amount, fx_rate_to_usd
  from gold.fact_order_line_items
  where not is_cancelled
),

sales as (
  select
    product_id,
    sum(quantity) as units_sold,
    count(distinct order_id) as order_count,
    sum(net_amount * fx_rate_to_usd) as revenue_usd
  from line_items
  group by product_id
),

funnel as (
  select
    product_id,
    sum(product_view_count) as product_view_count,
    sum(add_to_cart_count) as add_to_cart_count,
    sum(case when product_view_count > 0 then 1 else 0 end) as view_session_count,
    sum(case when product_view_count > 0 and is_purchased then 1 else 0 end) as purchase_session_count
  from gold.session_products
  group by product_id
),

final as (
  select
    products.product_id,
    products.sku,
    products.product_name,
    products.category,
    products.brand,
    products.is_active,
    cast(coalesce(sales.units_sold, 0) as integer) as units_sold,
    cast(coalesce(sales.order_count, 0) as integer) as order_count,
    cast(round(coalesce(sales.revenue_usd, 0), 2) as numeric(18, 2)) as revenue_usd,
    cast(coalesce(funnel.product_view_count, 0) as integer) as product_view_count,
    cast(coalesce(funnel.add_to_cart_count, 0) as integer) as add_to_cart_count,
    cast(coalesce(funnel.view_session_count, 0) as integer) as view_session_count,
    cast(coalesce(funnel.purchase_session_count, 0) as integer) as purchase_session_count,
    cast(
      round(cast(funnel.purchase_session_count as numeric(18, 6)) / nullif(funnel.view_session_count, 0), 4)
      as numeric(8, 4)
    ) as view_to_purchase_rate
  from products
  left join sales
    on products.product_id = sales.product_id
  left join funnel
    on products.product_id = funnel.product_id
)

select * from final
