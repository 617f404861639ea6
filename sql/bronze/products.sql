-- grain: one row per extracted version of a product (a product extracted after each change has one row per extraction)
-- Rows as received from the OLTP table products (jobs/contracts/source-tables.ts): every column is text; silver casts.
create table if not exists bronze.products (
  product_id varchar(65535),
  sku varchar(65535),
  product_name varchar(65535),
  category varchar(65535),
  brand varchar(65535),
  unit_price varchar(65535),
  currency varchar(65535),
  is_active varchar(65535),
  created_at varchar(65535),
  updated_at varchar(65535),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
