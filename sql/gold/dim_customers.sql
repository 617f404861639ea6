-- grain: one row per customer version (SCD type 2 over the shop and the CRM): a new version at each shop version and at each change of the linked CRM contact's lifecycle stage or company
-- test: not_null(customer_sk, customer_id, customer_key, version_number, email_hash, email_masked, valid_from, is_current)
-- test: unique(customer_sk)
-- test: unique(customer_id, version_number)
-- test: unique(customer_id, valid_from)
-- test: expression(valid_to is null or valid_to > valid_from)
-- test: expression(is_current = (valid_to is null))
-- test: not_null(is_deleted)
-- test: expression(not (is_deleted and is_current))
-- test: expression(is_current = (version_number = version_count and not is_deleted))
-- test[warn]: accepted_values(lifecycle_stage; subscriber, lead, marketingqualifiedlead, salesqualifiedlead, opportunity, customer, evangelist, other)
-- One current row per customer that is not deleted, and none for a deleted one: the last version (version_count
-- versions in all) is current unless the customer was deleted (the last expression test holds it).
-- A key deleted in the source has no current version: its last one is closed at the deletion (valid_to =
-- deleted_at, is_deleted), so point-in-time joins still find it for what happened before.
-- The CRM link (jobs/contracts/crm-streams.ts): the CRM contact whose current email_hash is the customer's current
-- email_hash (the lowest contact_id if several). A CRM change before the customer's first shop version folds into
-- that version, one after its deletion is left out. Only lifecycle_stage and company_id version the row;
-- company_name is the company's current name (a renamed company renames every version). Without a CRM (or a
-- contact) the CRM columns are null and the versions are exactly the shop's.
-- No PII in clear (invariant 4): email and street address only as keyed hashes, email and phone masked,
-- names dropped. customer_key joins facts to this dimension without exposing customer_id's source row.
-- The hashes and masks come from silver (derived while rows were validated): no model sees the PII key.
with versions as (
  select * from silver.customer_versions
),

contact_versions as (
  select * from silver.crm_contact_versions
),

contacts as (
  select * from silver.crm_contacts
),

companies as (
  select * from silver.crm_companies
),

latest_versions as (
  select
    customer_id,
    email_hash,
    deleted_at
  from versions
  where version_number = latest_version_number
),

first_versions as (
  select
    customer_id,
    updated_at as first_updated_at
  from versions
  where version_number = 1
),

links as (
  select
    latest_versions.customer_id,
    contacts.contact_id,
    row_number() over (partition by latest_versions.customer_id order by contacts.contact_id) as link_rank
  from latest_versions
  join contacts
    on contacts.email_hash = latest_versions.email_hash
),

contact_states as (
  select
    links.customer_id,
    contact_versions.contact_id,
    contact_versions.updated_at as changed_at,
    contact_versions.lifecycle_stage,
    contact_versions.company_id,
    lag(contact_versions.lifecycle_stage) over (
      partition by contact_versions.contact_id order by contact_versions.updated_at
    ) as previous_stage,
    lag(contact_versions.company_id) over (
      partition by contact_versions.contact_id order by contact_versions.updated_at
    ) as previous_company_id,
    contact_versions.version_number as contact_version_number
  from links
  join contact_versions
    on contact_versions.contact_id = links.contact_id
  where links.link_rank = 1
),

-- A contact version changing neither tracked attribute (its name, say) makes no customer version.
crm_changes as (
  select
    customer_id,
    contact_id,
    changed_at,
    lifecycle_stage,
    company_id
  from contact_states
  where contact_version_number = 1
    or coalesce(lifecycle_stage, '') <> coalesce(previous_stage, '')
    or coalesce(company_id, -1) <> coalesce(previous_company_id, -1)
),

change_points as (
  select
    customer_id,
    updated_at as valid_from
  from versions
  union
  select
    crm_changes.customer_id,
    crm_changes.changed_at as valid_from
  from crm_changes
  join first_versions
    on first_versions.customer_id = crm_changes.customer_id
  join latest_versions
    on latest_versions.customer_id = crm_changes.customer_id
  where crm_changes.changed_at > first_versions.first_updated_at
    and (latest_versions.deleted_at is null or crm_changes.changed_at < latest_versions.deleted_at)
),

shop_as_of as (
  select
    change_points.customer_id,
    change_points.valid_from,
    versions.version_number as shop_version_number,
    row_number() over (
      partition by change_points.customer_id, change_points.valid_from
      order by versions.updated_at desc
    ) as shop_rank
  from change_points
  join versions
    on versions.customer_id = change_points.customer_id
    and versions.updated_at <= change_points.valid_from
),

crm_as_of as (
  select
    change_points.customer_id,
    change_points.valid_from,
    crm_changes.contact_id,
    crm_changes.lifecycle_stage,
    crm_changes.company_id,
    row_number() over (
      partition by change_points.customer_id, change_points.valid_from
      order by crm_changes.changed_at desc
    ) as crm_rank
  from change_points
  join crm_changes
    on crm_changes.customer_id = change_points.customer_id
    and crm_changes.changed_at <= change_points.valid_from
),

ranged as (
  select
    change_points.customer_id,
    change_points.valid_from,
    lead(change_points.valid_from) over (
      partition by change_points.customer_id order by change_points.valid_from
    ) as next_valid_from,
    cast(row_number() over (
      partition by change_points.customer_id order by change_points.valid_from
    ) as integer) as version_number,
    cast(count(*) over (partition by change_points.customer_id) as integer) as version_count,
    shop_as_of.shop_version_number,
    crm_as_of.contact_id,
    crm_as_of.lifecycle_stage,
    crm_as_of.company_id
  from change_points
  join shop_as_of
    on shop_as_of.customer_id = change_points.customer_id
    and shop_as_of.valid_from = change_points.valid_from
    and shop_as_of.shop_rank = 1
  left join crm_as_of
    on crm_as_of.customer_id = change_points.customer_id
    and crm_as_of.valid_from = change_points.valid_from
    and crm_as_of.crm_rank = 1
),

final as (
  select
    md5(cast(ranged.customer_id as varchar(20)) || ':' || cast(ranged.version_number as varchar(20)))
      as customer_sk,
    ranged.customer_id,
    versions.customer_key,
    ranged.version_number,
    versions.email_hash,
    versions.email_masked,
    versions.phone_masked,
    versions.street_address_hash,
    versions.city,
    versions.country_code,
    versions.loyalty_tier,
    versions.signed_up_at,
    ranged.valid_from,
    case
      when ranged.next_valid_from is not null then ranged.next_valid_from
      else latest_versions.deleted_at
    end as valid_to,
    case
      when ranged.next_valid_from is null and latest_versions.deleted_at is null then true
      else false
    end as is_current,
    case
      when ranged.next_valid_from is null and latest_versions.deleted_at is not null then true
      else false
    end as is_deleted,
    ranged.version_count,
    ranged.contact_id as crm_contact_id,
    ranged.lifecycle_stage,
    ranged.company_id,
    companies.company_name
  from ranged
  join versions
    on versions.customer_id = ranged.customer_id
    and versions.version_number = ranged.shop_version_number
  join latest_versions
    on latest_versions.customer_id = ranged.customer_id
  left join companies
    on companies.company_id = ranged.company_id
)

select * from final
