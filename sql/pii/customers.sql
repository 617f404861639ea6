-- grain: one row per extracted version of a customer, as received, clear personal data included
-- The restricted copy of the customers rows (schema pii: only the data_engineer role reads it; gold, analyst and
-- BI paths never do). The load job copies each staged batch here, then into bronze.customers without the clear
-- columns (email, phone, first_name, last_name, street_address). Look a person up by customer_id, or by
-- customer_key, the keyed hash gold carries.
create table if not exists pii.customers (
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
