-- grain: one row per sales date (UTC), every day from the earliest history date to the last live order date
-- reads gold: agg_daily_sales holds the live days under the one revenue rule (fact_orders) and its calendar
-- test: not_null(sales_date, source, order_count, is_fx_estimated)
-- test: unique(sales_date)
-- test: accepted_values(source; history, live)
-- test: expression(order_count >= 0 and (revenue_usd is null or revenue_usd >= 0))
-- test: expression(revenue_usd is not null or is_fx_estimated)
-- test: expression(source = 'history' or not is_fx_estimated)
-- source: 'live' from the first live order date on (gold.agg_daily_sales, every day to the last order date);
-- 'history' before it, from silver.sales_history (Snowflake, HISTORY_SOURCE_URL). A day is never both: history
-- rows on or after the first live order date are left out. A day before it without a history row counts zeros.
-- Without a history source (or without history before the live days) only the live days are here; without live
-- orders the history days run to the last history date.
-- History revenue is in each row's currency: converted at silver.fx_rates' rate of that day and currency (USD at 1).
-- Without one, at the nearest earlier rate of the currency, or its first rate when the day precedes them all, and
-- is_fx_estimated is set; a currency with no rate at all leaves the day's revenue_usd null (is_fx_estimated too).
-- Each (day, currency) amount is rounded to cents before the day's sum, as fact_orders rounds per order.
with recursive live as (
  select
    order_date,
    order_count,
    revenue_usd
  from gold.agg_daily_sales
),

live_bounds as (
  select
    min(order_date) as first_live_date,
    max(order_date) as last_live_date
  from live
),

history as (
  select
    sales_history.sales_date,
    sales_history.currency,
    sales_history.order_count,
    sales_history.revenue
  from silver.sales_history
  cross join live_bounds
  where live_bounds.first_live_date is null or sales_history.sales_date < live_bounds.first_live_date
),

rates as (
  select
    currency,
    rate_date,
    rate_to_usd
  from silver.fx_rates
  where not is_deleted
),

-- Each rate holds from its day until the next one of its currency; the first also covers every earlier day.
rate_spans as (
  select
    currency,
    rate_date,
    rate_to_usd,
    lead(rate_date) over (partition by currency order by rate_date) as next_rate_date,
    row_number() over (partition by currency order by rate_date) as rate_number
  from rates
),

converted as (
  select
    history.sales_date,
    history.order_count,
    case
      when history.currency = 'USD' then history.revenue
      else round(history.revenue * rate_spans.rate_to_usd, 2)
    end as revenue_usd,
    case
      when history.currency = 'USD' then 0
      when rate_spans.rate_date = history.sales_date then 0
      else 1
    end as is_estimated
  from history
  left join rate_spans
    on rate_spans.currency = history.currency
    and history.currency <> 'USD'
    and (
      (
        history.sales_date >= rate_spans.rate_date
        and (rate_spans.next_rate_date is null or history.sales_date < rate_spans.next_rate_date)
      )
      or (rate_spans.rate_number = 1 and history.sales_date < rate_spans.rate_date)
    )
),

history_days as (
  select
    sales_date,
    sum(order_count) as order_count,
    -- sum() skips nulls: a currency without any rate makes the whole day unknown, not smaller.
    case when count(revenue_usd) = count(*) then sum(revenue_usd) end as revenue_usd,
    max(is_estimated) as is_estimated
  from converted
  group by sales_date
),

history_bounds as (
  select
    min(history.sales_date) as first_date,
    coalesce(
      {{ add_days(max(live_bounds.first_live_date), -1) }},
      max(history.sales_date)
    ) as last_date
  from history
  cross join live_bounds
),

spine (sales_date, last_date) as (
  select first_date, last_date
  from history_bounds
  where first_date is not null
  union all
  select {{ add_days(sales_date, 1) }}, last_date
  from spine
  where sales_date < last_date
),

history_rows as (
  select
    spine.sales_date,
    cast('history' as varchar(7)) as source,
    cast(coalesce(history_days.order_count, 0) as integer) as order_count,
    cast(
      case when history_days.sales_date is null then 0 else history_days.revenue_usd end as numeric(18, 2)
    ) as revenue_usd,
    case when history_days.is_estimated = 1 then true else false end as is_fx_estimated
  from spine
  left join history_days
    on history_days.sales_date = spine.sales_date
),

live_rows as (
  select
    order_date as sales_date,
    cast('live' as varchar(7)) as source,
    cast(order_count as integer) as order_count,
    cast(revenue_usd as numeric(18, 2)) as revenue_usd,
    false as is_fx_estimated
  from live
),

final as (
  select * from history_rows
  union all
  select * from live_rows
)

select * from final
