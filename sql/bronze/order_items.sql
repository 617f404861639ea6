-- grain: one row per extracted version of an order line
-- Rows as received from the OLTP table order_items (jobs/contracts/source-tables.ts): every column is text; silver casts.
create table if not exists bronze.order_items (
  order_item_id varchar(65535),
  order_id varchar(65535),
  product_id varchar(65535),
  quantity varchar(65535),
  unit_price varchar(65535),
  discount_amount varchar(65535),
  created_at varchar(65535),
  updated_at varchar(65535),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
