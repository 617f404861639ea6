-- grain: one row per order date (UTC), every day from the first to the last order date: the customer KPI tiles
-- reads gold: fact_orders (cancelled excluded) and the dim_date spine, so these counts match the sales KPIs
-- test: not_null(order_date, new_customers, ordering_customers, first_time_customers, returning_customers)
-- test: unique(order_date)
-- test: expression(ordering_customers = first_time_customers + returning_customers)
-- new_customers: customers whose signed_up_at falls on the day. ordering_customers: distinct customers with a
-- non-cancelled order that day; first_time_customers of them placed their first non-cancelled order that day,
-- returning_customers had one on an earlier day. Customers deleted in the source are not counted as new.
with days as (
  select date_day from gold.dim_date
),

orders as (
  select * from gold.fact_orders
  where not is_cancelled
),

customers as (
  select * from silver.customers
  where not is_deleted
),

first_orders as (
  select
    customer_key,
    min(order_date) as first_order_date
  from orders
  group by customer_key
),

customer_days as (
  select distinct
    orders.order_date,
    orders.customer_key,
    case when orders.order_date = first_orders.first_order_date then 1 else 0 end as is_first_order_day
  from orders
  inner join first_orders
    on orders.customer_key = first_orders.customer_key
),

daily_ordering as (
  select
    order_date,
    count(*) as ordering_customers,
    sum(is_first_order_day) as first_time_customers
  from customer_days
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
    cast(coalesce(daily_signups.new_customers, 0) as integer) as new_customers,
    cast(coalesce(daily_ordering.ordering_customers, 0) as integer) as ordering_customers,
    cast(coalesce(daily_ordering.first_time_customers, 0) as integer) as first_time_customers,
    cast(coalesce(daily_ordering.ordering_customers - daily_ordering.first_time_customers, 0) as integer)
      as returning_customers
  from days
  left join daily_ordering
    on days.date_day = daily_ordering.order_date
  left join daily_signups
    on days.date_day = daily_signups.signup_date
)

select * from final
