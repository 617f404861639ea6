-- grain: one row per calendar day from the first to the last order date (UTC), gaps included
-- test: not_null(date_day, year, month, day_of_month, day_of_week, is_weekend)
-- test: unique(date_day)
-- test: expression(day_of_week between 0 and 6)
-- A recursive CTE, not generate_series: Redshift runs generate_series only on the leader node.
-- day_of_week: 0 = Sunday … 6 = Saturday (extract(dow), the same on both engines).
-- Orders deleted in the source do not stretch the calendar: the daily tables would show them as quiet days.
with recursive order_dates as (
  select cast(ordered_at as date) as order_date from silver.orders
  where not is_deleted
),

bounds as (
  select
    min(order_date) as first_date,
    max(order_date) as last_date
  from order_dates
),

spine (date_day, last_date) as (
  select first_date, last_date
  from bounds
  where first_date is not null
  union all
  select {{ add_days(date_day, 1) }}, last_date
  from spine
  where date_day < last_date
),

final as (
  select
    date_day,
    cast(extract(year from date_day) as integer) as year,
    cast(extract(month from date_day) as integer) as month,
    cast(extract(day from date_day) as integer) as day_of_month,
    cast(extract(dow from date_day) as integer) as day_of_week,
    cast(date_trunc('week', date_day) as date) as week_start_date,
    cast(date_trunc('month', date_day) as date) as month_start_date,
    case when extract(dow from date_day) in (0, 6) then true else false end as is_weekend
  from spine
)

select * from final
