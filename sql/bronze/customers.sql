-- grain: one row per extracted version of a customer (a customer extracted after each change has one row per extraction)
-- Rows as received from the OLTP table customers (jobs/contracts/source-tables.ts): every column is text; silver casts.
create table if not exists bronze.customers (
  customer_id varchar(65535),
  email varchar(65535),
  phone varchar(65535),
  first_name varchar(65535),
  last_name varchar(65535),
  street_address varchar(65535),
  city varchar(65535),
  country_code varchar(65535),
  loyalty_tier varchar(65535),
  signed_up_at varchar(65535),
  created_at varchar(65535),
  updated_at varchar(65535),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
