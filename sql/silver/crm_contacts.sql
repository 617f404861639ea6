-- grain: one row per CRM contact (its latest version by updated_at, HubSpot's hs_lastmodifieddate)
-- test: not_null(contact_id, version_number, created_at, updated_at, _processed_at)
-- test: unique(contact_id)
-- The latest of silver.crm_contact_versions (versions numbered by updated_at, each the latest load of it), with
-- the company it was associated with then. The CRM has no hard-delete feed here (no key reconciliation reads
-- HubSpot), so no is_deleted.
-- reads silver: crm_contact_versions already casts, deduplicates and numbers every loaded version; the current row is its last
with versions as (
  select * from silver.crm_contact_versions
),

ranked as (
  select
    versions.*,
    row_number() over (partition by contact_id order by version_number desc) as version_rank
  from versions
),

final as (
  select
    contact_id,
    version_number,
    email_hash,
    email_masked,
    lifecycle_stage,
    company_id,
    created_at,
    updated_at,
    _batch_id,
    _processed_at
  from ranked
  where version_rank = 1
)

select * from final
