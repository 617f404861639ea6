-- grain: one row per received clickstream event message (a redelivered event appears once per delivery)
-- Rows as received from the clickstream topic (jobs/contracts/event-topics.ts): every column is text; silver casts.
create table if not exists bronze.clickstream_events (
  event_id varchar(65535),
  event_type varchar(65535),
  occurred_at varchar(65535),
  session_id varchar(65535),
  customer_id varchar(65535),
  device varchar(65535),
  page_url varchar(65535),
  product_id varchar(65535),
  quantity varchar(65535),
  order_id varchar(65535),
  utm_source varchar(65535),
  utm_medium varchar(65535),
  utm_campaign varchar(65535),
  customer_key varchar(64),
  _stream_partition varchar(16),
  _stream_offset varchar(32),
  _published_at varchar(64),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
