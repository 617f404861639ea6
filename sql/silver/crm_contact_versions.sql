-- grain: one row per distinct version of a CRM contact (contact_id, updated_at = hs_lastmodifieddate), the CRM side of the SCD2 dim_customers
-- test: not_null(contact_id, updated_at, created_at, version_number, _processed_at)
-- test: unique(contact_id, updated_at)
-- test: unique(contact_id, version_number)
-- test: expression(version_number >= 1)
-- test[warn]: accepted_values(lifecycle_stage; subscriber, lead, marketingqualifiedlead, salesqualifiedlead, opportunity, customer, evangelist, other)
-- test[warn]: expression(email_masked is null or email_masked like '_***@_%')
-- No clear email: bronze has only its keyed hash (email_hash, the same hash as customers', the link to a
-- customer) and mask; the clear value is in the restricted pii.crm_contacts.
-- lifecycle_stage lower-cased, blank as null; a portal's own stages (internal ids) pass, warned.
-- company_id: the contact's company in the association set read with this version, or when none was read with
-- it the latest set read before (the two streams are read one after the other): the primary company, else the
-- lowest id. A version extracted twice (same updated_at, two batches) counts once: the latest load of it wins.
-- reads silver: crm_contact_companies already casts and deduplicates the association sets per contact version
with source as (
  select * from bronze.crm_contacts
),

renamed as (
  select
    {{ cast_column(crm_contacts.id) }} as contact_id,
    email_hash,
    email_masked,
    lower(nullif({{ cast_column(crm_contacts.lifecyclestage) }}, '')) as lifecycle_stage,
    {{ cast_column(crm_contacts.createdate) }} as created_at,
    {{ cast_column(crm_contacts.hs_lastmodifieddate) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

deduplicated as (
  select
    renamed.*,
    row_number() over (
      partition by contact_id, updated_at
      order by _ingested_at desc, _batch_id desc
    ) as load_rank
  from renamed
),

versions as (
  select
    deduplicated.*,
    cast(row_number() over (partition by contact_id order by updated_at) as integer) as version_number
  from deduplicated
  where load_rank = 1
),

company_sets as (
  select
    contact_id,
    updated_at,
    company_id,
    row_number() over (
      partition by contact_id, updated_at
      order by case when is_primary then 0 else 1 end, company_id
    ) as company_rank
  from silver.crm_contact_companies
),

set_companies as (
  select
    contact_id,
    updated_at,
    company_id
  from company_sets
  where company_rank = 1
),

as_of as (
  select
    versions.contact_id,
    versions.updated_at,
    set_companies.company_id,
    row_number() over (
      partition by versions.contact_id, versions.updated_at
      order by set_companies.updated_at desc
    ) as set_rank
  from versions
  join set_companies
    on set_companies.contact_id = versions.contact_id
    and set_companies.updated_at <= versions.updated_at
),

final as (
  select
    versions.contact_id,
    versions.version_number,
    versions.email_hash,
    versions.email_masked,
    versions.lifecycle_stage,
    as_of.company_id,
    versions.created_at,
    versions.updated_at,
    versions._batch_id,
    versions._ingested_at as _processed_at
  from versions
  left join as_of
    on as_of.contact_id = versions.contact_id
    and as_of.updated_at = versions.updated_at
    and as_of.set_rank = 1
)

select * from final
