-- grain: one row per extracted version of a daily FX rate (rate_date, currency)
-- Rows as received from the OLTP table fx_rates, or from the FX vendor when FX_SOURCE_URL is set
-- (jobs/contracts/source-tables.ts): every column is text; silver casts. is_carried_forward: the vendor's only (null
-- from the OLTP table).
create table if not exists bronze.fx_rates (
  rate_date varchar(65535),
  currency varchar(65535),
  rate_to_usd varchar(65535),
  created_at varchar(65535),
  updated_at varchar(65535),
  is_carried_forward varchar(65535),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
