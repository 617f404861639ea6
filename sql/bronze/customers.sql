-- grain: one row per extracted version of a customer (a customer extracted after each change has one row per extraction)
-- Rows as received from the OLTP table customers (jobs/contracts/source-tables.ts): every column is text; silver casts.
-- Without the clear personal data (email, phone, names, street address): those land only in pii.customers
-- (sql/pii/customers.sql); here are their keyed hashes and masks, derived during validation.
create table if not exists bronze.customers (
  customer_id varchar(65535),
  city varchar(65535),
  country_code varchar(65535),
  loyalty_tier varchar(65535),
  signed_up_at varchar(65535),
  created_at varchar(65535),
  updated_at varchar(65535),
  customer_key varchar(64),
  email_hash varchar(64),
  email_masked varchar(65535),
  phone_masked varchar(65535),
  street_address_hash varchar(64),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
