-- grain: one row per CRM contact, contact version (updated_at) and associated company: the contact's companies as read with that version
-- test: not_null(contact_id, updated_at, company_id, is_primary, is_current, _processed_at)
-- test: unique(contact_id, updated_at, company_id)
-- updated_at is the contact's hs_lastmodifieddate the association stream was read at, so the rows of one
-- (contact_id, updated_at) are the contact's whole company set then; is_current marks the contact's latest set.
-- is_primary: HubSpot's primary company association (type 1, HUBSPOT_DEFINED) is among the pair's types.
-- A version read twice (the extract's lookback) keeps the set of its latest load, so an association removed
-- between two reads of the same version is not kept.
-- A contact whose last company was removed leaves no row at all (HubSpot answers no association): its latest
-- set stays the last one read (adapters/source/hubspot.ts).
with source as (
  select * from bronze.crm_contact_companies
),

renamed as (
  select
    {{ cast_column(crm_contact_companies.contact_id) }} as contact_id,
    {{ cast_column(crm_contact_companies.company_id) }} as company_id,
    {{ cast_column(crm_contact_companies.association_type_id) }} as association_type_id,
    upper({{ cast_column(crm_contact_companies.association_category) }}) as association_category,
    nullif({{ cast_column(crm_contact_companies.association_label) }}, '') as association_label,
    {{ cast_column(crm_contact_companies.hs_lastmodifieddate) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

loads as (
  select
    contact_id,
    updated_at,
    _batch_id,
    max(_ingested_at) as _ingested_at
  from renamed
  group by contact_id, updated_at, _batch_id
),

latest_loads as (
  select
    loads.*,
    row_number() over (
      partition by contact_id, updated_at
      order by _ingested_at desc, _batch_id desc
    ) as load_rank
  from loads
),

pairs as (
  select
    renamed.contact_id,
    renamed.updated_at,
    renamed.company_id,
    max(case
      when renamed.association_type_id = 1 and renamed.association_category = 'HUBSPOT_DEFINED' then 1
      else 0
    end) as primary_flag,
    max(renamed.association_label) as association_label,
    max(renamed._batch_id) as _batch_id,
    max(renamed._ingested_at) as _processed_at
  from renamed
  join latest_loads
    on latest_loads.contact_id = renamed.contact_id
    and latest_loads.updated_at = renamed.updated_at
    and latest_loads._batch_id = renamed._batch_id
  where latest_loads.load_rank = 1
  group by renamed.contact_id, renamed.updated_at, renamed.company_id
),

final as (
  select
    contact_id,
    updated_at,
    company_id,
    case when primary_flag = 1 then true else false end as is_primary,
    association_label,
    case
      when updated_at = max(updated_at) over (partition by contact_id) then true else false
    end as is_current,
    _batch_id,
    _processed_at
  from pairs
)

select * from final
