-- grain: one row per extracted version of a CRM contact (HubSpot contacts, by id and hs_lastmodifieddate)
-- Rows as received from the CRM stream crm_contacts (jobs/contracts/crm-streams.ts): every column is text; silver
-- casts. Without the clear email: it lands only in pii.crm_contacts (sql/pii/crm_contacts.sql); here are its keyed
-- hash (the same hash as customers.email_hash, which links a contact to a customer) and mask.
create table if not exists bronze.crm_contacts (
  id varchar(65535),
  lifecyclestage varchar(65535),
  createdate varchar(65535),
  hs_lastmodifieddate varchar(65535),
  email_hash varchar(64),
  email_masked varchar(65535),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
