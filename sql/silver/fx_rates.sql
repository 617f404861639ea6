-- grain: one row per rate date and currency (the latest version by updated_at)
-- test: not_null(rate_date, currency, rate_to_usd, _processed_at)
-- test: unique(rate_date, currency)
-- test: accepted_values(currency; USD, EUR, GBP, JPY, AUD)
-- test: expression(rate_to_usd > 0)
-- test: not_null(is_deleted, is_carried_forward)
-- test: expression(is_deleted = (deleted_at is not null))
-- A hard-deleted rate stays, flagged: is_deleted when its latest tombstone is newer than its latest version.
-- rate_to_usd: units of USD (the reporting currency) per one unit of currency.
-- is_carried_forward: the FX vendor published no rate for the day (a weekend, a holiday), so the rate is the last
-- published day's; a later publication of the day is a newer version and wins. Rows from the OLTP table lack the
-- column: false.
-- reads silver: deleted_keys holds the hard deletes the key reconciliation saw, for every table in one place
with source as (
  select * from bronze.fx_rates
),

renamed as (
  select
    {{ cast_column(fx_rates.rate_date) }} as rate_date,
    upper(trim(currency)) as currency,
    {{ cast_column(fx_rates.rate_to_usd) }} as rate_to_usd,
    coalesce({{ cast_column(fx_rates.is_carried_forward) }}, false) as is_carried_forward,
    {{ cast_column(fx_rates.created_at) }} as created_at,
    {{ cast_column(fx_rates.updated_at) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

ranked as (
  select
    renamed.*,
    row_number() over (
      partition by rate_date, currency
      order by updated_at desc, _ingested_at desc, _batch_id desc
    ) as version_rank
  from renamed
),

deletes as (
  select
    key_text,
    deleted_at
  from silver.deleted_keys
  where source = 'fx_rates'
),

final as (
  select
    rate_date,
    currency,
    rate_to_usd,
    is_carried_forward,
    created_at,
    updated_at,
    case when deletes.deleted_at > ranked.updated_at then true else false end as is_deleted,
    case when deletes.deleted_at > ranked.updated_at then deletes.deleted_at end as deleted_at,
    _batch_id,
    _ingested_at as _processed_at
  from ranked
  left join deletes
    on deletes.key_text = cast(ranked.rate_date as varchar(10)) || '|' || ranked.currency
  where version_rank = 1
)

select * from final
