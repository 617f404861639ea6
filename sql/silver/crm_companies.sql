-- grain: one row per CRM company (its latest version by updated_at, HubSpot's hs_lastmodifieddate)
-- test: not_null(company_id, created_at, updated_at, _processed_at)
-- test: unique(company_id)
-- The CRM has no hard-delete feed here (HubSpot archives; no key reconciliation reads it), so no is_deleted.
with source as (
  select * from bronze.crm_companies
),

renamed as (
  select
    {{ cast_column(crm_companies.id) }} as company_id,
    nullif({{ cast_column(crm_companies.name) }}, '') as company_name,
    lower(nullif({{ cast_column(crm_companies.domain) }}, '')) as domain,
    nullif({{ cast_column(crm_companies.industry) }}, '') as industry,
    {{ cast_column(crm_companies.createdate) }} as created_at,
    {{ cast_column(crm_companies.hs_lastmodifieddate) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

ranked as (
  select
    renamed.*,
    row_number() over (
      partition by company_id
      order by updated_at desc, _ingested_at desc, _batch_id desc
    ) as version_rank
  from renamed
),

final as (
  select
    company_id,
    company_name,
    domain,
    industry,
    created_at,
    updated_at,
    _batch_id,
    _ingested_at as _processed_at
  from ranked
  where version_rank = 1
)

select * from final
