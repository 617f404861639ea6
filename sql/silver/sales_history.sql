-- grain: one row per historical sales day and currency (its latest version by updated_at)
-- test: not_null(sales_date, currency, order_count, revenue, updated_at, _processed_at)
-- test: unique(sales_date, currency)
-- test: accepted_values(currency; USD, EUR, GBP, JPY, AUD)
-- test: expression(order_count >= 0 and revenue >= 0)
-- Snowflake's DAILY_SALES_HISTORY (HISTORY_SOURCE_URL): revenue in the day's currency, cancelled orders left out.
-- No key reconciliation reads Snowflake, so a row deleted there stays here: history is corrected, not deleted.
with source as (
  select * from bronze.sales_history
),

renamed as (
  select
    {{ cast_column(sales_history.sales_date) }} as sales_date,
    upper({{ cast_column(sales_history.currency) }}) as currency,
    {{ cast_column(sales_history.order_count) }} as order_count,
    {{ cast_column(sales_history.revenue) }} as revenue,
    {{ cast_column(sales_history.updated_at) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

ranked as (
  select
    renamed.*,
    row_number() over (
      partition by sales_date, currency
      order by updated_at desc, _ingested_at desc, _batch_id desc
    ) as version_rank
  from renamed
),

final as (
  select
    sales_date,
    currency,
    order_count,
    revenue,
    updated_at,
    _batch_id,
    _ingested_at as _processed_at
  from ranked
  where version_rank = 1
)

select * from final
