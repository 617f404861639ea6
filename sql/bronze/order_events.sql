-- grain: one row per received order event message (a redelivered event appears once per delivery)
-- Rows as received from the order-events topic (jobs/contracts/event-topics.ts): every column is text; silver casts.
create table if not exists bronze.order_events (
  event_id varchar(65535),
  event_type varchar(65535),
  occurred_at varchar(65535),
  order_id varchar(65535),
  status varchar(65535),
  schema_version varchar(65535),
  order_total varchar(65535),
  currency varchar(65535),
  _stream_partition varchar(16),
  _stream_offset varchar(32),
  _published_at varchar(64),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
