-- grain: one row per extracted version of a CRM contact, as received, clear email included
-- The restricted copy of the crm_contacts rows (schema pii: only the data_engineer role reads it). The load job
-- copies each staged batch here, then into bronze.crm_contacts without the clear email. Look a contact up by id,
-- or by email_hash, the keyed hash gold's dim_customers links customers and contacts by.
create table if not exists pii.crm_contacts (
  id varchar(65535),
  email varchar(65535),
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
