-- grain: one row per extracted version of an order (an order extracted as pending, then shipped, has two rows)
-- Rows as received from the OLTP table orders (jobs/contracts/source-tables.ts): every column is text; silver casts.
create table if not exists bronze.orders (
  order_id varchar(65535),
  customer_id varchar(65535),
  ordered_at varchar(65535),
  status varchar(65535),
  channel varchar(65535),
  currency varchar(65535),
  shipping_amount varchar(65535),
  created_at varchar(65535),
  updated_at varchar(65535),
  customer_key varchar(64),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
