-- grain: one row per extracted association of a CRM contact with a company and type, as read with a contact version
-- Rows as received from the CRM stream crm_contact_companies (jobs/contracts/crm-streams.ts; HubSpot's v4
-- associations of contacts to companies): every column is text; silver casts. hs_lastmodifieddate is the contact's,
-- so the rows sharing it are the contact's companies when that version was read.
create table if not exists bronze.crm_contact_companies (
  contact_id varchar(65535),
  company_id varchar(65535),
  association_type_id varchar(65535),
  association_category varchar(65535),
  association_label varchar(65535),
  hs_lastmodifieddate varchar(65535),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
