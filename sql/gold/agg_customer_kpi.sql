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
  select order_date, customer_key from gold.fact_orders
  where not is_cancelled
),

customers as (
  select signed_up_at from silver.customers
  where not is_deleted
),

customer_days as (
  select order_date, customer_key
  from orders
  group by order_date, customer_key
),

daily_ordering as (
  select
    order_date,
    count(customer_key) as ordering_customers
  from customer_days
  group by order_date
),

-- A customer is first-time on exactly one day, the day of their first order: count them there, no join back.
daily_first_time as (
  select
    first_order_date,
    count(*) as first_time_customers
  from (
    select min(order_date) as first_order_date
    from orders
    where customer_key is not null
    group by customer_key
  ) as first_orders
  group by first_order_date
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
    cast(coalesce(daily_first_time.first_time_customers, 0) as integer) as first_time_customers,
    cast(
      coalesce(daily_ordering.ordering_customers, 0) - coalesce(daily_first_time.first_time_customers, 0) as integer
    ) as returning_customers
  from days
  left join daily_ordering
    on days.date_day = daily_ordering.order_date
  left join daily_first_time
    on days.date_day = daily_first_time.first_order_date
  left join daily_signups
    on days.date_day = daily_signups.signup_date
)

select * from final
