-- grain: one row per extracted version of a CRM company (HubSpot companies, by id and hs_lastmodifieddate)
-- Rows as received from the CRM stream crm_companies (jobs/contracts/crm-streams.ts): every column is text; silver casts.
create table if not exists bronze.crm_companies (
  id varchar(65535),
  name varchar(65535),
  domain varchar(65535),
  industry varchar(65535),
  createdate varchar(65535),
  hs_lastmodifieddate varchar(65535),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
