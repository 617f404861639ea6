-- grain: one row per customer (their current version), with an RFM-style segment
-- reads gold: dim_customers' current rows and fact_orders' revenue rule, so segments agree with the KPIs
-- test: not_null(customer_key, customer_id, order_count, revenue_usd, segment, as_of_date)
-- test: unique(customer_key)
-- test: accepted_values(segment; prospect, new, loyal, champion, at_risk, lost)
-- test: expression(order_count = 0 or (first_order_date <= last_order_date and recency_days >= 0))
-- Deterministic: recency is measured from as_of_date = the latest order date in the data, never from now().
-- Rules, first match wins: no non-cancelled order → prospect; last order more than 60 days before as_of_date →
-- lost; more than 30 days → at_risk; 5+ orders or revenue_usd >= 1000 → champion; 2+ orders → loyal; else new.
with customers as (
  select * from gold.dim_customers
  where is_current
),

orders as (
  select * from gold.fact_orders
  where not is_cancelled
),

as_of as (
  select max(order_date) as as_of_date from gold.fact_orders
),

customer_orders as (
  select
    customer_key,
    count(*) as order_count,
    sum(net_amount_usd) as revenue_usd,
    min(order_date) as first_order_date,
    max(order_date) as last_order_date
  from orders
  group by customer_key
),

scored as (
  select
    customers.customer_key,
    customers.customer_id,
    customers.country_code,
    customers.loyalty_tier,
    customers.signed_up_at,
    coalesce(customer_orders.order_count, 0) as order_count,
    coalesce(customer_orders.revenue_usd, 0) as revenue_usd,
    customer_orders.first_order_date,
    customer_orders.last_order_date,
    as_of.as_of_date,
    {{ days_between(customer_orders.last_order_date, as_of.as_of_date) }} as recency_days
  from customers
  cross join as_of
  left join customer_orders
    on customers.customer_key = customer_orders.customer_key
),

final as (
  select
    customer_key,
    customer_id,
    country_code,
    loyalty_tier,
    signed_up_at,
    cast(order_count as integer) as order_count,
    cast(revenue_usd as numeric(18, 2)) as revenue_usd,
    cast(round(revenue_usd / nullif(order_count, 0), 2) as numeric(18, 2)) as aov_usd,
    first_order_date,
    last_order_date,
    recency_days,
    case
      when order_count = 0 then 'prospect'
      when recency_days > 60 then 'lost'
      when recency_days > 30 then 'at_risk'
      when order_count >= 5 or revenue_usd >= 1000 then 'champion'
      when order_count >= 2 then 'loyal'
      else 'new'
    end as segment,
    as_of_date
  from scored
)

select * from final
